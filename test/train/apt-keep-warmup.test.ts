/**
 * The keep-warmup extension (recipe.keepWarmup): static-count strategies start stream 1 at all
 * tokens and reach their counts along a cosine; validation, checkpoints and the EViT prior stay at
 * the strategy's counts.
 */
import { describe, expect, it } from 'vitest';
import { aptTrainGraph } from '../../src/agent/index.js';
import { batches } from '../../src/data/index.js';
import { ValueError } from '../../src/tensor/errors.js';
import { type Tensor, tensor } from '../../src/tensor/tensor.js';
import { type AptEvent, type AptRecipe, apt, keepWarmupCounts } from '../../src/train/index.js';
import { blobDataset, copyOf, mixedPruner, N, paramBytes, runGraph, SESSION, TINY, tinyAptRecipe, tinyModel } from '../helpers/apt.js';

const KEEP = [12, 8, 5];
const ds = blobDataset(12, 3);
const images = [...batches(ds, { batchSize: 12, reuseBuffers: false })][0]?.images as Tensor<'float32'>;
const labels = tensor(BigInt64Array.from(ds.labels, BigInt), [12]);
const model = tinyModel(1);
const mixed = await mixedPruner(model, images, 11);
const budget = mixed.withStrategy({ kind: 'budget', keep: KEEP });

describe('keepWarmupCounts', () => {
  const at = keepWarmupCounts(KEEP, N, 16);

  it('starts at all tokens, reaches the target at the warmup and stays there', () => {
    expect(at(0)).toEqual([N, N, N]);
    expect(at(16)).toEqual(KEEP);
    expect(at(1000)).toEqual(KEEP);
  });

  it('never rises along the updates nor across the cuts, and meets at most stages + 1 distinct counts', () => {
    const seen = new Set<string>();
    let prev = at(0);
    for (let u = 0; u <= 20; u++) {
      const k = at(u);
      k.forEach((v, i) => {
        expect(v).toBeLessThanOrEqual(prev[i] as number);
        if (i > 0) expect(v).toBeLessThanOrEqual(k[i - 1] as number);
      });
      seen.add(k.join('/'));
      prev = k;
    }
    expect(seen.size).toBeLessThanOrEqual(9);
    expect(seen.size).toBeGreaterThan(2);
  });

  it('follows the cosine: halfway through the levels the counts are the midpoint', () => {
    // Level 4 of 8 (update 8 of 16): ½(1 + cos(π/2)) = ½.
    expect(at(8)).toEqual(KEEP.map((t) => Math.round((t + N) / 2)));
  });

  it('names a bad warmup, level count or target', () => {
    expect(() => keepWarmupCounts(KEEP, N, 0)).toThrow(/warmup must be an integer >= 1, got 0/);
    expect(() => keepWarmupCounts(KEEP, N, 4, 0)).toThrow(/stages must be an integer >= 1, got 0/);
    expect(() => keepWarmupCounts([12, 18, 5], N, 4)).toThrow(/target\[1\] = 18 must be an integer in \[1, 17\]/);
  });
});

describe('the prior at the strategy’s counts', () => {
  it('a stage graph with priorKeep teaches the same prior as the graph at the target counts', async () => {
    const feeds = { ...model.params, ...budget.params, images, labels };
    const target = await runGraph(aptTrainGraph(TINY, budget.config, { attentionPrior: 1 }), feeds);
    const stage = { ...budget.config, strategy: { kind: 'budget' as const, keep: [N, N, N] } };
    const warm = await runGraph(aptTrainGraph(TINY, stage, { attentionPrior: 1, priorKeep: KEEP }), feeds);
    const unaware = await runGraph(aptTrainGraph(TINY, stage, { attentionPrior: 1 }), feeds);
    KEEP.forEach((_, k) => {
      expect(warm[`prior.${k}`]?.data[0]).toBe(target[`prior.${k}`]?.data[0]);
      expect(unaware[`prior.${k}`]?.data[0]).not.toBe(target[`prior.${k}`]?.data[0]);
      expect(Array.from(warm[`kept.${k}`]?.data as Float32Array)).toEqual(new Array(12).fill(N));
    });
    expect(() => aptTrainGraph(TINY, stage, { attentionPrior: 1, priorKeep: [5, 4] })).toThrow(/priorKeep needs one count per cut layer \(3\), got 2/);
  });
});

const RECIPE = tinyAptRecipe({ warmup: 1, total: 6, seed: 5 });

async function kept(recipe: Partial<AptRecipe>, pruner = budget) {
  const c = copyOf(model, pruner);
  const events: number[][] = [];
  const onEvent = (e: AptEvent) => e.kind === 'update' && events.push([...e.keptMean]);
  await apt({ model: c.model, pruner: c.pruner, train: ds, recipe: { ...RECIPE, ...recipe }, session: SESSION, onEvent });
  return { events, params: { ...c.model.params, ...c.pruner.params } };
}

describe('train.apt with keepWarmup', () => {
  it('stream 1 keeps the scheduled counts update by update, then the strategy’s; the same seed gives the same weights', async () => {
    const at = keepWarmupCounts(KEEP, N, 4);
    const a = await kept({ keepWarmup: 4, attentionPrior: 1 });
    a.events.forEach((k, u) => {
      expect(k).toEqual(at(u));
    });
    expect(a.events[0]).toEqual([N, N, N]);
    expect(a.events.at(-1)).toEqual(KEEP);
    const b = await kept({ keepWarmup: 4, attentionPrior: 1 });
    expect(paramBytes(a.params)).toEqual(paramBytes(b.params));
    const none = await kept({ attentionPrior: 1 });
    expect(none.events[0]).toEqual(KEEP);
  });

  it('evit follows the schedule too; threshold, a warmup as long as the run and the pruned context are refused by name', async () => {
    const evit = await kept({ keepWarmup: 3 }, mixed.withStrategy({ kind: 'evit', keep: KEEP }));
    expect(evit.events[0]).toEqual([N, N, N]);
    expect(evit.events.at(-1)).toEqual(KEEP);
    await expect(kept({ keepWarmup: 3 }, mixed)).rejects.toThrow(/keepWarmup needs static counts \(budget, evit, random\).*got threshold/);
    await expect(kept({ keepWarmup: 6 })).rejects.toThrow(/recipe.keepWarmup must be an integer in \[0, 6\), got 6/);
    await expect(kept({ keepWarmup: 3, rewardContext: 'pruned' })).rejects.toBeInstanceOf(ValueError);
  });
});
