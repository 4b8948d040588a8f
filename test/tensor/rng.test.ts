import { describe, expect, it } from 'vitest';
import { ValueError } from '../../src/tensor/errors.js';
import { Rng } from '../../src/tensor/rng.js';

// An independent reference of the documented generator, in BigInt arithmetic (no Math.imul, no
// 32-bit tricks): splitmix32 fills the 128-bit state, xoshiro128** (Blackman & Vigna) draws.
const M = 0xffffffffn;
function splitmix32(seed: number): bigint[] {
  let x = BigInt(seed >>> 0);
  const out: bigint[] = [];
  for (let i = 0; i < 4; i++) {
    x = (x + 0x9e3779b9n) & M;
    let z = x;
    z = ((z ^ (z >> 16n)) * 0x85ebca6bn) & M;
    z = ((z ^ (z >> 13n)) * 0xc2b2ae35n) & M;
    out.push((z ^ (z >> 16n)) & M);
  }
  return out;
}
const rotl = (x: bigint, k: bigint) => ((x << k) | (x >> (32n - k))) & M;
function* xoshiro128ss(state: bigint[]): Generator<number> {
  const s = [...state] as [bigint, bigint, bigint, bigint];
  for (;;) {
    const result = (rotl((s[1] * 5n) & M, 7n) * 9n) & M;
    const t = (s[1] << 9n) & M;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11n);
    yield Number(result);
  }
}
const take = (it: Iterator<number>, n: number) => Array.from({ length: n }, () => it.next().value as number);
const draws = (r: Rng, n: number) => Array.from({ length: n }, () => r.next32());

describe('Rng: the documented generator', () => {
  it('pins the first uint32 outputs for seed 0 (regression)', () => {
    const r = new Rng(0);
    expect(draws(r, 6)).toEqual([3809008728, 1133695204, 53579671, 2891528803, 139681546, 2203266335]);
  });

  it('matches a BigInt reference of splitmix32 + xoshiro128** for several seeds', () => {
    for (const seed of [0, 1, 42, -1, 0x7fffffff, 123456789]) {
      const state = splitmix32(seed);
      expect(new Rng(seed).state().s).toEqual(state.map(Number));
      expect(draws(new Rng(seed), 50)).toEqual(take(xoshiro128ss(state), 50));
    }
  });

  // The vector rand_xoshiro tests against, produced by Vigna's xoshiro128starstar.c (v1.1).
  it('reproduces the published xoshiro128** vector from state [1, 2, 3, 4]', () => {
    const r = Rng.fromState({ s: [1, 2, 3, 4], spareNormal: null });
    expect(draws(r, 6)).toEqual([11520, 0, 5927040, 70819200, 2031721883, 1637235492]);
  });

  it('same seed gives the same stream; different seeds differ', () => {
    expect(draws(new Rng(7), 100)).toEqual(draws(new Rng(7), 100));
    expect(draws(new Rng(7), 10)).not.toEqual(draws(new Rng(8), 10));
  });

  it('refuses a non-integer seed', () => {
    expect(() => new Rng(0.5)).toThrow(ValueError);
    expect(() => new Rng(Number.NaN)).toThrow(/Rng: seed must be an integer, got NaN/);
  });
});

describe('Rng.split', () => {
  it('is deterministic, differs from the parent and from the next split', () => {
    const a = new Rng(3);
    const b = new Rng(3);
    const [ca, cb] = [a.split(), b.split()];
    expect(draws(ca, 20)).toEqual(draws(cb, 20));
    const c2 = a.split();
    expect(draws(a.split(), 20)).not.toEqual(draws(c2, 20));
    expect(draws(new Rng(3).split(), 20)).not.toEqual(draws(new Rng(3), 20));
  });

  it("draws from a child never shift the parent's stream", () => {
    const p1 = new Rng(11);
    const child = p1.split();
    draws(child, 1000);
    child.normal();
    const p2 = new Rng(11);
    p2.split();
    expect(draws(p1, 50)).toEqual(draws(p2, 50));
  });

  it('child and parent streams are uncorrelated', () => {
    const p = new Rng(5);
    const c = p.split();
    const n = 20000;
    let [sx, sy, sxy, sxx, syy] = [0, 0, 0, 0, 0];
    for (let i = 0; i < n; i++) {
      const [x, y] = [p.uniform(), c.uniform()];
      [sx, sy, sxy, sxx, syy] = [sx + x, sy + y, sxy + x * y, sxx + x * x, syy + y * y];
    }
    const cov = sxy / n - (sx / n) * (sy / n);
    const corr = cov / Math.sqrt((sxx / n - (sx / n) ** 2) * (syy / n - (sy / n) ** 2));
    expect(Math.abs(corr)).toBeLessThan(0.03); // ~4 standard errors at n = 20,000
  });
});

