import { afterEach, describe, expect, it, vi } from 'vitest';
import { combine } from '../../../src/prune/cops/combine.js';
import { InfeasibleControlError } from '../../../src/prune/cops/errors.js';
import { keepCount } from '../../../src/prune/cops/layout.js';
import { SelectWorkspace } from '../../../src/prune/cops/select.js';
import { topKMask } from '../../../src/prune/cops/topk.js';
import { ShapeError, ValueError } from '../../../src/tensor/errors.js';
import { Rng } from '../../../src/tensor/rng.js';
import { solveCops } from './highs.js';
import { maskSet, naiveTopK, sumAt } from './reference.js';

// specs/cops.md §9.1: the six-weight example, fed without normalisation.
const S0 = [0.3, 0.25, 0.2, 0.15, 0.06, 0.04];
const S1 = [-0.2, 0.1, 0.05, 0.4, 0.5, 0.15];

describe('§9.1 six-weight example under K1', () => {
  it('has M0 = {0,1} (S⁰ 0.55, S¹ −0.10), M1 = {3,4} (S⁰ 0.21, S¹ 0.90) and the path {0,1} → {1,3} → {3,4}', () => {
    const [s0, s1] = [Float64Array.from(S0), Float64Array.from(S1)];
    expect(maskSet(topKMask(s0, s1, 0, 2))).toEqual([0, 1]);
    expect(maskSet(topKMask(s1, s0, 0, 2))).toEqual([3, 4]);
    expect(sumAt(S0, [0, 1])).toBeCloseTo(0.55, 15);
    expect(sumAt(S1, [3, 4])).toBeCloseTo(0.9, 15);
    // Breakpoints: at 0.25 π₀ = π₃ and index 3 wins (larger s¹); at 0.475 π₁ = π₄ and index 4 wins.
    for (const [lam, set] of [
      [0.1, [0, 1]],
      [0.25, [1, 3]],
      [0.3, [1, 3]],
      [0.475, [3, 4]],
      [2, [3, 4]],
    ] as const) {
      expect(maskSet(topKMask(s0, s1, lam, 2)), `λ = ${lam}`).toEqual(set);
      expect(naiveTopK(S0, S1, lam, 2), `naive λ = ${lam}`).toEqual(set);
    }
  });

  it.each([
    [0, -0.1, 0, [0, 1], 0.55, 0.55],
    [0.25, 0.15, 0.25, [1, 3], 0.4, 0.4875],
    [0.5, 0.4, 0.25, [1, 3], 0.4, 0.425],
    [0.75, 0.65, 0.475, [3, 4], 0.21, 0.32875],
    [1, 0.9, 0.475, [3, 4], 0.21, 0.21],
  ])('κ = %s: c = %s, λ = %s, mask %j, S⁰ = %s, LP optimum %s', (kappa, c, lambda, mask, s0m, lp) => {
    const r = combine({ base: S0, control: S1, k: 2, kappa });
    expect(r.c).toBeCloseTo(c, 12);
    expect(Math.abs(r.lambda - lambda)).toBeLessThanOrEqual(1e-6);
    expect(maskSet(r.mask)).toEqual(mask);
    expect(r.baseScore).toBeCloseTo(s0m, 12);
    expect(r.lpBound).toBeCloseTo(lp, 7);
    expect(r.status).toBe(kappa === 0 ? 'inactive' : 'solved');
    expect(r.simToBase).toBe(mask.filter((i) => i < 2).length / 2);
    expect(r.simToControl).toBe(mask.filter((i) => i === 3 || i === 4).length / 2);
    expect(r.baseRatio).toBeCloseTo(s0m / 0.55, 12);
  });
});

