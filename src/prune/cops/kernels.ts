/**
 * The combiner's O(d) loops, each a tiny function: a solve calls each once on ~10⁷ elements, so it
 * runs in on-stack-replaced code, which V8 makes good only for small loop bodies (measured: the
 * same loop inside a larger function with a `throw` ran 3× slower). Branch-free where the branch
 * would be data-dependent (`Number(x > y)` is a flag, not a jump): on a shared CPU one
 * mispredicted branch per element costs more than the memory traffic of the pass.
 *
 * A band copy is one rarely-taken branch on a flag computed without branches: `if (v >= lo && …)`
 * mispredicted on every value above lo and made the pass twice as slow.
 *
 * Values: v_i = (a_i + x·b⁺_i) − y·b⁻_i with b± = (|b_i| ± b_i)/2. One of b⁺, b⁻ is +0 and the
 * other |b_i| exactly, so with (x, y) = (λ, λ) this is bit-for-bit a_i + λ·b_i (up to the sign of
 * a zero), with (λa, λb) it is min(π_i(λa), π_i(λb)) and with (λb, λa) the max (0 ≤ λa ≤ λb).
 * Results besides the return value go to OUT.
 *
 * Sums are blocked: a plain sum over each block of 1024 elements (one add of latency per element;
 * Kahan's chain of four dependent adds per element made the passes 4× slower), and the block sums
 * are added with Kahan. Error ≈ 1024·ε relative to Σ|x| in the worst case, far inside the
 * combiner's tol of 1e-12.
 */

export const BLOCK = 1024;

/** Kahan accumulator over block sums: [sum, carry]. */
export function kahan(acc: Float64Array, k: number, x: number): void {
  const y = x - (acc[k + 1] as number);
  const t = (acc[k] as number) + y;
  acc[k + 1] = t - (acc[k] as number) - y;
  acc[k] = t;
}

/** Extra results of the last kernel call. */
export const OUT = new Float64Array(8);

/** Σ|x_i| over i < n, or −1 if some x_i is NaN or ±∞. */
export function l1Kernel(x: Float64Array, n: number): number {
  let l1 = 0;
  let bad = 0;
  for (let i = 0; i < n; i++) {
    const v = x[i] as number;
    bad |= Number(v - v !== 0);
    l1 += Math.abs(v);
  }
  return bad ? -1 : l1;
}

/**
 * One pass for a band of π = a + λ·b (mode 0, the plain formula every mode-0 pass uses): counts
 * π_i > hi (OUT[0]) and sums `col` over them (OUT[1]; useSum = 0 skips), copies π_i ∈ [lo, hi]
 * with their indices into (bv, bi). Returns the band size, or −1 when it outgrew bv.
 */
export function bandKernel0(
  a: Float64Array,
  b: Float64Array,
  n: number,
  lam: number,
  hi: number,
  lo: number,
  bv: Float64Array,
  bi: Int32Array,
  col: Float64Array,
  useSum: number,
): number {
  const cap = bv.length;
  const acc = new Float64Array(2);
  let above = 0;
  let nb = 0;
  for (let start = 0; start < n; start += BLOCK) {
    const end = Math.min(n, start + BLOCK);
    let s = 0;
    for (let i = start; i < end; i++) {
      const v = (a[i] as number) + lam * (b[i] as number);
      const up = Number(v > hi);
      above += up;
      s += (col[i] as number) * (up & useSum);
      if ((Number(v >= lo) & (up ^ 1)) !== 0) {
        if (nb === cap) return -1;
        bv[nb] = v;
        bi[nb] = i;
        nb++;
      }
    }
    kahan(acc, 0, s);
  }
  OUT[0] = above;
  OUT[1] = acc[0] as number;
  return nb;
}

/** Values only: counts x_i > hi (OUT[0]) and copies x_i ∈ [lo, hi] to out. Returns the count copied, −1 on overflow. */
export function valueBandKernel(x: Float64Array, n: number, hi: number, lo: number, out: Float64Array): number {
  const cap = out.length;
  let above = 0;
  let nb = 0;
  for (let i = 0; i < n; i++) {
    const v = x[i] as number;
    const up = Number(v > hi);
    above += up;
    if ((Number(v >= lo) & (up ^ 1)) !== 0) {
      if (nb === cap) return -1;
      out[nb++] = v;
    }
  }
  OUT[0] = above;
  return nb;
}

