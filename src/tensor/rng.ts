import { ValueError } from './errors.js';

export interface RngState {
  readonly s: readonly number[];
  readonly spareNormal: number | null;
}

/**
 * Seeded, splittable random numbers: xoshiro128** (Blackman & Vigna, 2018) with its 128-bit state
 * filled by splitmix32 from a 32-bit seed. 32-bit integer math only (Math.imul), so every platform
 * draws the same stream. `uniform()` has 2^-32 resolution: the k-th call returns `next32() / 2^32`.
 *
 * `split()` returns a generator whose state is derived from four outputs of this one (passed
 * through splitmix32 again), so init, shuffling, augmentation and exploration can each own a stream
 * and adding draws to one never shifts another.
 */
export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  private spareNormal: number | null = null;

  constructor(seed: number) {
    if (!Number.isInteger(seed)) throw new ValueError('Rng', `seed must be an integer, got ${seed}`);
    let x = seed >>> 0;
    const mix = (): number => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = mix();
    this.s1 = mix();
    this.s2 = mix();
    this.s3 = mix();
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1; // the all-zero state is a fixed point
  }

  /** Next raw 32-bit unsigned integer. */
  next32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform in [0, 1) (or [lo, hi)). */
  uniform(lo = 0, hi = 1): number {
    return lo + (hi - lo) * (this.next32() / 4294967296);
  }

  /** Integer uniform in [0, n): `floor(uniform() · n)`, the rule the APT spec states. */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0) throw new ValueError('Rng.int', `n must be a positive integer, got ${n}`);
    return Math.floor(this.uniform() * n);
  }

  /** Standard normal by Box–Muller (the second value of each pair is kept for the next call). */
  normal(mean = 0, std = 1): number {
    if (this.spareNormal !== null) {
      const z = this.spareNormal;
      this.spareNormal = null;
      return mean + std * z;
    }
    let u = this.uniform();
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spareNormal = r * Math.sin(2 * Math.PI * v);
    return mean + std * r * Math.cos(2 * Math.PI * v);
  }

  /**
   * Normal(mean, std) truncated to the absolute interval [lo, hi] by rejection, as timm's
   * `trunc_normal_(std, a=lo, b=hi)` (lo/hi are values, not multiples of std).
   */
  truncNormal(mean = 0, std = 1, lo = -2, hi = 2): number {
    if (!(lo < hi)) throw new ValueError('Rng.truncNormal', `need lo < hi, got [${lo}, ${hi}]`);
    if (mean + 6 * std < lo || mean - 6 * std > hi) {
      throw new ValueError('Rng.truncNormal', `[${lo}, ${hi}] is more than 6 std from mean ${mean}`);
    }
    for (;;) {
      const z = this.normal(mean, std);
      if (z >= lo && z <= hi) return z;
    }
  }

  /** Random permutation of 0..n-1 (Fisher–Yates, last index first). */
  permutation(n: number): Int32Array {
    if (!Number.isInteger(n) || n < 0) throw new ValueError('Rng.permutation', `n must be an integer >= 0, got ${n}`);
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = p[i] as number;
      p[i] = p[j] as number;
      p[j] = t;
    }
    return p;
  }

  /** Index drawn with probability proportional to `weights` (non-negative, not all zero). */
  categorical(weights: ArrayLike<number>): number {
    let total = 0;
    for (let i = 0; i < weights.length; i++) {
      const w = weights[i] as number;
      if (!(w >= 0) || !Number.isFinite(w)) {
        throw new ValueError('Rng.categorical', `weights must be finite and >= 0, got ${w} at index ${i}`);
      }
      total += w;
    }
    if (total === 0) throw new ValueError('Rng.categorical', 'weights are all zero');
    let u = this.uniform() * total;
    for (let i = 0; i < weights.length; i++) {
      u -= weights[i] as number;
      if (u < 0) return i;
    }
    // Rounding left u ≥ 0: return the last index with positive weight.
    for (let i = weights.length - 1; i >= 0; i--) if ((weights[i] as number) > 0) return i;
    return weights.length - 1;
  }

  /** Fills `out` with uniform [lo, hi) draws. */
  fillUniform<T extends Float32Array | Float64Array>(out: T, lo = 0, hi = 1): T {
    for (let i = 0; i < out.length; i++) out[i] = this.uniform(lo, hi);
    return out;
  }

  /** Fills `out` with normal draws. */
  fillNormal<T extends Float32Array | Float64Array>(out: T, mean = 0, std = 1): T {
    for (let i = 0; i < out.length; i++) out[i] = this.normal(mean, std);
    return out;
  }

  /** An independent generator derived from (and advancing) this one. */
  split(): Rng {
    const child = new Rng(0);
    child.s0 = this.next32() ^ 0x243f6a88;
    child.s1 = this.next32() ^ 0x85a308d3;
    child.s2 = this.next32() ^ 0x13198a2e;
    child.s3 = this.next32() ^ 0x03707344;
    for (let i = 0; i < 8; i++) child.next32(); // decorrelate from the parent's outputs
    return child;
  }

  /** Serialisable state, spare normal included (checkpoints resume the exact stream). */
  state(): RngState {
    return { s: [this.s0 >>> 0, this.s1 >>> 0, this.s2 >>> 0, this.s3 >>> 0], spareNormal: this.spareNormal };
  }

  /** Rebuilds a generator from `state()`. */
  static fromState(state: RngState): Rng {
    const s = state?.s;
    const ok = Array.isArray(s) && s.length === 4 && s.every((v) => Number.isInteger(v) && v >= 0 && v < 2 ** 32);
    if (!ok || (state.spareNormal !== null && typeof state.spareNormal !== 'number')) {
      throw new ValueError('Rng.fromState', `state must be { s: four uint32, spareNormal: number | null }, got ${JSON.stringify(state)}`);
    }
    const r = new Rng(0);
    [r.s0, r.s1, r.s2, r.s3] = s as [number, number, number, number];
    r.spareNormal = state.spareNormal;
    return r;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
