/** Entropy-based filter scores (specs/cops.md §8): §9 test 13, the pruning order, the balanced subset, the activations graph. */
import { describe, expect, it } from 'vitest';
import { create } from '../../../src/cnn/api.js';
import { fromArrays } from '../../../src/data/dataset.js';
import { activationMeans, balancedSubset, entropyScores, entropyScoresOf, postActivation } from '../../../src/prune/filters/entropy.js';
import { maskFilters, pruneFilters } from '../../../src/prune/filters/prune.js';
import { pruneOrder, selectFilters } from '../../../src/prune/filters/rank.js';
import { ShapeError, ValueError } from '../../../src/tensor/errors.js';
import { Rng } from '../../../src/tensor/rng.js';
import { tensor } from '../../../src/tensor/tensor.js';
import { producerConsumer, SESSION } from './helpers.js';

/** Columns as the [n, c] matrix M. */
const columns = (...cols: number[][]) => {
  const n = (cols[0] as number[]).length;
  return tensor(
    Float64Array.from({ length: n * cols.length }, (_, k) => (cols[k % cols.length] as number[])[Math.floor(k / cols.length)] as number),
    [n, cols.length],
  );
};

describe('§9 test 13: entropy example (n = 4, m = 2)', () => {
  const h = entropyScores(columns([0, 0, 1, 1], [0, 0, 0, 1], [2, 2, 2, 2]), 2);
  it('[0,0,1,1] → ln 2, [0,0,0,1] → 0.5623, [2,2,2,2] → 0', () => {
    expect(h[0]).toBeCloseTo(Math.LN2, 12);
    expect(h[1]).toBeCloseTo(-(0.75 * Math.log(0.75) + 0.25 * Math.log(0.25)), 12);
    expect(h[1]).toBeCloseTo(0.5623, 4);
    expect(h[2]).toBe(0);
  });
  it('pruning order: the constant column, then 0.5623, then 0.6931', () => {
    expect(Array.from(pruneOrder(h, 'entropy'))).toEqual([2, 1, 0]);
    expect(Array.from(selectFilters(h, 0.3, 'entropy').removed)).toEqual([2]);
    expect(Array.from(selectFilters(h, 0.5, 'entropy').removed)).toEqual([2, 1]);
  });
  it('ties go by the lower index first; the top value lands in the last bin', () => {
    expect(Array.from(pruneOrder([0, 0.5, 0, 0.5], 'entropy'))).toEqual([0, 2, 1, 3]);
    expect(entropyScores(columns([0, 1, 2, 3]), 4)[0]).toBeCloseTo(Math.log(4), 12);
    expect(entropyScores(columns([0, 1, 2, 3]), 100)[0]).toBeCloseTo(Math.log(4), 12);
  });
  it('bad input: wrong rank, NaN, bins', () => {
    expect(() => entropyScores(tensor(new Float32Array(4), [4]))).toThrow(ShapeError);
    expect(() => entropyScores(columns([0, Number.NaN]))).toThrow(/m must be finite, got NaN at index 1/);
    expect(() => entropyScores(columns([0, 1]), 0)).toThrow(ValueError);
  });
});

describe('scores of a model', () => {
  const rng = new Rng(2);
  const n = 40;
  const ds = fromArrays(
    Uint8Array.from({ length: n * 16 }, () => rng.int(256)),
    Array.from({ length: n }, (_, i) => (i * 7) % 10),
    { c: 1, h: 4, w: 4 },
    { classes: 10 },
  );
  it('balancedSubset: the first ⌊n/C⌋ images of each class in stored order, the first n mod C classes one more', () => {
    const s = balancedSubset(ds, 23);
    const counts = Array.from({ length: 10 }, (_, c) => Array.from(s.labels).filter((l) => l === c).length);
    expect(counts).toEqual([3, 3, 3, 2, 2, 2, 2, 2, 2, 2]);
    expect(() => balancedSubset(ds, 50)).toThrow(/class 0 has 4 images, 5 needed for 50 balanced images/);
  });
  it('M is the global average of the post-activation output; a zeroed filter has H = 0 and goes first', async () => {
    const m = producerConsumer(1, 3);
    expect(postActivation(m.config, 'a')).toBe('relu_a');
    const masked = maskFilters(m, { a: [0, 2] });
    const means = await activationMeans(masked, ds, { layers: ['a'], batchSize: 16, session: SESSION });
    const a = means['a'];
    expect(a?.dims).toEqual([n, 3]);
    expect(Array.from({ length: n }, (_, i) => a?.data[i * 3 + 1])).toEqual(new Array(n).fill(0));
    expect(Math.min(...(a?.data ?? []))).toBeGreaterThanOrEqual(0); // after ReLU
    const h = (await entropyScoresOf(masked, ds, { layers: ['a'], bins: 10, images: 20, session: SESSION }))['a'] as Float64Array;
    expect(h[1]).toBe(0);
    expect(Math.min(h[0] as number, h[2] as number)).toBeGreaterThan(0);
    const r = pruneFilters(masked, { ratios: { a: 0.3 }, criterion: 'entropy', scores: { a: h } });
    expect([Array.from(r.layers[0]?.keep ?? []), r.plan.method]).toEqual([[0, 2], 'entropy']);
  });
  it('defaults to the prunable convs; a linear-only model needs named layers', async () => {
    await expect(activationMeans(create('lenet-300-100'), ds)).rejects.toThrow(/lenet-300-100 has no prunable conv layer/);
  });
});
