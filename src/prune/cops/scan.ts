/**
 * The combiner's prelude: validation of both scores (finite, not all zero, ℓ1 norms) and the cuts
 * of M0 = A(0) (values s⁰, ties by s¹) and M1 = top-k(s¹) (ties by s⁰), in one pass over both.
 */
import { ShapeError, ValueError } from '../../tensor/errors.js';
import { BLOCK, kahan, l1Kernel, OUT } from './kernels.js';
import { holdsRank, type SelectWorkspace, sampleBracket, sampledBand } from './select.js';
import { cutAt, cutFromBand, type TieCut } from './topk.js';

export interface Scan {
  /** ‖s⁰‖₁ and ‖s¹‖₁. */
  readonly l1Base: number;
  readonly l1Control: number;
  /** M0's cut; its sum is S¹(M0) = C(0), the first g0 evaluation. */
  readonly cut0: TieCut & { readonly sum: number };
  /** M1's cut; its sum is S¹(M1) = T_k(s¹). */
  readonly cut1: TieCut & { readonly sum: number };
}

/**
 * Throws ValueError naming the first NaN/±Inf entry, for an all-zero score, or for ‖x‖₁ > 1e300
 * (normalize such scores first); ShapeError when empty. Returns ‖x‖₁.
 */
export function checkScore(where: string, arg: string, x: Float64Array): number {
  const n = x.length;
  if (n === 0) throw new ShapeError(where, `${arg} is empty`);
  const l1 = l1Kernel(x, n);
  if (l1 < 0) {
    const i = x.findIndex((v) => !Number.isFinite(v));
    throw new ValueError(where, `${arg}[${i}] is ${x[i]}; scores must be finite`);
  }
  checkNorm(where, arg, l1);
  return l1;
}

function checkNorm(where: string, arg: string, l1: number): void {
  if (l1 === 0) throw new ValueError(where, `${arg} is all zeros: it ranks nothing`);
  if (!(l1 <= 1e300)) throw new ValueError(where, `${arg} has ‖·‖₁ = ${l1} > 1e300; normalize the scores first (cops.normalize)`);
}

/** Validates s⁰ and s¹ (same length d ≥ 1 and 1 ≤ k ≤ d are the caller's checks) and cuts M0 and M1. */
export function scanScores(where: string, s0: Float64Array, s1: Float64Array, k: number, ws: SelectWorkspace): Scan {
  const d = s0.length;
  const slow = (): Scan => {
    const l1Base = checkScore(where, 'base', s0);
    const l1Control = checkScore(where, 'control', s1);
    return { l1Base, l1Control, cut0: cutAt(s0, s1, d, k, 0, ws, s1), cut1: cutAt(s1, s0, d, k, 0, ws, s1) };
  };
  if (d === 0 || k >= d) return slow();
  // One pass: validation and both bands (samples first; a NaN in them only widens a bracket).
  const q0 = sampleBracket(s0, s1, d, k, 0, 0, 0, ws);
  const q1 = sampleBracket(s1, s0, d, k, 0, 0, 0, ws);
  const [b0, b1] = [ws.band, ws.band2];
  b0.ensure(q0.cap);
  b1.ensure(q1.cap);
  const sizes = new Int32Array(2);
  const r = preludeKernel(s0, s1, q0.hi, q0.lo, q1.hi, q1.lo, b0.v, b0.i, b1.v, b1.i, sizes);
  if (r < 0) return slow(); // −2: a NaN/±∞, which checkScore names; −1: a band overflowed (the samples misled us)
  const [l1Base, l1Control, n0, n1, sum0, sum1] = OUT as unknown as [number, number, number, number, number, number];
  checkNorm(where, 'base', l1Base);
  checkNorm(where, 'control', l1Control);
  b0.nAbove = n0;
  b0.sumAbove = sum0;
  b0.n = sizes[0] as number;
  b1.nAbove = n1;
  b1.sumAbove = sum1;
  b1.n = sizes[1] as number;
  // Rank k outside a band (the samples misled us): redo that band alone.
  if (!holdsRank(b0, k)) sampledBand(s0, s1, d, k, 0, 0, 0, ws, s1, b0);
  if (!holdsRank(b1, k)) sampledBand(s1, s0, d, k, 0, 0, 0, ws, s1, b1);
  return { l1Base, l1Control, cut0: cutFromBand(b0, s1, k, 0, ws, s1), cut1: cutFromBand(b1, s0, k, 0, ws, s1) };
}

/**
 * The combiner's first pass: validation of s0 and s1 (OUT[0..1] = ‖s0‖₁, ‖s1‖₁) and the bands of
 * M0 (values s0) and M1 (values s1) at once: OUT[2..3] = counts above hi0 / hi1, OUT[4..5] = Σ s1
 * over them; band sizes into sizes[0..1]. Returns 0, −1 on a band overflow, −2 on a NaN or ±∞.
 */
function preludeKernel(
  s0: Float64Array,
  s1: Float64Array,
  hi0: number,
  lo0: number,
  hi1: number,
  lo1: number,
  v0: Float64Array,
  i0: Int32Array,
  v1: Float64Array,
  i1: Int32Array,
  sizes: Int32Array,
): number {
  const n = s0.length;
  const acc = new Float64Array(4);
  let [l1x, l1y, bad, n0, n1, nb0, nb1] = [0, 0, 0, 0, 0, 0, 0];
  for (let start = 0; start < n; start += BLOCK) {
    const end = Math.min(n, start + BLOCK);
    let s0sum = 0;
    let s1sum = 0;
    for (let i = start; i < end; i++) {
      const x = s0[i] as number;
      const y = s1[i] as number;
      bad |= Number(x - x !== 0) | Number(y - y !== 0);
      l1x += Math.abs(x);
      l1y += Math.abs(y);
      const up0 = Number(x > hi0);
      const up1 = Number(y > hi1);
      n0 += up0;
      n1 += up1;
      s0sum += y * up0;
      s1sum += y * up1;
      if ((Number(x >= lo0) & (up0 ^ 1)) !== 0) {
        if (nb0 === v0.length) return -1;
        v0[nb0] = x;
        i0[nb0++] = i;
      }
      if ((Number(y >= lo1) & (up1 ^ 1)) !== 0) {
        if (nb1 === v1.length) return -1;
        v1[nb1] = y;
        i1[nb1++] = i;
      }
    }
    kahan(acc, 0, s0sum);
    kahan(acc, 2, s1sum);
  }
  if (bad) return -2;
  OUT[0] = l1x;
  OUT[1] = l1y;
  OUT[2] = n0;
  OUT[3] = n1;
  OUT[4] = acc[0] as number;
  OUT[5] = acc[2] as number;
  sizes[0] = nb0;
  sizes[1] = nb1;
  return 0;
}
