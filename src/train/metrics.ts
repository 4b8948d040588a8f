import { fmtDims, ShapeError, ValueError } from '../tensor/errors.js';
import type { Tensor } from '../tensor/tensor.js';

/** Top-1 hits and summed cross-entropy of logits [B, K] against labels [B]. */
export function scoreLogits(logits: Tensor, labels: Tensor): { correct: number; lossSum: number; n: number } {
  const [b, k] = logits.dims as [number, number];
  if (logits.dims.length !== 2 || labels.dims[0] !== b)
    throw new ShapeError('scoreLogits', `logits ${fmtDims(logits.dims)} and labels ${fmtDims(labels.dims)} disagree`);
  const x = logits.data as Float32Array;
  let correct = 0;
  let lossSum = 0;
  for (let i = 0; i < b; i++) {
    const y = Number(labels.data[i]);
    // An out-of-range label would silently read a neighbouring row's logit.
    if (!Number.isInteger(y) || y < 0 || y >= k) throw new ValueError('scoreLogits', `labels[${i}] is ${y}, expected an integer in [0, ${k})`);
    let best = 0;
    let max = Number.NEGATIVE_INFINITY;
    for (let j = 0; j < k; j++) {
      const v = x[i * k + j] as number;
      if (v > max) {
        max = v;
        best = j;
      }
    }
    let sum = 0;
    for (let j = 0; j < k; j++) sum += Math.exp((x[i * k + j] as number) - max);
    lossSum += Math.log(sum) + max - (x[i * k + y] as number);
    if (best === y) correct++;
  }
  return { correct, lossSum, n: b };
}
