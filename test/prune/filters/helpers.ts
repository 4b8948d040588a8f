import { type CnnModel, create } from '../../../src/cnn/api.js';
import type { Layer } from '../../../src/cnn/config.js';

// Shared with the ResRep tests: one copy of the session options, the config maker, the BN
// randomiser, the image maker and max-diff.
import { tinyConfig as config } from '../resrep/helpers.js';

export { images, maxDiff, randomizeBn, SESSION } from '../resrep/helpers.js';
export { config };

const bn = (name: string, input: string): Layer => ({ kind: 'bn', name, input, eps: 1e-5, momentum: 0.1 });
const conv = (name: string, input: string, out: number, kernel = 1, bias = false): Layer => ({
  kind: 'conv',
  name,
  input,
  out,
  kernel,
  stride: 1,
  pad: (kernel - 1) >> 1,
  bias,
});

/** conv a (C→D, 1×1) → BN → ReLU → conv b (D→2, 1×1, bias) → GAP → flatten → fc: §9 test 11's layer and its consumer. */
export function producerConsumer(c = 2, d = 3): CnnModel {
  return create(
    config('pc', c, 4, [
      conv('a', 'input', d),
      bn('bn_a', 'a'),
      { kind: 'relu', name: 'relu_a', input: 'bn_a' },
      conv('b', 'relu_a', 2, 1, true),
      { kind: 'gap', name: 'pool', input: 'b' },
      { kind: 'flatten', name: 'flatten', input: 'pool' },
      { kind: 'linear', name: 'fc', input: 'flatten', out: 10, bias: true },
    ]),
  );
}

/** A chain conv0 (1→2) → conv1 (2→2) → conv2 (2→2) → GAP → fc, no BN: greedy vs independent ranking. */
export function chain(): CnnModel {
  return create(
    config('chain', 1, 4, [
      conv('conv0', 'input', 2),
      { kind: 'relu', name: 'r0', input: 'conv0' },
      conv('conv1', 'r0', 2),
      { kind: 'relu', name: 'r1', input: 'conv1' },
      conv('conv2', 'r1', 2),
      { kind: 'relu', name: 'r2', input: 'conv2' },
      { kind: 'gap', name: 'pool', input: 'r2' },
      { kind: 'flatten', name: 'flatten', input: 'pool' },
      { kind: 'linear', name: 'fc', input: 'flatten', out: 10, bias: true },
    ]),
  );
}

/** Sets a parameter's values. */
export function set(m: CnnModel, name: string, values: number[]): void {
  const t = m.params[name];
  if (!t || t.data.length !== values.length) throw new Error(`${name}: ${t?.data.length} values, got ${values.length}`);
  t.data.set(values);
}