/**
 * One pass for a band: counts v_i > hi (OUT[0]) and sums `col` over them (OUT[1]; pass
 * useSum = 0 to skip), copies v_i ∈ [lo, hi] with their indices into (bv, bi). Returns the band
 * size, or −1 when it outgrew bv.
 */
export function bandKernel(
  a: Float64Array,
  b: Float64Array,
  n: number,
  x: number,
  y: number,
  hi: number,
  lo: number,
  bv: Float64Array,
  bi: Int32Array,
  col: Float64Array,
  useSum: number,
): number {
  const cap = bv.length;
  const acc = new Float64Array(2);
  let above = 0;
  let nb = 0;
  for (let start = 0; start < n; start += BLOCK) {
    const end = Math.min(n, start + BLOCK);
    let s = 0;
    for (let i = start; i < end; i++) {
      const bb = b[i] as number;
      const ab = Math.abs(bb);
      const v = (a[i] as number) + x * ((ab + bb) * 0.5) - y * ((ab - bb) * 0.5);
      const up = Number(v > hi);
      above += up;
      s += (col[i] as number) * (up & useSum);
      if ((Number(v >= lo) & (up ^ 1)) !== 0) {
        if (nb === cap) return -1;
        bv[nb] = v;
        bi[nb] = i;
        nb++;
      }
    }
    kahan(acc, 0, s);
  }
  OUT[0] = above;
  OUT[1] = acc[0] as number;
  return nb;
}

/**
 * The narrowing pass of ./path.ts over [lo, hi] against bounds [L, U]: elements whose π stays
 * below L are dropped, those above U counted as always in A, the rest (candidates) copied to
 * (da, db) in order. OUT = [#{min ≥ L}, #{max > U}, #always-in, Σ b over always-in]. Returns the
 * candidate count. Branch-free (a candidate slot is written every time, kept for candidates).
 */
export function narrowKernel(
  a: Float64Array,
  b: Float64Array,
  n: number,
  lo: number,
  hi: number,
  L: number,
  U: number,
  da: Float64Array,
  db: Float64Array,
): number {
  const acc = new Float64Array(2);
  let atLeastL = 0;
  let aboveU = 0;
  let inA = 0;
  let j = 0;
  for (let start = 0; start < n; start += BLOCK) {
    const end = Math.min(n, start + BLOCK);
    let s = 0;
    for (let i = start; i < end; i++) {
      const ai = a[i] as number;
      const bi = b[i] as number;
      const ab = Math.abs(bi);
      const bp = (ab + bi) * 0.5;
      const bn = (ab - bi) * 0.5;
      const mn = ai + lo * bp - hi * bn;
      const mx = ai + hi * bp - lo * bn;
      atLeastL += Number(mn >= L);
      aboveU += Number(mx > U);
      const sure = Number(mn > U);
      inA += sure;
      s += bi * sure;
      da[j] = ai;
      db[j] = bi;
      j += Number(mx >= L) & (sure ^ 1);
    }
    kahan(acc, 0, s);
  }
  OUT[0] = atLeastL;
  OUT[1] = aboveU;
  OUT[2] = inA;
  OUT[3] = acc[0] as number;
  return j;
}

/**
 * 0/1 membership of every element in the set {π > τ} ∪ {π = τ, b > τ1} ∪ (the first `takeEq` with
 * π = τ, b = τ1, lowest index first), π = a + λ·b, written to mask.
 */
export function maskKernel(a: Float64Array, b: Float64Array, n: number, lam: number, tau: number, tau1: number, takeEq: number, mask: Uint8Array): void {
  let left = takeEq;
  for (let i = 0; i < n; i++) {
    const bi = b[i] as number;
    const v = (a[i] as number) + lam * bi;
    let m = Number(v > tau);
    if (v === tau) {
      m = Number(bi > tau1 || (bi === tau1 && left > 0));
      if (bi === tau1 && left > 0) left--;
    }
    mask[i] = m;
  }
}
