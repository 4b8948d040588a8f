import { fmtDims, ShapeError, ValueError } from '../../tensor/errors.js';
import { checkKeep, type Keep } from '../channels.js';
import type { LayerTensors } from '../fold-bn.js';
import { assertFinite, type FloatTensor, f64, floatTensor, fromF64, rowLength, vectorOf } from '../tensors.js';
import { compactorOf, compactorRowNorms } from './compactor.js';

/** ResRep's row-drop threshold on ‖Q[j, :]‖₂ (specs/resrep.md §6.2). */
export const RESREP_THRESHOLD = 1e-5;

/**
 * Rows to keep: { j : r_j ≥ threshold }, or the single largest row when none passes (§6.2); the
 * mask plays no part. With `multipleOf` m, the kept count is rounded up to a multiple of m (capped
 * at D) by also keeping the largest of the dropped rows — exactness is unaffected, since a kept row
 * is computed, not approximated. → sorted indices.
 */
export function keepRows(norms: ArrayLike<number>, opts: { readonly threshold?: number; readonly multipleOf?: number } = {}): Int32Array {
  const t = opts.threshold ?? RESREP_THRESHOLD;
  if (!(t >= 0)) throw new ValueError('resrep.keepRows', `threshold must be >= 0, got ${t}`);
  const d = norms.length;
  const keep = new Set<number>();
  for (let j = 0; j < d; j++) if ((norms[j] as number) >= t) keep.add(j);
  const byNorm = Array.from({ length: d }, (_, j) => j).sort((a, b) => (norms[b] as number) - (norms[a] as number) || a - b);
  if (keep.size === 0 && d > 0) keep.add(byNorm[0] as number);
  const m = opts.multipleOf ?? 1;
  if (!Number.isInteger(m) || m < 1) throw new ValueError('resrep.keepRows', `multipleOf must be an integer >= 1, got ${m}`);
  const want = Math.min(d, Math.ceil(keep.size / m) * m);
  for (const j of byNorm) {
    if (keep.size >= want) break;
    keep.add(j);
  }
  return Int32Array.from([...keep].sort((a, b) => a - b));
}

export interface MergeOptions {
  /** Row-norm threshold (default 1e-5). */
  readonly threshold?: number;
  /** Rows to keep instead of thresholding (re-applying a plan). */
  readonly keep?: Keep;
  /** Round the kept count up to a multiple of this (see keepRows). */
  readonly multipleOf?: number;
  /** Layer name for messages. */
  readonly layer?: string;
}

export interface MergedLayer {
  /** [D', C, kh, kw] or [D', C], the weight's dtype. */
  readonly weight: FloatTensor;
  /** [D'] (Q'·b; zeros folded from an absent bias). */
  readonly bias: FloatTensor;
  /** Kept rows of Q, sorted: the output channels the consumers keep. */
  readonly keep: Int32Array;
  /** ‖Q[j, :]‖₂ of every row, for reports. */
  readonly norms: Float64Array;
}

/**
 * Folds a compactor into the (BN-folded) layer before it and drops its small rows (§6.2):
 *
 *     keep = { j : ‖Q[j,:]‖₂ ≥ threshold } (the largest row if none);  Q' = Q[keep, :]   [D', D]
 *     K'   = reshape(Q' · reshape(K, [D, C·kh·kw]), [D', C, kh, kw]);  b' = Q' · b
 *
 * weight [D, C, kh, kw] (conv) or [D, C] (linear); Q [D, D] or [D, D, 1, 1]. Stride, padding and
 * dilation are unchanged. Arithmetic in float64, result in the weight's dtype. Delete the
 * consumers' input channels not in `keep` with `sliceInputChannels`.
 */
export function mergeCompactor(layer: LayerTensors, q: unknown, opts: MergeOptions = {}): MergedLayer {
  const where = 'resrep.mergeCompactor';
  const name = opts.layer ?? 'layer';
  const w = floatTensor(where, 'weight', layer?.weight);
  if (w.dims.length !== 2 && w.dims.length !== 4) throw new ShapeError(where, `weight of '${name}' must be [D, C, kh, kw] or [D, C], got ${fmtDims(w.dims)}`);
  const d = w.dims[0] as number;
  const { q: qt, d: dq } = compactorOf(where, q, name);
  if (dq !== d) throw new ShapeError(where, `Q of '${name}' must be [${d}, ${d}] for weight ${fmtDims(w.dims)}, got ${fmtDims(qt.dims)}`);
  assertFinite(where, `weight of '${name}'`, w.data);
  const b = layer.bias === undefined ? new Float64Array(d) : f64(vectorOf(where, 'bias', layer.bias, d));
  const norms = compactorRowNorms(qt, { layer: name });
  const keep = opts.keep !== undefined ? checkKeep(where, name, opts.keep, d) : keepRows(norms, opts);
  const row = rowLength(w.dims);
  const k = f64(w);
  const qd = qt.data;
  const out = new Float64Array(keep.length * row);
  const bias = new Float64Array(keep.length);
  keep.forEach((j, r) => {
    for (let i = 0; i < d; i++) {
      const qji = qd[j * d + i] as number;
      if (qji === 0) continue;
      bias[r] = (bias[r] as number) + qji * (b[i] as number);
      const src = i * row;
      const dst = r * row;
      for (let c = 0; c < row; c++) out[dst + c] = (out[dst + c] as number) + qji * (k[src + c] as number);
    }
  });
  return { weight: fromF64(w, [keep.length, ...w.dims.slice(1)], out), bias: fromF64(w, [keep.length], bias), keep, norms };
}