describe('§9.2 same example at κ = 0.25: LP, MILP and the certificate', () => {
  it('HiGHS: x0 = 7/12, x1 = 1, x3 = 5/12, ctrl dual −0.25, optimum = lpBound', async () => {
    const r = combine({ base: S0, control: S1, k: 2, kappa: 0.25 });
    const lp = await solveCops(S0, S1, 2, r.c);
    expect(lp.status).toBe('Optimal');
    expect(Array.from(lp.x).map((v) => Number(v.toFixed(12)))).toEqual([Number((7 / 12).toFixed(12)), 1, 0, Number((5 / 12).toFixed(12)), 0, 0]);
    expect(lp.ctrlDual).toBeCloseTo(-0.25, 9);
    expect(Math.abs(lp.objective - r.lpBound)).toBeLessThanOrEqual(1e-9);
  });

  it('the MILP optimum is 0.45 at {1,2}, above the mask: COPS is not the integer optimum', async () => {
    const r = combine({ base: S0, control: S1, k: 2, kappa: 0.25 });
    const milp = await solveCops(S0, S1, 2, r.c, true);
    expect(milp.objective).toBeCloseTo(0.45, 12);
    expect(maskSet(Uint8Array.from(milp.x, Math.round))).toEqual([1, 2]);
    expect(r.baseScore).toBeLessThan(milp.objective);
    expect(milp.objective).toBeLessThanOrEqual(r.lpBound + 1e-12);
  });

  it('the solver-free certificate holds at κ = 0.75 with x1 = 0.625, x3 = 1, x4 = 0.375', () => {
    const r = combine({ base: S0, control: S1, k: 2, kappa: 0.75 });
    const [lo, hi] = r.bracket;
    const aLo = naiveTopK(S0, S1, lo, 2);
    const aHi = naiveTopK(S0, S1, hi, 2);
    expect([aLo, aHi]).toEqual([
      [1, 3],
      [3, 4],
    ]);
    const [i, j] = [1, 4]; // out, in
    const lamStar = ((S0[i] as number) - (S0[j] as number)) / ((S1[j] as number) - (S1[i] as number));
    expect(lamStar).toBeCloseTo(0.475, 15);
    const t = (r.c - sumAt(S1, aLo)) / (sumAt(S1, aHi) - sumAt(S1, aLo));
    const x = S0.map((_, q) => t * Number(aHi.includes(q)) + (1 - t) * Number(aLo.includes(q)));
    expect(x.map((v) => Number(v.toFixed(12)))).toEqual([0, 0.625, 0, 1, 0.375, 0]);
    const dual = sumAt(
      S0.map((v, q) => v + lamStar * (S1[q] as number)),
      naiveTopK(S0, S1, lamStar, 2),
    );
    expect(Math.abs(x.reduce((s, v, q) => s + v * (S0[q] as number), 0) - (dual - lamStar * r.c))).toBeLessThanOrEqual(1e-12);
  });
});

