/**
 * A deliberately naive COPS solver for the tests: A(λ) by a full sort with the spec's tie rule,
 * the §5 bisection written out literally. O(d log d) per evaluation; for d up to a few thousand.
 */

/** Indices of A(λ): π = s0 + λ·s1 desc, then s1 desc, then index asc; the first k. */
export function naiveTopK(s0: ArrayLike<number>, s1: ArrayLike<number>, lam: number, k: number): number[] {
  const idx = Array.from({ length: s0.length }, (_, i) => i);
  const pi = idx.map((i) => (s0[i] as number) + lam * (s1[i] as number));
  idx.sort((i, j) => (pi[j] as number) - (pi[i] as number) || (s1[j] as number) - (s1[i] as number) || i - j);
  return idx.slice(0, k).sort((i, j) => i - j);
}

export const sumAt = (v: ArrayLike<number>, set: readonly number[]): number => set.reduce((s, i) => s + (v[i] as number), 0);

export interface NaiveSolve {
  readonly lambda: number;
  readonly lo: number;
  readonly set: number[];
  readonly evaluations: number;
  readonly status: 'inactive' | 'solved' | 'infeasible';
}

/** The spec's algorithm, literally, with tol relative to max(1, ‖s1‖₁) as the library does. */
export function naiveSolve(s0: ArrayLike<number>, s1: ArrayLike<number>, k: number, c: number): NaiveSolve {
  const l1 = Array.from(s1).reduce((s, x) => s + Math.abs(x), 0);
  const tol = 1e-12 * Math.max(1, l1);
  let evaluations = 0;
  const feasible = (lam: number) => {
    evaluations++;
    return sumAt(s1, naiveTopK(s0, s1, lam, k)) >= c - tol;
  };
  if (feasible(0)) return { lambda: 0, lo: 0, set: naiveTopK(s0, s1, 0, k), evaluations, status: 'inactive' };
  const tk = sumAt(s1, naiveTopK(s1, s0, 0, k));
  if (c > tk + tol) return { lambda: Number.POSITIVE_INFINITY, lo: 0, set: naiveTopK(s1, s0, 0, k), evaluations, status: 'infeasible' };
  let lo = 0;
  let hi = 1;
  while (!feasible(hi)) {
    lo = hi;
    hi *= 2;
  }
  for (let it = 0; hi - lo > 1e-9 * hi && it < 200; it++) {
    const mid = (lo + hi) / 2;
    if (feasible(mid)) hi = mid;
    else lo = mid;
  }
  return { lambda: hi, lo, set: naiveTopK(s0, s1, hi, k), evaluations, status: 'solved' };
}

/** K1: c = (1−κ)·S¹(M0) + κ·S¹(M1). */
export function naiveK1(s0: ArrayLike<number>, s1: ArrayLike<number>, k: number, kappa: number): number {
  return (1 - kappa) * sumAt(s1, naiveTopK(s0, s1, 0, k)) + kappa * sumAt(s1, naiveTopK(s1, s0, 0, k));
}

export const maskSet = (m: Uint8Array): number[] => Array.from(m).flatMap((x, i) => (x ? [i] : []));
