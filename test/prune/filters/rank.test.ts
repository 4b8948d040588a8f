/** L1 filter ranking (specs/cops.md §7): §9 test 11, ties, the n_keep guard, independent vs greedy, eligibility errors. */
import { describe, expect, it } from 'vitest';
import { create } from '../../../src/cnn/api.js';
import { PruneError } from '../../../src/prune/errors.js';
import { filterGroups } from '../../../src/prune/filters/layers.js';
import { pruneFilters, rankFilters } from '../../../src/prune/filters/prune.js';
import { l1FilterScores, nKeep, pruneOrder, selectFilters } from '../../../src/prune/filters/rank.js';
import { ShapeError, ValueError } from '../../../src/tensor/errors.js';
import { tensor } from '../../../src/tensor/tensor.js';
import { chain, producerConsumer, set } from './helpers.js';

const K = [1, -2, 0.5, 0.5, -3, 0];

describe('§9 test 11: L1 filter example', () => {
  it('K [3,2,1,1] = [[1,−2],[0.5,0.5],[−3,0]] gives s = [3, 1, 3]', () => {
    expect(Array.from(l1FilterScores(tensor(Float32Array.from(K), [3, 2, 1, 1])))).toEqual([3, 1, 3]);
  });
  it('pruning one filter removes filter 1, its BN channel and input channel 1 of the consumer', () => {
    const m = producerConsumer();
    set(m, 'a.weight', K);
    set(m, 'bn_a.weight', [10, 11, 12]);
    set(m, 'b.weight', [1, 2, 3, 4, 5, 6]); // [2, 3, 1, 1]
    const r = pruneFilters(m, { ratios: { a: 1 / 3 } });
    expect(Array.from(r.layers[0]?.keep ?? [])).toEqual([0, 2]);
    expect(Array.from(r.layers[0]?.removed ?? [])).toEqual([1]);
    expect(Array.from(r.model.params['a.weight']?.data ?? [])).toEqual([1, -2, -3, 0]);
    expect(Array.from(r.model.params['bn_a.weight']?.data ?? [])).toEqual([10, 12]);
    expect(Array.from(r.model.params['b.weight']?.data ?? [])).toEqual([1, 3, 4, 6]);
    expect(r.model.params['b.bias']).toBe(m.params['b.bias']);
    expect(r.plan).toMatchObject({ method: 'l1', layers: [{ layer: 'a', width: 3, keep: [0, 2] }] });
    expect(r.plan.macs.after).toBeLessThan(r.plan.macs.before);
  });
});

describe('ranking', () => {
  it('ties: s descending, then index (equal scores keep the lower indices)', () => {
    expect(Array.from(selectFilters([2, 2, 2], 1 / 3, 'l1').keep)).toEqual([0, 1]);
    expect(Array.from(pruneOrder([5, 1, 5, 1], 'l1'))).toEqual([3, 1, 2, 0]);
    expect(Array.from(selectFilters([5, 1, 5, 1], 0.5, 'l1').keep)).toEqual([0, 2]);
  });
  it('n_keep = max(1, floor(out·(1 − p) + 1e-9)): float noise does not lose a filter', () => {
    expect((1 - 0.9) * 1000).toBeLessThan(100); // 99.99999999999997
    expect(nKeep(1000, 0.9)).toBe(100);
    expect(nKeep(10, 0.3)).toBe(7);
    expect(nKeep(10, 0.35)).toBe(6); // the re-implementation's int(): truncation, not rounding
    expect(nKeep(3, 0.99)).toBe(1);
    expect(nKeep(16, 0)).toBe(16);
    expect(() => nKeep(16, 1)).toThrow(ValueError);
  });
  it('"independent" scores every layer on the original weights; "greedy" only over still-kept input channels', () => {
    const m = chain();
    set(m, 'conv0.weight', [0.1, 1]); // filter 0 goes
    set(m, 'conv1.weight', [10, 1, 0, 5]); // filter 0 leans on input 0: 11 vs 5, but 1 vs 5 without it
    const ratios = { conv0: 0.5, conv1: 0.5 };
    const ind = rankFilters(m, { ratios });
    const greedy = rankFilters(m, { ratios, ranking: 'greedy' });
    expect(ind.map((l) => Array.from(l.keep))).toEqual([[1], [0]]);
    expect(greedy.map((l) => Array.from(l.keep))).toEqual([[1], [1]]);
    expect(Array.from(greedy[1]?.scores ?? [])).toEqual([1, 5]);
    // Model order, whatever the order of the ratios record.
    expect(rankFilters(m, { ratios: { conv1: 0.5, conv0: 0.5 }, ranking: 'greedy' }).map((l) => l.layer)).toEqual(['conv0', 'conv1']);
  });
  it('greedy masks the NCHW column blocks of a linear after Flatten', () => {
    const w = tensor(Float32Array.from([1, 1, 1, 1, 2, 2, 2, 2]), [2, 4]); // 2 channels × 2 columns each
    expect(Array.from(l1FilterScores(w, { inputKept: { kept: [false, true], flattenSpatial: 2 } }))).toEqual([2, 4]);
    expect(() => l1FilterScores(w, { inputKept: { kept: [true], flattenSpatial: 2 } })).toThrow(ShapeError);
  });
});