describe('§9.5–9.7 ties, inactive and infeasible constraints, k', () => {
  it('§9.5 ties: s⁰ all 0.25, s¹ = [0.1, 0.3, 0.3, 0.3], k = 2 gives M0 = {1,2}', () => {
    const base = [0.25, 0.25, 0.25, 0.25];
    const control = [0.1, 0.3, 0.3, 0.3];
    expect(maskSet(topKMask(Float64Array.from(base), Float64Array.from(control), 0, 2))).toEqual([1, 2]);
    const r = combine({ base, control, k: 2, kappa: 0 });
    expect(maskSet(r.mask)).toEqual([1, 2]);
    expect(r.status).toBe('inactive');
  });

  it('a run of more than 4,096 equal values at the cut finishes (it once looped forever) and keeps the tie rule', { timeout: 30_000 }, () => {
    const rng = new Rng(1);
    const d = 20_000;
    const s0 = Float64Array.from({ length: d }, () => 1 + rng.int(4)); // four values, ≈ 5,000 of each
    const s1 = Float64Array.from({ length: d }, () => rng.normal());
    expect(maskSet(topKMask(s0, s1, 0, 7_000, new SelectWorkspace()))).toEqual(naiveTopK(s0, s1, 0, 7_000));
    const r = combine({ base: s0, control: s1, k: 7_000, kappa: 0.5 });
    expect(r.status).toBe('solved');
    expect(maskSet(r.mask)).toEqual(naiveTopK(s0, s1, r.lambda, 7_000));
  });

  it('§9.6 c ≤ S¹(M0) returns λ = 0 and M0', () => {
    for (const c of [-0.1, -0.5]) {
      const r = combine({ base: S0, control: S1, k: 2, c });
      expect([r.lambda, maskSet(r.mask), r.status, r.evaluations]).toEqual([0, [0, 1], 'inactive', 1]);
    }
  });

  it('§9.6 c > T_k(s¹) throws InfeasibleControlError; clamp returns M1', () => {
    const err = (() => {
      try {
        combine({ base: S0, control: S1, k: 2, c: 0.95 });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(InfeasibleControlError);
    expect(err).toBeInstanceOf(ValueError);
    expect(err).toMatchObject({ c: 0.95, k: 2 });
    expect((err as InfeasibleControlError).max).toBeCloseTo(0.9, 15);
    expect((err as Error).message).toMatch(/cops\.combine: control level c = 0\.95 is unreachable: the k = 2 largest control scores sum to T_k = 0\.9/);
    const r = combine({ base: S0, control: S1, k: 2, c: 0.95, onInfeasible: 'clamp' });
    expect([maskSet(r.mask), r.status, r.lambda]).toEqual([[3, 4], 'clamped', Number.POSITIVE_INFINITY]);
    expect(r.lpBound).toBeNaN();
  });

  it('§9.7 keepCount: d = 1000, σ = 0.9 → 100 (rounded, not truncated); σ = 1 → 1; σ = 0 → d and the all-ones mask', () => {
    expect((1 - 0.9) * 1000).toBe(99.99999999999997);
    expect(keepCount(1000, 0.9)).toBe(100);
    expect(keepCount(1000, 1)).toBe(1);
    expect(keepCount(1000, 0)).toBe(1000);
    const rng = new Rng(7);
    const base = Float64Array.from({ length: 1000 }, () => rng.uniform());
    const control = Float64Array.from({ length: 1000 }, () => rng.normal());
    const all = combine({ base, control, k: keepCount(1000, 0), kappa: 0.5 });
    expect(all.mask.every((m) => m === 1)).toBe(true);
    expect(combine({ base, control, k: keepCount(1000, 1), kappa: 1 }).mask.reduce((s, m) => s + m, 0)).toBe(1);
    expect(() => keepCount(1000, 1.5)).toThrow(/sparsity must be in \[0, 1\], got 1.5/);
  });

  it('given λ (K4): top-k of s⁰ + λ·s¹, certified at its own level', () => {
    const r = combine({ base: S0, control: S1, k: 2, lambda: 0.3 });
    expect([maskSet(r.mask), r.status, r.evaluations]).toEqual([[1, 3], 'given-lambda', 1]);
    expect(r.c).toBeCloseTo(0.5, 15);
    expect(r.lpBound).toBeCloseTo(0.4, 15);
  });
});

describe('§9.14 scale', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('d = 1e7 random scores: ≤ 250 evaluations, no full sort, a feasible mask of k weights', () => {
    const d = 10_000_000;
    const rng = new Rng(14);
    const base = new Float64Array(d);
    const control = new Float64Array(d);
    for (let i = 0; i < d; i++) {
      base[i] = rng.uniform() * 1e-7;
      control[i] = (rng.uniform() - 0.45) * 1e-7;
    }
    const sorted: number[] = [];
    const sort = Float64Array.prototype.sort;
    vi.spyOn(Float64Array.prototype, 'sort').mockImplementation(function (this: Float64Array, cmp) {
      sorted.push(this.length);
      return sort.call(this, cmp);
    });
    const k = keepCount(d, 0.9);
    const r = combine({ base, control, k, kappa: 0.5, workspace: new SelectWorkspace() });
    expect(r.status).toBe('solved');
    expect(r.evaluations).toBeLessThanOrEqual(250);
    expect(Math.max(...sorted)).toBeLessThanOrEqual(65_536); // samples only
    let kept = 0;
    for (let i = 0; i < d; i++) kept += r.mask[i] as number;
    expect(kept).toBe(k);
    expect(r.controlScore).toBeGreaterThanOrEqual(
      r.c -
        1e-12 *
          Math.max(
            1,
            control.reduce((s, x) => s + Math.abs(x), 0),
          ),
    );
    expect(r.baseScore).toBeLessThanOrEqual(r.lpBound * (1 + 1e-12));
  });
});

describe('bad input: typed errors naming what was wrong', () => {
  const base = [0.3, 0.25, 0.2];
  const control = [0.1, 0.2, 0.3];
  it.each([
    ['NaN in base', { base: [0.3, Number.NaN, 0.2], control, k: 1, kappa: 0.5 }, ValueError, /cops\.combine: base\[1\] is NaN; scores must be finite/],
    ['Inf in control', { base, control: [0.1, 0.2, Number.POSITIVE_INFINITY], k: 1, kappa: 0.5 }, ValueError, /control\[2\] is Infinity/],
    ['mismatched lengths', { base, control: [0.1, 0.2], k: 1, kappa: 0.5 }, ShapeError, /base and control must have the same length, got 3 and 2/],
    ['empty scores', { base: [], control: [], k: 1, kappa: 0.5 }, ShapeError, /base and control are empty/],
    ['k = 0', { base, control, k: 0, kappa: 0.5 }, ValueError, /k must be an integer in \[1, d = 3\], got 0/],
    ['k > d', { base, control, k: 4, kappa: 0.5 }, ValueError, /k must be an integer in \[1, d = 3\], got 4/],
    ['k not an integer', { base, control, k: 1.5, kappa: 0.5 }, ValueError, /got 1\.5/],
    ['all-zero base', { base: [0, 0, 0], control, k: 1, kappa: 0.5 }, ValueError, /base is all zeros/],
    ['all-zero control', { base, control: [0, -0, 0], k: 1, kappa: 0.5 }, ValueError, /control is all zeros/],
    ['kappa outside [0, 1]', { base, control, k: 1, kappa: 1.2 }, ValueError, /kappa must be in \[0, 1\], got 1\.2/],
    ['kappa and c together', { base, control, k: 1, kappa: 0.5, c: 0.1 }, ValueError, /give exactly one of kappa, c or lambda, got kappa and c/],
    ['no level', { base, control, k: 1 }, ValueError, /give exactly one of kappa, c or lambda, got none/],
    ['negative lambda', { base, control, k: 1, lambda: -1 }, ValueError, /lambda must be finite and >= 0, got -1/],
    [
      'K2 on a signed control',
      { base, control: [0.1, -0.2, 0.3], k: 1, kappa: 0.5, mapping: 'K2' },
      ValueError,
      /mapping 'K2' needs a non-negative control score, got control\[1\] = -0\.2/,
    ],
    ['unreachable control level', { base, control, k: 1, c: 0.31 }, InfeasibleControlError, /c = 0\.31 is unreachable/],
    ['a string for a score', { base: 'abc', control, k: 1, kappa: 0.5 }, TypeError, /base must be a Float64Array or an array of numbers, got string/],
  ])('%s', (_, opts, cls, msg) => {
    expect(() => combine(opts as never)).toThrow(cls);
    expect(() => combine(opts as never)).toThrow(msg);
  });
});
