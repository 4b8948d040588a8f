/**
 * Top-k under the COPS tie rule, in O(n) (./select.ts does the selection): elements ordered by
 * π = a + λ·b descending, then b descending, then index ascending; A = the first k.
 *
 * A is described by a `TieCut` {τ, τ1, takeEq}: every element with π > τ, then among π = τ those
 * with b > τ1, then the first `takeEq` (lowest index) with π = τ and b = τ1. Sums over A need no
 * index: elements with equal π and equal b have equal b (and, at λ = 0, equal a).
 */
import { maskKernel } from './kernels.js';
import { type Band, SelectWorkspace, sampledBand, selectLarge } from './select.js';

/** Compensated running sum (Neumaier). */
export class Sum {
  s = 0;
  c = 0;
  add(x: number): void {
    const t = this.s + x;
    this.c += Math.abs(this.s) >= Math.abs(x) ? this.s - t + x : x - t + this.s;
    this.s = t;
  }
  get value(): number {
    return this.s + this.c;
  }
}

export interface TieCut {
  readonly lam: number;
  readonly tau: number;
  readonly tau1: number;
  readonly takeEq: number;
}

/**
 * The cut of A for the first n elements with k taken (1 ≤ k ≤ n), and Σ of column `sum` (a or b)
 * over A. One pass over n plus work on the band. For `sum === a` the result is exact only at λ = 0
 * (where tied elements have equal a), which is how it is used (T_k of a score).
 */
export function cutAt(
  a: Float64Array,
  b: Float64Array,
  n: number,
  k: number,
  lam: number,
  ws: SelectWorkspace,
  sum: Float64Array | null,
): TieCut & { readonly sum: number } {
  if (k >= n) {
    const all = new Sum();
    if (sum) for (let i = 0; i < n; i++) all.add(sum[i] as number);
    return { lam, tau: Number.NEGATIVE_INFINITY, tau1: Number.NEGATIVE_INFINITY, takeEq: 0, sum: all.value };
  }
  sampledBand(a, b, n, k, 0, lam, 0, ws, sum, ws.band);
  return cutFromBand(ws.band, b, k, lam, ws, sum);
}

/**
 * Finishes a cut from a band of rank k (./select.ts): τ by quickselect on the band, then the ties
 * by b. Σ `sum` over A, continuing from band.sumAbove; for `sum` ≠ b the tied elements contribute
 * τ each (exact at λ = 0, where tied elements have equal a).
 */
export function cutFromBand(
  band: Band,
  b: Float64Array,
  k: number,
  lam: number,
  ws: SelectWorkspace,
  sum: Float64Array | null,
): TieCut & { readonly sum: number } {
  const acc = new Sum();
  acc.add(band.sumAbove);
  const { v: bandV, i: bandI, n: nBand } = band;
  const tmp = ws.tmpOf(nBand);
  tmp.set(bandV.subarray(0, nBand));
  const tau = selectLarge(tmp, nBand, k - band.nAbove, ws);
  let above = band.nAbove;
  let ties = 0;
  for (let j = 0; j < nBand; j++) {
    const v = bandV[j] as number;
    const i = bandI[j] as number;
    if (v > tau) {
      above++;
      if (sum) acc.add(sum[i] as number);
    } else if (v === tau) tmp[ties++] = b[i] as number;
  }
  // Tied on π: the `need` largest b.
  const need = k - above;
  const addTie = (x: number) => {
    if (sum) acc.add(sum === b ? x : tau);
  };
  if (need === ties) {
    for (let j = 0; j < ties; j++) addTie(tmp[j] as number);
    return { lam, tau, tau1: Number.NEGATIVE_INFINITY, takeEq: 0, sum: acc.value };
  }
  const tau1 = selectLarge(tmp, ties, need, ws);
  let greater = 0;
  for (let j = 0; j < ties; j++) {
    const x = tmp[j] as number;
    if (x > tau1) {
      greater++;
      addTie(x);
    }
  }
  for (let j = greater; j < need; j++) addTie(tau1);
  return { lam, tau, tau1, takeEq: need - greater, sum: acc.value };
}

/**
 * The mask of A: the k (1 ≤ k ≤ n) elements first in the order (a + λ·b desc, b desc, index asc),
 * as 0/1 over all n = a.length elements. `topKMask(s0, s1, 0, k)` is M0; `topKMask(s1, s0, 0, k)`
 * is M1 (top-k of s¹, ties by s⁰ then index).
 */
export function topKMask(a: Float64Array, b: Float64Array, lam: number, k: number, ws = new SelectWorkspace(), out?: Uint8Array): Uint8Array {
  const n = a.length;
  const mask = out ?? new Uint8Array(n);
  const cut = cutAt(a, b, n, k, lam, ws, null);
  maskKernel(a, b, n, lam, cut.tau, cut.tau1, cut.takeEq, mask);
  return mask;
}