describe('Rng.state / fromState', () => {
  it('resumes exactly, including a pending Box–Muller spare, through JSON', () => {
    const r = new Rng(9);
    draws(r, 3);
    r.normal(); // leaves the pair's second value pending
    const s = r.state();
    expect(s.spareNormal).not.toBeNull();
    const resumed = Rng.fromState(JSON.parse(JSON.stringify(s)));
    const seq = (g: Rng) => [g.normal(), g.normal(), g.normal(), g.uniform(), g.int(10), ...draws(g, 5)];
    expect(seq(resumed)).toEqual(seq(r));
  });

  it('state() is a snapshot: drawing afterwards does not change it', () => {
    const r = new Rng(1);
    const s = r.state();
    const copy = JSON.parse(JSON.stringify(s));
    draws(r, 10);
    expect(s).toEqual(copy);
  });

  it('refuses malformed states', () => {
    for (const bad of [{ s: [1, 2, 3], spareNormal: null }, { s: [1, 2, 3, 2 ** 32], spareNormal: null }, { s: [1, 2, 3, 4], spareNormal: 'x' }, null]) {
      expect(() => Rng.fromState(bad as never)).toThrow(ValueError);
    }
    expect(() => Rng.fromState({ s: [1, 2, -3, 4], spareNormal: null })).toThrow(/Rng.fromState: state must be/);
  });
});

