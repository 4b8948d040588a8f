/** §10.9 exploration (specs/apt.md §3, stream 2): one patch token per sample, seeded. */
import { describe, expect, it } from 'vitest';
import { explore } from '../../src/agent/index.js';
import { ShapeError } from '../../src/tensor/errors.js';
import { Rng } from '../../src/tensor/rng.js';
import { N } from '../helpers/apt.js';

/** pDrop [b, N] with one clear maximum per row at `hot` (CLS larger still: it must be ignored). */
function peaked(b: number, hot = 5): Float32Array {
  const p = new Float32Array(b * N).fill(0.1);
  for (let s = 0; s < b; s++) {
    p[s * N] = 0.99;
    p[s * N + hot] = 0.9;
  }
  return p;
}

/** An Rng whose uniform() calls are counted (greedy draws once per sample, random twice). */
function counting(seed: number): { rng: Rng; calls: () => number } {
  const rng = new Rng(seed);
  let calls = 0;
  const uniform = rng.uniform.bind(rng);
  rng.uniform = (lo?: number, hi?: number) => {
    calls++;
    return uniform(lo, hi);
  };
  return { rng, calls: () => calls };
}

describe('§10.9 exploration', () => {
  it('follows the spec’s draw order exactly: per sample u, then (random branch only) 1 + ⌊rng·(N−1)⌋', () => {
    const b = 64;
    const got = explore(peaked(b), b, N, new Rng(11));
    const twin = new Rng(11);
    const want = Array.from({ length: b }, () => (twin.uniform() > 0.5 ? 5 : 1 + Math.floor(twin.uniform() * (N - 1))));
    expect(Array.from(got)).toEqual(want);
  });

  it('the same seed gives the same j_b; another seed does not', () => {
    const p = peaked(200);
    expect(explore(p, 200, N, new Rng(3))).toEqual(explore(p, 200, N, new Rng(3)));
    expect(explore(p, 200, N, new Rng(4))).not.toEqual(explore(p, 200, N, new Rng(3)));
  });

  it.each([0.5, 0.8])('over 10⁴ draws the greedy share is %d ± 0.02', (greedyProb) => {
    const b = 10_000;
    const { rng, calls } = counting(5);
    const j = explore(peaked(b), b, N, rng, { greedyProb });
    const random = calls() - b;
    expect(Math.abs((b - random) / b - greedyProb)).toBeLessThan(0.02);
    // Greedy choices are the peak; random ones hit it 1/(N − 1) of the time.
    const hot = j.filter((t) => t === 5).length;
    expect(hot).toBeGreaterThanOrEqual(b - random);
  });

  it('random indices cover 1…N−1 uniformly and are never 0 or N', () => {
    const b = 16_000;
    const counts = new Array<number>(N + 1).fill(0);
    for (const t of explore(peaked(b), b, N, new Rng(9), { greedyProb: 0 })) counts[t] = (counts[t] as number) + 1;
    expect(counts[0]).toBe(0);
    expect(counts[N]).toBe(0);
    const expected = b / (N - 1);
    const chi2 = counts.slice(1, N).reduce((s, c) => s + (c - expected) ** 2 / expected, 0);
    expect(chi2).toBeLessThan(37.7); // χ²(15) at p = 0.001
    expect(Math.min(...counts.slice(1, N))).toBeGreaterThan(0.85 * expected);
  });

  it('greedy returns the first maximal patch index (CLS excluded, ties → lowest j)', () => {
    const p = new Float32Array(2 * N).fill(0.2);
    p.set([0.95, 0.3, 0.7, 0.7, 0.1], 0); // sample 0: CLS largest, tie at 2 and 3
    p[N + N - 1] = 0.6; // sample 1: last token
    expect(Array.from(explore(p, 2, N, new Rng(0), { greedyProb: 1 }))).toEqual([2, N - 1]);
    expect(Array.from(explore(new Float32Array(3 * N).fill(1), 3, N, new Rng(0), { greedyProb: 1 }))).toEqual([1, 1, 1]);
  });

  it('bugCompat draws from 1…B−1 (the source’s bug); it needs B ≥ 2', () => {
    const wide = Array.from(explore(peaked(4000), 4000, N, new Rng(2), { greedyProb: 0, bugCompat: true }));
    expect(Math.min(...wide)).toBeGreaterThanOrEqual(1);
    expect(Math.max(...wide)).toBeLessThanOrEqual(3999);
    expect(Math.max(...wide)).toBeGreaterThan(N); // the batch size, not N, sets the range
    const small = new Set(explore(peaked(5), 5, N, new Rng(2), { greedyProb: 0, bugCompat: true }));
    for (const t of small) expect(t >= 1 && t <= 4).toBe(true);
    const many = new Set<number>();
    for (let s = 0; s < 50; s++) for (const t of explore(peaked(5), 5, N, new Rng(s), { greedyProb: 0, bugCompat: true })) many.add(t);
    expect([...many].sort()).toEqual([1, 2, 3, 4]);
    expect(() => explore(peaked(1), 1, N, new Rng(0), { bugCompat: true })).toThrow(/B ≥ 2, got B = 1/);
  });

  it('bad shapes are ShapeErrors naming the sizes', () => {
    expect(() => explore(new Float32Array(10), 2, N, new Rng(0))).toThrow(ShapeError);
    expect(() => explore(new Float32Array(10), 2, N, new Rng(0))).toThrow(/explore: pDrop must be \[2, N ≥ 2\], got 10 values for \[2,17\]/);
    expect(() => explore(new Float32Array(2), 2, 1, new Rng(0))).toThrow(ShapeError);
  });
});
