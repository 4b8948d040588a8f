import { type CnnModel, create } from '../../../src/cnn/api.js';
import type { CnnConfig, Layer } from '../../../src/cnn/config.js';
import type { Rng } from '../../../src/tensor/rng.js';
import { type Tensor, tensor } from '../../../src/tensor/tensor.js';

/** Tests run ORT single-threaded (deterministic, and kind to a shared 2-core machine). */
export const SESSION = { intraOpThreads: 1 } as const;

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

export function config(name: string, inChans: number, size: number, layers: Layer[], output = (layers.at(-1) as Layer).name): CnnConfig {
  return { kind: 'cnn', name, inChans, imageSize: size, numClasses: 10, layers, output };
}

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

/** Random BN statistics/affines and biases, so a zeroed filter does not give a zero channel by accident. */
export function randomizeBn(m: CnnModel, rng: Rng): CnnModel {
  for (const [k, t] of Object.entries(m.params)) {
    const d = t.data;
    if (k.endsWith('running_var')) for (let i = 0; i < d.length; i++) d[i] = rng.uniform(0.5, 1.5);
    else if (k.endsWith('running_mean') || k.endsWith('.bias')) for (let i = 0; i < d.length; i++) d[i] = rng.uniform(-0.5, 0.5);
    else if (t.dims.length === 1) for (let i = 0; i < d.length; i++) d[i] = rng.uniform(0.5, 1.5);
  }
  return m;
}

export function images(rng: Rng, b: number, c: number, s: number): Tensor<'float32'> {
  return tensor(rng.fillNormal(new Float32Array(b * c * s * s)), [b, c, s, s], 'float32');
}

/** max |a − b| and max |a|. */
export function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): { diff: number; ref: number } {
  let diff = 0;
  let ref = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs((a[i] as number) - (b[i] as number)));
    ref = Math.max(ref, Math.abs(a[i] as number));
  }
  return { diff, ref };
}

/** Sets a parameter's values. */
export function set(m: CnnModel, name: string, values: number[]): void {
  const t = m.params[name];
  if (!t || t.data.length !== values.length) throw new Error(`${name}: ${t?.data.length} values, got ${values.length}`);
  t.data.set(values);
}
