/**
 * C(λ) = Σ_{i ∈ A(λ)} s¹_i along the bisection, on a working set that shrinks with the bracket.
 *
 * For a bracket [λ−, λ+] let lo_i, hi_i be the least and greatest of π_i(λ−), π_i(λ+) (π_i(λ) lies
 * between them, see ./select.ts). If at least kk elements have lo ≥ L, then τ(λ), the kk-th
 * largest π(λ), is ≥ L for every λ in the bracket; if fewer than kk have hi > U, then τ(λ) ≤ U.
 * So an element with hi_i < L is below τ everywhere (never in A), one with lo_i > U is above τ
 * everywhere (always in A), and only the rest, whose line may cross τ inside the bracket, is kept
 * for later evaluations. L and U come from a sample and are verified by counting in the same pass
 * (exact order statistics if the check fails). A(λ) is exactly the spec's set: only the work
 * shrinks. Halving the bracket roughly halves the rest, so a solve costs a few passes over d.
 *
 * The mask is not tracked: the cut of A(λ) found on the working set (τ, and the ties at τ, which
 * are all candidates) is the cut over all d, so one pass over the scores writes it (./combine.ts).
 */

import { narrowKernel, OUT } from './kernels.js';
import type { SelectWorkspace } from './select.js';
import { kthLargest, SMALL, sampleBracket } from './select.js';
import { cutAt, Sum, type TieCut } from './topk.js';

export class ControlPath {
  /** C(λ) evaluations so far. */
  evaluations = 0;
  /** The working set (the caller's arrays until the first narrowing), its size, and how many of it A takes. */
  private a: Float64Array;
  private b: Float64Array;
  private n: number;
  private kk: number;
  private slot: 0 | 1 = 0;
  /** Σ s¹ over the elements known to be in A. */
  private readonly fixed = new Sum();

  constructor(
    s0: Float64Array,
    s1: Float64Array,
    k: number,
    private readonly ws: SelectWorkspace,
  ) {
    this.a = s0;
    this.b = s1;
    this.n = s0.length;
    this.kk = k;
  }

  /** Elements still evaluated. */
  get size(): number {
    return this.n;
  }

  /** C(λ), for λ inside every bracket passed to `narrow` so far. */
  control(lam: number): number {
    this.evaluations++;
    return this.fixed.value + cutAt(this.a, this.b, this.n, this.kk, lam, this.ws, this.b).sum;
  }

  /** Drops the elements whose membership in A(λ) is the same for all λ ∈ [lo, hi]. */
  narrow(lo: number, hi: number): void {
    const { a, b, n, kk, ws } = this;
    if (kk >= n) return; // every remaining element is in A: nothing to decide
    const sampled = n > SMALL;
    let L = sampled ? sampleBracket(a, b, n, kk, 1, lo, hi, ws).lo : kthLargest(a, b, n, kk, 1, lo, hi, ws);
    let U = sampled ? sampleBracket(a, b, n, kk, 2, lo, hi, ws).hi : kthLargest(a, b, n, kk, 2, lo, hi, ws);
    const dest = ws.columns(this.slot, n);
    let j = narrowKernel(a, b, n, lo, hi, L, U, dest.a, dest.b);
    if (!((OUT[0] as number) >= kk && (OUT[1] as number) <= kk - 1)) {
      // The sample misled us: exact bounds, and the pass again (nothing was committed).
      L = kthLargest(a, b, n, kk, 1, lo, hi, ws);
      U = kthLargest(a, b, n, kk, 2, lo, hi, ws);
      j = narrowKernel(a, b, n, lo, hi, L, U, dest.a, dest.b);
    }
    this.fixed.add(OUT[3] as number);
    this.kk = kk - (OUT[2] as number);
    this.n = j;
    this.a = dest.a;
    this.b = dest.b;
    this.slot = this.slot === 0 ? 1 : 0;
  }

  /**
   * The cut of A(λ) over all d weights, λ inside the last bracket: found on the working set, valid
   * for the whole vector since every element outside it is strictly above or below τ.
   */
  cut(lam: number): TieCut {
    const { a, b, n, kk } = this;
    if (kk < n) return cutAt(a, b, n, kk, lam, this.ws, null);
    // All remaining elements are in A: τ is their least π, and every tie at τ is taken.
    let tau = Number.POSITIVE_INFINITY;
    for (let i = 0; i < n; i++) tau = Math.min(tau, (a[i] as number) + lam * (b[i] as number));
    return { lam, tau, tau1: Number.NEGATIVE_INFINITY, takeEq: 0 };
  }
}
