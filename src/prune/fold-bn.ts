import { fmtDims, ShapeError, ValueError } from '../tensor/errors.js';
import { assertFinite, type FloatTensor, f64, floatTensor, fromF64, rowLength, vectorOf } from './tensors.js';

/** A conv or linear layer's tensors: weight [D, C, kh, kw] (conv, any groups) or [D, C] (linear), bias [D]. */
export interface LayerTensors {
  readonly weight: FloatTensor;
  readonly bias?: FloatTensor;
}

/** Batch-norm parameters and running statistics, all [D], with the layer's own ε. */
export interface BatchNormTensors {
  readonly gamma: FloatTensor;
  readonly beta: FloatTensor;
  readonly mean: FloatTensor;
  readonly var: FloatTensor;
  readonly eps: number;
}

/**
 * Folds an inference-mode BatchNorm into the layer before it (specs/resrep.md §6.1):
 *
 *     t_j = γ_j / √(σ²_j + ε);   K̂[j] = t_j·K[j];   b̂_j = β_j + (b_j − μ_j)·t_j     (b = 0 when absent)
 *
 * Per output channel, so grouped and depthwise convs fold the same way. Arithmetic in float64; the
 * result has the weight's dtype. weight [D, …], bias [D] → { weight [D, …], bias [D] }.
 * `foldBatchNorm({ weight }, { gamma, beta, mean, var, eps: 1e-5 })`.
 */
export function foldBatchNorm(layer: LayerTensors, bn: BatchNormTensors): { weight: FloatTensor; bias: FloatTensor } {
  const where = 'prune.foldBatchNorm';
  const w = floatTensor(where, 'weight', layer?.weight);
  if (w.dims.length < 2) throw new ShapeError(where, `weight must be [D, C, kh, kw] or [D, C], got ${fmtDims(w.dims)}`);
  const d = w.dims[0] as number;
  const bias = layer.bias === undefined ? undefined : f64(vectorOf(where, 'bias', layer.bias, d));
  const [gamma, beta, mean, variance] = (['gamma', 'beta', 'mean', 'var'] as const).map((k) => f64(vectorOf(where, `bn.${k}`, bn?.[k], d))) as [
    Float64Array,
    Float64Array,
    Float64Array,
    Float64Array,
  ];
  if (!(typeof bn.eps === 'number' && bn.eps >= 0 && Number.isFinite(bn.eps)))
    throw new ValueError(where, `bn.eps must be a finite number >= 0, got ${bn.eps}`);
  for (let j = 0; j < d; j++) {
    if (!((variance[j] as number) + bn.eps > 0)) throw new ValueError(where, `bn.var[${j}] + eps must be > 0, got ${variance[j]} + ${bn.eps}`);
  }
  assertFinite(where, 'weight', w.data);
  const row = rowLength(w.dims);
  const out = f64(w);
  const b = new Float64Array(d);
  for (let j = 0; j < d; j++) {
    const t = (gamma[j] as number) / Math.sqrt((variance[j] as number) + bn.eps);
    for (let i = j * row; i < (j + 1) * row; i++) out[i] = (out[i] as number) * t;
    b[j] = (beta[j] as number) + ((bias ? (bias[j] as number) : 0) - (mean[j] as number)) * t;
  }
  return { weight: fromF64(w, w.dims, out), bias: fromF64(w, [d], b) };
}