describe('Rng distributions', () => {
  it('uniform() is next32 / 2^32, in [0, 1), and uniform(lo, hi) scales it', () => {
    const [a, b] = [new Rng(2), new Rng(2)];
    for (let i = 0; i < 100; i++) expect(a.uniform()).toBe(b.next32() / 2 ** 32);
    const r = new Rng(4);
    let [lo, hi, sum] = [1, 0, 0];
    for (let i = 0; i < 100000; i++) {
      const u = r.uniform();
      [lo, hi, sum] = [Math.min(lo, u), Math.max(hi, u), sum + u];
    }
    expect(lo).toBeGreaterThanOrEqual(0);
    expect(hi).toBeLessThan(1);
    expect(lo).toBeLessThan(1e-3);
    expect(hi).toBeGreaterThan(1 - 1e-3);
    expect(Math.abs(sum / 1e5 - 0.5)).toBeLessThan(0.005);
    const s = new Rng(4);
    for (let i = 0; i < 1000; i++) {
      const u = s.uniform(-3, -1);
      expect(u >= -3 && u < -1).toBe(true);
    }
  });

  it('int(n) stays in [0, n) and is roughly uniform (chi-square)', () => {
    const r = new Rng(6);
    const n = 10;
    const counts = new Array<number>(n).fill(0);
    let outside = 0;
    for (let i = 0; i < 100000; i++) {
      const k = r.int(n);
      if (!(Number.isInteger(k) && k >= 0 && k < n)) outside++;
      else counts[k] = (counts[k] as number) + 1;
    }
    expect(outside).toBe(0);
    const chi2 = counts.reduce((s, c) => s + (c - 1e4) ** 2 / 1e4, 0);
    expect(chi2).toBeLessThan(27.9); // df = 9, p = 0.001
    expect(new Rng(0).int(1)).toBe(0);
  });

  it('int(n) refuses n that is not a positive integer', () => {
    for (const n of [0, -1, 2.5, Number.NaN]) expect(() => new Rng(0).int(n)).toThrow(ValueError);
    expect(() => new Rng(0).int(0)).toThrow(/Rng.int: n must be a positive integer, got 0/);
  });

  it('normal() has mean 0 and variance 1 over 1e5 draws; normal(m, s) = m + s·z', () => {
    const r = new Rng(8);
    const n = 100000;
    let [s1, s2] = [0, 0];
    for (let i = 0; i < n; i++) {
      const z = r.normal();
      s1 += z;
      s2 += z * z;
    }
    const mean = s1 / n;
    expect(Math.abs(mean)).toBeLessThan(0.015); // ~5 standard errors
    expect(Math.abs(s2 / n - mean * mean - 1)).toBeLessThan(0.03);
    const [a, b] = [new Rng(3), new Rng(3)];
    for (let i = 0; i < 5; i++) expect(a.normal(3, 2)).toBeCloseTo(3 + 2 * b.normal(), 12);
  });

  it('truncNormal stays within [lo, hi] and refuses empty or unreachable intervals', () => {
    const r = new Rng(10);
    for (let i = 0; i < 5000; i++) {
      const z = r.truncNormal(0, 0.02, -0.04, 0.04);
      expect(z >= -0.04 && z <= 0.04).toBe(true);
    }
    let sawTail = false;
    for (let i = 0; i < 5000; i++) {
      const z = r.truncNormal(0, 1, -0.5, 2);
      expect(z >= -0.5 && z <= 2).toBe(true);
      sawTail ||= z > 1.5;
    }
    expect(sawTail).toBe(true);
    expect(() => r.truncNormal(0, 1, 1, 1)).toThrow(/Rng.truncNormal: need lo < hi, got \[1, 1\]/);
    expect(() => r.truncNormal(0, 1, 7, 8)).toThrow(ValueError);
  });

  it('permutation is a permutation; composing with its inverse (argsort) is the identity', () => {
    const r = new Rng(12);
    const n = 257;
    const p = r.permutation(n);
    expect([...p].sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
    const inv = Array.from({ length: n }, (_, i) => i).sort((a, b) => (p[a] as number) - (p[b] as number)); // argsort
    for (let i = 0; i < n; i++) {
      expect(p[inv[i] as number]).toBe(i);
      expect(inv[p[i] as number]).toBe(i);
    }
    expect([...r.permutation(n)]).not.toEqual([...p]);
    expect([...r.permutation(0)]).toEqual([]);
    expect([...r.permutation(1)]).toEqual([0]);
    expect(() => r.permutation(-1)).toThrow(/Rng.permutation: n must be an integer >= 0, got -1/);
    expect(() => r.permutation(2.5)).toThrow(ValueError);
  });

  it('permutations of 3 are equally likely (chi-square)', () => {
    const r = new Rng(13);
    const counts = new Map<string, number>();
    for (let i = 0; i < 6000; i++) {
      const k = r.permutation(3).join('');
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    expect(counts.size).toBe(6);
    const chi2 = [...counts.values()].reduce((s, c) => s + (c - 1000) ** 2 / 1000, 0);
    expect(chi2).toBeLessThan(20.5); // df = 5, p = 0.001
  });

  it('categorical frequencies follow the weights; zero weights are never drawn', () => {
    const r = new Rng(14);
    const w = [1, 2, 0, 3, 4];
    const counts = new Array<number>(w.length).fill(0);
    const n = 100000;
    for (let i = 0; i < n; i++) {
      const k = r.categorical(w);
      counts[k] = (counts[k] as number) + 1;
    }
    expect(counts[2]).toBe(0);
    counts.forEach((c, i) => {
      expect(Math.abs(c / n - (w[i] as number) / 10)).toBeLessThan(0.01);
    });
    expect(r.categorical([0, 0, 5])).toBe(2);
  });

  it('categorical refuses negative, non-finite or all-zero weights, naming the index', () => {
    const r = new Rng(0);
    expect(() => r.categorical([1, -1])).toThrow(/Rng.categorical: weights must be finite and >= 0, got -1 at index 1/);
    expect(() => r.categorical([Number.NaN])).toThrow(ValueError);
    expect(() => r.categorical([1, Number.POSITIVE_INFINITY])).toThrow(ValueError);
    expect(() => r.categorical([0, 0])).toThrow(/weights are all zero/);
  });

  it('fillUniform / fillNormal equal the same number of single draws', () => {
    const [a, b] = [new Rng(15), new Rng(15)];
    const u = a.fillUniform(new Float64Array(7), -1, 1);
    expect([...u]).toEqual(Array.from({ length: 7 }, () => b.uniform(-1, 1)));
    const z = a.fillNormal(new Float64Array(7), 1, 2);
    expect([...z]).toEqual(Array.from({ length: 7 }, () => b.normal(1, 2)));
  });
});
