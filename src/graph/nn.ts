import { DTypeError, fmtDims, ShapeError, ValueError } from '../tensor/errors.js';
import type { Graph } from './builder.js';
import type { Dim, Value } from './types.js';

/**
 * Composites built from the op table's primitives: their gradients come from the primitives'
 * VJPs, so they need no rules of their own.
 */

/** y = x·Wᵀ + b with PyTorch's layout: x [..., in], weight [out, in], bias [out] → [..., out]. */
export function linear(g: Graph, x: Value, weight: Value, bias?: Value): Value {
  const inDim = x.shape[x.shape.length - 1] as Dim;
  if (weight.shape.length !== 2 || (typeof inDim === 'number' && typeof weight.shape[1] === 'number' && weight.shape[1] !== inDim)) {
    throw new ShapeError(`linear '${g.scopePath}'`, `weight must be [out, ${inDim}], got ${fmtDims(weight.shape)} for x ${fmtDims(x.shape)}`);
  }
  if (x.shape.length === 2) return g.Gemm(x, weight, bias, { transB: true });
  // Leading dims flattened into one GEMM: the bias add is fused, and the weight gradient is a
  // single [out, in] product instead of a batched one plus a sum.
  const flat = g.Gemm(g.Reshape(x, [-1, inDim]), weight, bias, { transB: true });
  return g.Reshape(flat, [...x.shape.slice(0, -1), weight.shape[0] as Dim]);
}

/** LayerNorm over the last axis with affine weight and bias ([D] each). */
export function layerNorm(g: Graph, x: Value, weight: Value, bias: Value, eps = 1e-5): Value {
  return g.LayerNormalization(x, weight, bias, eps, -1);
}

export type GeluKind = 'tanh' | 'erf';

/**
 * GELU. `'erf'`: 0.5·x·(1 + erf(x/√2)) (exact, as timm's default); `'tanh'`: 0.5·x·(1 + tanh(√(2/π)·
 * (x + 0.044715·x³))) (PyTorch's approximate='tanh'). Written in the node order ONNX Runtime's
 * Gelu / FastGelu fusions look for.
 */
export function gelu(g: Graph, x: Value, kind: GeluKind = 'erf'): Value {
  return g.Gelu(x, kind === 'erf' ? 'none' : 'tanh');
}

export interface CrossEntropyOptions {
  /** ε of label smoothing: targets (1 − ε)·onehot + ε/K, as PyTorch's `label_smoothing`. */
  readonly labelSmoothing?: number;
  /** 'mean' (default) → scalar; 'none' → per-sample [B]. */
  readonly reduction?: 'mean' | 'none';
}

/**
 * Softmax cross-entropy of logits [B, K] against integer labels [B] (int64).
 * With smoothing ε: loss_b = (1 − ε)·(−log p[b, y_b]) + ε·mean_k(−log p[b, k]).
 */
export function softmaxCrossEntropy(g: Graph, logits: Value, labels: Value, opts: CrossEntropyOptions = {}): Value {
  const where = `softmaxCrossEntropy '${g.scopePath}'`;
  if (logits.shape.length !== 2) throw new ShapeError(where, `logits must be [B, K], got ${fmtDims(logits.shape)}`);
  if (labels.shape.length !== 1) throw new ShapeError(where, `labels must be [B] int64, got ${fmtDims(labels.shape)} ${labels.dtype}`);
  if (labels.dtype !== 'int64') throw new DTypeError(where, `labels must be [B] int64, got ${fmtDims(labels.shape)} ${labels.dtype}`);
  const eps = opts.labelSmoothing ?? 0;
  if (!(eps >= 0 && eps < 1)) throw new ValueError(where, `labelSmoothing must be in [0, 1), got ${eps}`);
  const logp = g.LogSoftmax(logits, 1);
  const nll = g.Neg(g.Squeeze(g.GatherElements(logp, g.Unsqueeze(labels, [1]), 1), [1]));
  let perSample = nll;
  if (eps > 0) {
    const smooth = g.Neg(g.ReduceMean(logp, [1], false));
    perSample = g.Add(g.scale(nll, 1 - eps), g.scale(smooth, eps));
  }
  return (opts.reduction ?? 'mean') === 'mean' ? g.ReduceMean(perSample, [0], false) : perSample;
}

/**
 * Knowledge distillation (Hinton et al.): T²·KL(softmax(teacher/T) ‖ softmax(student/T)), the mean
 * over the batch, of logits [B, K] each. The teacher is detached (no gradient reaches it); T² keeps
 * the gradient's scale comparable to a cross-entropy's as T grows. 0 when student == teacher.
 */
export function distillationKL(g: Graph, student: Value, teacher: Value, temperature = 1): Value {
  const where = `distillationKL '${g.scopePath}'`;
  if (student.shape.length !== 2 || teacher.shape.length !== 2 || student.shape[1] !== teacher.shape[1])
    throw new ShapeError(where, `student and teacher logits must both be [B, K], got ${fmtDims(student.shape)} and ${fmtDims(teacher.shape)}`);
  if (!(temperature > 0)) throw new ValueError(where, `temperature must be > 0, got ${temperature}`);
  const t = g.StopGradient(teacher);
  const logPt = g.LogSoftmax(g.scale(t, 1 / temperature), 1);
  const logPs = g.LogSoftmax(g.scale(student, 1 / temperature), 1);
  const kl = g.ReduceSum(g.Mul(g.Exp(logPt), g.Sub(logPt, logPs)), [1], false);
  return g.scale(g.ReduceMean(kl, [0], false), temperature * temperature);
}

/** Top-1 correct count as a float scalar: Σ [argmax(logits) == label]. */
export function correctCount(g: Graph, logits: Value, labels: Value): Value {
  const hit = g.Equal(g.ArgMax(logits, 1, false), labels);
  return g.ReduceSum(g.Cast(hit, logits.dtype), [0], false);
}
