/**
 * Filter ranking (specs/cops.md §7, §8): scores per output channel, the n_keep rule, and the order
 * in which filters go. Pure functions over tensors; the kept indices they return feed the one
 * channel-slicing implementation (../channels.ts).
 *
 * - L1 (Li et al.): s_j = Σ_{c,u,v} |K[j, c, u, v]|; keep the largest, ties by lower index.
 * - Entropy (Luo & Wu): prune the lowest H first, ties by lower index (./entropy.ts).
 */
import { ShapeError, ValueError } from '../../tensor/errors.js';
import type { Tensor } from '../../tensor/tensor.js';
import { assertFinite, floatTensor } from '../tensors.js';

/** How ties between equal scores are broken, and which end of the order is pruned. */
export type FilterCriterion = 'l1' | 'entropy';

/**
 * n_keep = max(1, floor(width·(1 − p) + 1e-9)): the re-implementation's int(), guarded against float
 * noise (10·(1 − 0.3) = 6.999999999999999 must keep 7).
 */
export function nKeep(width: number, ratio: number): number {
  if (!Number.isInteger(width) || width < 1) throw new ValueError('prune.filters.nKeep', `width must be a positive integer, got ${width}`);
  if (!(ratio >= 0 && ratio < 1)) throw new ValueError('prune.filters.nKeep', `ratio must be in [0, 1), got ${ratio}`);
  return Math.max(1, Math.floor(width * (1 - ratio) + 1e-9));
}

export interface L1Options {
  /** Output-channel axis: 0 for conv [D, C, kh, kw] and linear [D, C] (default); 1 for a MatMul weight [C, D]. */
  readonly outAxis?: number;
  /**
   * Greedy ranking: which input channels are still kept (true = kept), per input channel; a linear
   * after Flatten of [C, H, W] reads C·H·W columns, so give `flattenSpatial` = H·W. Removed input
   * channels do not count towards the sum.
   */
  readonly inputKept?: { readonly kept: ArrayLike<boolean>; readonly flattenSpatial?: number };
}

/**
 * L1 filter scores: s_j = Σ |W| over output channel j (every other axis), float64 [D]. Weight:
 * conv [D, C, kh, kw] or linear [D, C] (or [C, D] with outAxis 1). §9 test 11: K [3, 2, 1, 1] =
 * [[1, −2], [0.5, 0.5], [−3, 0]] → [3, 1, 3].
 */
export function l1FilterScores(weight: Tensor, opts: L1Options = {}): Float64Array {
  const where = 'prune.filters.l1FilterScores';
  const w = floatTensor(where, 'weight', weight);
  if (w.dims.length !== 2 && w.dims.length !== 4) throw new ShapeError(where, `weight must be [D, C, kh, kw] or [D, C], got [${w.dims.join(', ')}]`);
  assertFinite(where, 'weight', w.data);
  const outAxis = opts.outAxis ?? 0;
  if (outAxis !== 0 && outAxis !== 1) throw new ValueError(where, `outAxis must be 0 or 1, got ${outAxis}`);
  const inAxis = 1 - outAxis;
  const stride = (axis: number) => w.dims.slice(axis + 1).reduce((p, d) => p * d, 1);
  const [so, si] = [stride(outAxis), stride(inAxis)];
  const [d, c] = [w.dims[outAxis] as number, w.dims[inAxis] as number];
  const s = new Float64Array(d);
  const kept = opts.inputKept;
  const spatial = kept?.flattenSpatial ?? 1;
  if (kept && kept.kept.length * spatial !== c) {
    throw new ShapeError(where, `inputKept covers ${kept.kept.length} channels × ${spatial} columns, the weight has ${c} input columns`);
  }
  for (let i = 0; i < w.data.length; i++) {
    if (kept && !kept.kept[Math.floor((Math.floor(i / si) % c) / spatial)]) continue;
    s[Math.floor(i / so) % d]! += Math.abs(w.data[i] as number);
  }
  return s;
}

/**
 * The order in which filters are pruned (first = pruned first), a permutation of [0, D):
 * - 'l1': s ascending, ties by higher index first — so the kept set is "s descending, then index";
 * - 'entropy': H ascending, ties by lower index first (§8).
 */
export function pruneOrder(scores: ArrayLike<number>, criterion: FilterCriterion): Int32Array {
  assertFinite('prune.filters.pruneOrder', 'scores', scores);
  const order = Int32Array.from({ length: scores.length }, (_, i) => i);
  const tie = criterion === 'l1' ? -1 : 1;
  return order.sort((a, b) => (scores[a] as number) - (scores[b] as number) || tie * (a - b));
}

/** The filters kept at `ratio` (sorted ascending, ready for the slicing functions) and those removed (in pruning order). */
export function selectFilters(scores: ArrayLike<number>, ratio: number, criterion: FilterCriterion): { keep: Int32Array; removed: Int32Array } {
  const order = pruneOrder(scores, criterion);
  const cut = scores.length - nKeep(scores.length, ratio);
  return { keep: order.slice(cut).sort(), removed: order.slice(0, cut) };
}
