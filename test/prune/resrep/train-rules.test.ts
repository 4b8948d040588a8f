/** specs/resrep.md §9 tests 5–9: gradient reset, optimizer groups, masked-row decay, mask selection, schedule. */
import { describe, expect, it } from 'vitest';
import { create } from '../../../src/cnn/api.js';
import { insertCompactors } from '../../../src/prune/resrep/cnn.js';
import { resetCompactorGradient } from '../../../src/prune/resrep/penalty.js';
import { isMaskUpdate, selectMask } from '../../../src/prune/resrep/schedule.js';
import { resrepTrainable } from '../../../src/prune/resrep/trainer.js';
import { tensor } from '../../../src/tensor/tensor.js';
import { SGD } from '../../../src/train/optim.js';
import { warmupCosine } from '../../../src/train/schedule.js';
import { expectAllclose } from '../../helpers/allclose.js';
import { SESSION, tinyClassifier } from './helpers.js';

const t = (v: number[], dims: number[]) => tensor(Float32Array.from(v), dims, 'float32');

describe('§9.5 gradient reset', () => {
  it('λ = 0.1, Q = [[3,4],[1,0]], ∂L/∂Q = ones, m = [1, 0] gives [[1.06, 1.08], [0.1, 0]]', () => {
    const g = resetCompactorGradient(t([3, 4, 1, 0], [2, 2]), t([1, 1, 1, 1], [2, 2]), [1, 0], 0.1);
    expectAllclose(g.data, [1.06, 1.08, 0.1, 0], { atol: 1e-6 });
  });
  it('a zero row with m_j = 0 gives a zero row, not NaN', () => {
    const g = resetCompactorGradient(t([0, 0, 1, 0], [2, 2]), t([5, 5, 1, 1], [2, 2]), [0, 1], 0.1);
    expect(Array.from(g.data)).toEqual([0, 0, expect.closeTo(1.1, 6), 1]);
  });
});

describe('§9.6 optimizer groups', () => {
  it('compactor p = 1, grad 1, lr 0.1, momentum 0.99: 0.9 then 0.701; compactor and BN weight decay 0', async () => {
    const rr = insertCompactors(tinyClassifier(0));
    const tr = await resrepTrainable(rr, { target: 0.5, warmup: 0, session: SESSION });
    const opt = new SGD(tr.params, { lr: 0.1, momentum: 0.9, weightDecay: 1e-4, groups: [...(tr.paramGroups ?? [])] });
    const q = rr.params['a.compactor.weight'];
    const gamma = rr.params['bn_a.weight'];
    if (!q || !gamma) throw new Error('missing params');
    q.data.fill(1);
    gamma.data.fill(1);
    const grads = { 'a.compactor.weight': t(Array(36).fill(1), [6, 6, 1, 1]), 'bn_a.weight': t(Array(6).fill(0), [6]) };
    opt.update(grads, 0.1);
    expect(q.data[0]).toBeCloseTo(0.9, 6);
    opt.update(grads, 0.1);
    expect(q.data[0]).toBeCloseTo(0.701, 6);
    expect(Array.from(gamma.data)).toEqual(Array(6).fill(1)); // zero gradient, no decay
    const group = (n: string) => tr.paramGroups?.find((g) => g.match(n));
    expect(group('a.compactor.weight')).toMatchObject({ momentum: 0.99, weightDecay: 0 });
    expect(group('bn_a.weight')).toMatchObject({ weightDecay: 0 });
    expect(group('bn_a.bias')).toMatchObject({ weightDecay: 0, lrScale: 2 });
    expect(group('fc.bias')).toMatchObject({ weightDecay: 0, lrScale: 2 });
    expect(group('a.weight')).toBeUndefined(); // base: momentum 0.9, decay 1e-4
  });
});

