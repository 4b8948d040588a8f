/**
 * The combiner's one-pass result (./combine.ts): the mask (read, or written from the final cut) and
 * every number the result reports, in a tiny kernel function as the other O(d) loops (./kernels.ts).
 */
import { BLOCK, kahan, OUT } from './kernels.js';
import type { TieCut } from './topk.js';

/**
 * One pass for the result. The mask m is read, or (fromCut = 1) written from the cut (τ, τ1,
 * takeEq) of π = s0 + λ·s1 as maskKernel does. With M0 = {s0 > τ0} ∪ ties {s0 = τ0, s1 > τ01} ∪
 * first e0 of {s0 = τ0, s1 = τ01}, and M1 likewise with s0 and s1 swapped, writes
 * OUT = [S⁰(m), S¹(m), Σ(s0 + λ·s1) over m, S⁰(M0), |m ∩ M0|, |m ∩ M1|] (blocked sums).
 */
export function summaryKernel(
  m: Uint8Array,
  fromCut: number,
  s0: Float64Array,
  s1: Float64Array,
  lam: number,
  tau: number,
  tau1: number,
  takeEq: number,
  tau0: number,
  tau01: number,
  e0: number,
  tau1m: number,
  tau11: number,
  e1: number,
): void {
  const acc = new Float64Array(8); // four [sum, carry] pairs
  const n = m.length;
  let n0 = 0;
  let n1 = 0;
  let left = takeEq;
  let left0 = e0;
  let left1 = e1;
  for (let start = 0; start < n; start += BLOCK) {
    const end = Math.min(n, start + BLOCK);
    let x = 0;
    let y = 0;
    let p = 0;
    let z = 0;
    for (let i = start; i < end; i++) {
      const a = s0[i] as number;
      const b = s1[i] as number;
      const v = a + lam * b;
      let mi: number;
      if (fromCut === 1) {
        mi = Number(v > tau);
        if (v === tau) {
          mi = Number(b > tau1 || (b === tau1 && left > 0));
          if (b === tau1 && left > 0) left--;
        }
        m[i] = mi;
      } else mi = m[i] as number;
      let q0 = Number(a > tau0);
      if (a === tau0) {
        q0 = Number(b > tau01 || (b === tau01 && left0 > 0));
        if (b === tau01 && left0 > 0) left0--;
      }
      let q1 = Number(b > tau1m);
      if (b === tau1m) {
        q1 = Number(a > tau11 || (a === tau11 && left1 > 0));
        if (a === tau11 && left1 > 0) left1--;
      }
      n0 += mi & q0;
      n1 += mi & q1;
      x += a * mi;
      y += b * mi;
      p += v * mi;
      z += a * q0;
    }
    kahan(acc, 0, x);
    kahan(acc, 2, y);
    kahan(acc, 4, p);
    kahan(acc, 6, z);
  }
  OUT[0] = acc[0] as number;
  OUT[1] = acc[2] as number;
  OUT[2] = acc[4] as number;
  OUT[3] = acc[6] as number;
  OUT[4] = n0;
  OUT[5] = n1;
}

/** What the result reports about a mask M (see summaryKernel). */
export interface MaskSummary {
  readonly base: number;
  readonly control: number;
  /** Σ π(λ) over M = T_k(π(λ)) when M = A(λ). */
  readonly pi: number;
  readonly baseOfM0: number;
  readonly inM0: number;
  readonly inM1: number;
}

/**
 * Summarises `mask` (or, given `cut`, first writes A(λ) into it) against M0 and M1 in one pass.
 * mask: Uint8Array [d]; s0, s1: Float64Array [d]; cut0 / cut1 describe M0 / M1 (./scan.ts).
 */
export function summarize(mask: Uint8Array, cut: TieCut | null, s0: Float64Array, s1: Float64Array, lam: number, cut0: TieCut, cut1: TieCut): MaskSummary {
  const [tau, tau1, eq] = cut ? [cut.tau, cut.tau1, cut.takeEq] : [0, 0, 0];
  summaryKernel(mask, cut ? 1 : 0, s0, s1, lam, tau, tau1, eq, cut0.tau, cut0.tau1, cut0.takeEq, cut1.tau, cut1.tau1, cut1.takeEq);
  const [base, control, pi, baseOfM0, inM0, inM1] = OUT as unknown as [number, number, number, number, number, number];
  return { base, control, pi, baseOfM0, inM0, inM1 };
}
