import type { CnnModel } from '../../../src/cnn/api.js';
import { create } from '../../../src/cnn/api.js';
import type { CnnConfig, Layer } from '../../../src/cnn/config.js';
import { Rng } from '../../../src/tensor/rng.js';
import { type Tensor, tensor } from '../../../src/tensor/tensor.js';

/** Tests run ORT single-threaded (deterministic, and kind to a shared 2-core machine). */
export const SESSION = { intraOpThreads: 1 } as const;

/** A small custom CNN config: `layers` read 'input' ([inChans, size, size]); `output` names the last layer. */
export function tinyConfig(name: string, inChans: number, size: number, layers: Layer[], output = (layers.at(-1) as Layer).name): CnnConfig {
  return { kind: 'cnn', name, inChans, imageSize: size, numClasses: 10, layers, output };
}

/** Random BN statistics/affines and biases, so folds are not identities. */
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

/** conv(C→D, 3×3, stride 2, pad 1) → BN → ReLU → conv(D→4, 3×3, pad 1, bias): §9 tests 3 and 4. */
export function convBnReluConv(c = 5, d = 6, size = 9, seed = 0): CnnModel {
  const cfg = tinyConfig('t3', c, size, [
    { kind: 'conv', name: 'a', input: 'input', out: d, kernel: 3, stride: 2, pad: 1, bias: false },
    { kind: 'bn', name: 'bn', input: 'a', eps: 1e-5, momentum: 0.1 },
    { kind: 'relu', name: 'relu', input: 'bn' },
    { kind: 'conv', name: 'b', input: 'relu', out: 4, kernel: 3, stride: 1, pad: 1, bias: true },
  ]);
  return randomizeBn(create(cfg, { seed }), new Rng(seed + 100));
}

/** A trainable classifier on 1×8×8 images: conv→BN→ReLU ×2 → GAP → linear; both convs prunable. */
export function tinyClassifier(seed = 0): CnnModel {
  const bn = (name: string, input: string): Layer => ({ kind: 'bn', name, input, eps: 1e-5, momentum: 0.1 });
  const cfg = tinyConfig('tiny-cls', 1, 8, [
    { kind: 'conv', name: 'a', input: 'input', out: 6, kernel: 3, stride: 1, pad: 1, bias: false },
    bn('bn_a', 'a'),
    { kind: 'relu', name: 'relu_a', input: 'bn_a' },
    { kind: 'conv', name: 'b', input: 'relu_a', out: 8, kernel: 3, stride: 2, pad: 1, bias: false },
    bn('bn_b', 'b'),
    { kind: 'relu', name: 'relu_b', input: 'bn_b' },
    { kind: 'gap', name: 'pool', input: 'relu_b' },
    { kind: 'flatten', name: 'flat', input: 'pool' },
    { kind: 'linear', name: 'fc', input: 'flat', out: 10, bias: true },
  ]);
  return create(cfg, { seed });
}