describe('rounded widths (multipleOf)', () => {
  it('F counts widths rounded up to the multiple, so masking 1 of 8 channels saves nothing and 4 of 8 does', async () => {
    const t = await resrepTrainable(insertCompactors(tinyClassifier(0)), { target: 0.5, warmup: 0, multipleOf: 4, session: SESSION });
    const b = t.state().masks.b as Float32Array;
    b[0] = 0;
    expect(t.state().maskedRatio).toBe(1);
    b.fill(0, 0, 4);
    expect(t.state().maskedRatio).toBeLessThan(1);
    expect(t.state().layers.find((l) => l.layer === 'b')?.unmasked).toBe(4);
  });
});

describe('§9.7 masked-row decay', () => {
  /** Row 0 of Q, q = [1, 0]: held by the objective until `from`, then only the lasso term (mask 0). */
  function decay(from: number): number {
    const total = 40_000;
    const q = t([1, 0, 0, 1], [2, 2]);
    const opt = new SGD(new Map([['q', q]]), { lr: 0.01, momentum: 0.99 });
    const lr = warmupCosine(0, total);
    for (let k = 1; k <= total; k++) {
      if (k <= from) continue;
      const g = resetCompactorGradient(q, t([0, 0, 0, 0], [2, 2]), [0, 0], 1e-4);
      opt.update({ q: g }, 0.01 * lr(k));
    }
    return Math.hypot(q.data[0] as number, q.data[1] as number);
  }
  it('masked from iteration 0 it ends below 1e-5', () => {
    expect(decay(0)).toBeLessThan(1e-5);
  });
  it('masked from iteration 20,000 it ends above 0.1', () => {
    expect(decay(20_000)).toBeGreaterThan(0.1);
  });
});

describe('§9.8 mask selection', () => {
  const norms = [
    [0.9, 0.05, 0.8, 0.7],
    [0.01, 0.02, 0.03, 0.6],
  ];
  const F = (w: readonly number[]) => 10 * (w[0] as number) + (w[1] as number);
  const masked = (m: Uint8Array[]) => m.flatMap((x, l) => Array.from(x).flatMap((v, j) => (v === 0 ? [`${'AB'[l]}${j}`] : [])));
  it('update 1 masks B0, B1, B2, A1 (F = 31); update 2 skips B3 and masks A3 (F = 21); update 3 is unchanged', () => {
    const u1 = selectMask(norms, [4, 4], F, 0.5);
    expect(masked(u1.masks).sort()).toEqual(['A1', 'B0', 'B1', 'B2']);
    expect(u1.flops).toBe(31);
    const u2 = selectMask(norms, u1.widths, F, 0.5);
    expect(masked(u2.masks).sort()).toEqual(['A1', 'A3', 'B0', 'B1', 'B2']);
    expect(u2.flops).toBe(21);
    expect(u2.reached).toBe(true);
    const u3 = selectMask(norms, u2.widths, F, 0.5);
    expect(masked(u3.masks)).toEqual(masked(u2.masks));
    expect(u3.flops).toBe(21);
  });
  it('ties go by layer order, then channel index', () => {
    const u = selectMask([[0.1, 0.1], [0.1]], [2, 1], (w) => (w[0] as number) + (w[1] as number), 0.6, { granularity: 1 });
    expect(Array.from(u.masks[0] as Uint8Array)).toEqual([0, 1]);
  });
  it('warns (exhausted) when the target is unreachable at minimum width', () => {
    const u = selectMask([[1, 2]], [2], (w) => w[0] as number, 0.1, { granularity: 8 });
    expect(u.exhausted).toBe(true);
    expect(u.widths).toEqual([1]);
  });
});

describe('§9.9 schedule', () => {
  it('with W = 1000 and N = 200, updates happen at t = 1200, 1400, …, never at t ≤ 1000', () => {
    const at = Array.from({ length: 2001 }, (_, t) => t).filter((t) => isMaskUpdate(t, 1000, 200));
    expect(at).toEqual([1200, 1400, 1600, 1800, 2000]);
  });
  it('the preset fmnist-resnet20 has the 9 first convs of its blocks as compactor sites', () => {
    const rr = insertCompactors(create('fmnist-resnet20'));
    expect(rr.compactors.map((c) => c.layer)).toEqual([1, 2, 3].flatMap((s) => [0, 1, 2].map((b) => `layer${s}.${b}.conv1`)));
  });
});
