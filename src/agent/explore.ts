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