describe('only internal layers qualify', () => {
  const resnet = create('fmnist-resnet20');
  it('in a residual block only the first conv; the default layers are those', () => {
    expect(filterGroups('t', resnet.config).map((g) => g.layer)).toEqual([1, 2, 3].flatMap((s) => [0, 1, 2].map((b) => `layer${s}.${b}.conv1`)));
  });
  it.each([
    ['layer1.0.conv2', 'no-mixing-op', /residual add/],
    ['conv1', 'no-mixing-op', /Add 'layer1\.0\.add'/],
    ['layer2.0.shortcut.0', 'no-mixing-op', /residual add/],
    ['fc', 'not-graph-output', /graph output 'logits'/],
    ['nope', 'plan-shapes', /is not a conv or linear layer of fmnist-resnet20/],
  ])('%s → PruneError [%s] naming the layer', (layer, rule, why) => {
    const e = (() => {
      try {
        pruneFilters(resnet, { ratios: { [layer]: 0.5 } });
      } catch (err) {
        return err;
      }
    })() as PruneError;
    expect(e).toBeInstanceOf(PruneError);
    expect([e.layer, e.rule]).toEqual([layer, rule]);
    expect(e.message).toMatch(new RegExp(`^prune\\.filters\\.rankFilters: layer '${layer.replace(/\./g, '\\.')}' \\[${rule}\\]`));
    expect(e.message).toMatch(why);
  });
  it('bad ratios, missing entropy scores and wrong score lengths are typed errors naming the layer', () => {
    const m = producerConsumer();
    expect(() => rankFilters(m, { ratios: { a: 1 } })).toThrow(/ratio of layer 'a' must be a number in \[0, 1\), got 1/);
    expect(() => rankFilters(m, { ratios: { a: Number.NaN } })).toThrow(ValueError);
    expect(() => rankFilters(m, { ratios: { a: 0.5 }, criterion: 'entropy' })).toThrow(/needs scores for layer 'a'/);
    expect(() => rankFilters(m, { ratios: { a: 0.5 }, scores: { a: [1, 2] } })).toThrow(/scores of layer 'a' must be \[3\], got \[2\]/);
    expect(() => rankFilters(m, { ratios: { a: 0.5 }, criterion: 'entropy', ranking: 'greedy', scores: { a: [1, 2, 3] } })).toThrow(ValueError);
    expect(() => l1FilterScores(tensor(Float32Array.from([1, Number.NaN]), [2, 1]))).toThrow(/weight must be finite, got NaN at index 1/);
  });
});
