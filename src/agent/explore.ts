import { fmtDims, ShapeError } from '../tensor/errors.js';
import type { Rng } from '../tensor/rng.js';

export interface ExploreOptions {
  /** Probability of the greedy choice (argmax P(drop) over patch tokens); default 0.5. */
  readonly greedyProb?: number;
  /** Draw the random token from 1..B−1 as the source did (its bug), for parity fixtures only. */
  readonly bugCompat?: boolean;
}

/**
 * Stream 2's exploration: exactly one patch token per sample. For b = 0..B−1 in order: draw u;
 * if u > 1 − greedyProb (u > 0.5 by default) take argmax_{j≥1} P(drop)[b, j] (first on ties), else
 * draw j = 1 + floor(rng·(N − 1)) (1 + floor(rng·(B − 1)) under `bugCompat`). Never CLS.
 * pDrop is row-major [B, N]. Returns j per sample.
 */
export function explore(pDrop: Float32Array, batch: number, n: number, rng: Rng, opts: ExploreOptions = {}): Int32Array {
  if (pDrop.length !== batch * n || n < 2)
    throw new ShapeError('explore', `pDrop must be [${batch}, N ≥ 2], got ${pDrop.length} values for ${fmtDims([batch, n])}`);
  const greedy = opts.greedyProb ?? 0.5;
  const span = opts.bugCompat ? batch - 1 : n - 1;
  if (opts.bugCompat && batch < 2) throw new ShapeError('explore', `bugCompat draws from 1..B−1 and needs B ≥ 2, got B = ${batch}`);
  const out = new Int32Array(batch);
  for (let b = 0; b < batch; b++) {
    const u = rng.uniform();
    if (u > 1 - greedy) {
      let best = 1;
      for (let j = 2; j < n; j++) if ((pDrop[b * n + j] as number) > (pDrop[b * n + best] as number)) best = j;
      out[b] = best;
    } else out[b] = 1 + Math.floor(rng.uniform() * span);
  }
  return out;
}

/** The one-cut keep mask of stream 2: all ones but token j_b of each sample. [B, N] float32. */
export function oneCutMask(j: Int32Array, n: number): Float32Array {
  const m = new Float32Array(j.length * n).fill(1);
  j.forEach((t, b) => {
    m[b * n + t] = 0;
  });
  return m;
}

/**
 * Stream 2's exploration inside stream 1's state at one cut (the 'pruned' reward context, an
 * extension). Candidates are the patch tokens alive entering the cut (`before` = 1). For each
 * sample: draw u; if u > 1 − greedyProb take a boundary token — on a second draw < 0.5 the kept
 * token (`after` = 1) with the highest P(drop), else the token dropped at this cut with the lowest
 * P(drop) (first on ties; the other side when one is empty) — else a candidate uniformly. A sample
 * with no patch alive (threshold cuts can drop all) has no boundary and draws from every patch token.
 * pDrop, before, after are row-major [B, N]. Returns j per sample.
 */
export function exploreInContext(
  pDrop: Float32Array,
  before: Float32Array,
  after: Float32Array,
  batch: number,
  n: number,
  rng: Rng,
  greedyProb = 0.5,
): Int32Array {
  if (pDrop.length !== batch * n || before.length !== batch * n || after.length !== batch * n || n < 2)
    throw new ShapeError(
      'exploreInContext',
      `pDrop, before and after must be [${batch}, N ≥ 2], got ${pDrop.length}, ${before.length}, ${after.length} values for ${fmtDims([batch, n])}`,
    );
  const out = new Int32Array(batch);
  for (let b = 0; b < batch; b++) {
    const row = b * n;
    const alive: number[] = [];
    let nextToDrop = -1; // kept here, highest P(drop)
    let nextToKeep = -1; // dropped here, lowest P(drop)
    for (let j = 1; j < n; j++) {
      if (before[row + j] !== 1) continue;
      alive.push(j);
      const p = pDrop[row + j] as number;
      if (after[row + j] === 1) {
        if (nextToDrop < 0 || p > (pDrop[row + nextToDrop] as number)) nextToDrop = j;
      } else if (nextToKeep < 0 || p < (pDrop[row + nextToKeep] as number)) nextToKeep = j;
    }
    // Threshold cuts may have dropped every patch already: then any patch, restored from this cut on.
    if (alive.length === 0) for (let j = 1; j < n; j++) alive.push(j);
    if (rng.uniform() > 1 - greedyProb && nextToDrop + nextToKeep > -2) {
      const dropSide = rng.uniform() < 0.5;
      out[b] = (dropSide && nextToDrop >= 0) || nextToKeep < 0 ? nextToDrop : nextToKeep;
    } else out[b] = alive[Math.floor(rng.uniform() * alive.length)] as number;
  }
  return out;
}

/**
 * The masks of stream 2 in the pruned context: stream 1's alive masks after cuts k…K−1 ([B, N]
 * each) with token j_b toggled from cut k on — dropped if stream 1 kept it at cut k, restored if
 * stream 1 dropped it there. `kept[b]` says which (1 = it was kept, so the copy drops it).
 */
export function toggledMasks(masks: readonly Float32Array[], j: Int32Array, n: number): { masks: Float32Array[]; kept: Uint8Array } {
  const kept = new Uint8Array(j.length);
  const first = masks[0] as Float32Array;
  j.forEach((t, b) => {
    kept[b] = first[b * n + t] === 1 ? 1 : 0;
  });
  const out = masks.map((m) => {
    const copy = m.slice();
    j.forEach((t, b) => {
      copy[b * n + t] = kept[b] ? 0 : 1;
    });
    return copy;
  });
  return { masks: out, kept };
}
