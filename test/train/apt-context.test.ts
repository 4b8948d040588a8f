/**
 * Stream 2 in the pruned context (recipe.rewardContext 'pruned', an extension): exploration among
 * the tokens alive entering a cut, the toggled masks, the tail from stream 1's state against a full
 * forward under fixed masks, the reward's sign, and train.apt's use of it.
 */
import { describe, expect, it } from 'vitest';
import { aptTrainGraph, contextTailGraph, exploreInContext, TokenPruner, toggledMasks } from '../../src/agent/index.js';
import { batches } from '../../src/data/index.js';
import { compile } from '../../src/graph/runtime.js';
import { ValueError } from '../../src/tensor/errors.js';
import { Rng } from '../../src/tensor/rng.js';
import { type Tensor, tensor } from '../../src/tensor/tensor.js';
import { stream2 } from '../../src/train/apt-stream2.js';
import { type AptRecipe, apt } from '../../src/train/index.js';
import { expectAllclose } from '../helpers/allclose.js';
import { blobDataset, copyOf, fixedCutsGraph, mixedPruner, N, paramBytes, runGraph, SESSION, TINY, tinyAptRecipe, tinyModel } from '../helpers/apt.js';

const ds = blobDataset(12, 3);
const images = [...batches(ds, { batchSize: 12, reuseBuffers: false })][0]?.images as Tensor<'float32'>;
const labels = tensor(BigInt64Array.from(ds.labels, BigInt), [12]);
const model = tinyModel(1);
const threshold = await mixedPruner(model, images, 11);
const budget = threshold.withStrategy({ kind: 'budget', keep: [12, 8, 5] });
const B = 12;

/** Logits of a full forward whose attention masks after each cut are the fixed `masks`. */
async function fixedMaskLogits(masks: readonly Float32Array[]): Promise<Float32Array> {
  const feeds = Object.fromEntries(masks.map((m, k) => [`keep.${k}`, tensor(m, [B, N])]));
  return (await runGraph(fixedCutsGraph(budget.config.cutLayers, 'bias'), { ...model.params, images, ...feeds })).logits?.data as Float32Array;
}

const probAt = (logits: Float32Array, b: number, y: number, k = 10) => {
  const row = Array.from(logits.subarray(b * k, b * k + k));
  const m = Math.max(...row);
  const z = row.reduce((s, v) => s + Math.exp(v - m), 0);
  return Math.exp((row[y] as number) - m) / z;
};

describe('exploration inside stream 1’s state', () => {
  const rows = 400;
  const rng = new Rng(4);
  const pDrop = rng.fillUniform(new Float32Array(rows * N));
  const before = Float32Array.from({ length: rows * N }, (_, i) => (i % N === 0 || rng.uniform() < 0.7 ? 1 : 0));
  const after = Float32Array.from(before, (v, i) => (i % N === 0 ? 1 : v * (rng.uniform() < 0.6 ? 1 : 0)));

  it('chooses only patch tokens alive entering the cut, kept and dropped ones both, the same for the same seed', () => {
    const j = exploreInContext(pDrop, before, after, rows, N, new Rng(9));
    j.forEach((t, b) => {
      expect(t).toBeGreaterThanOrEqual(1);
      expect(before[b * N + t]).toBe(1);
    });
    const kept = Array.from(j).filter((t, b) => after[b * N + t] === 1).length;
    expect(kept).toBeGreaterThan(rows * 0.3);
    expect(kept).toBeLessThan(rows * 0.9);
    expect(Array.from(exploreInContext(pDrop, before, after, rows, N, new Rng(9)))).toEqual(Array.from(j));
    expect(Array.from(exploreInContext(pDrop, before, after, rows, N, new Rng(10)))).not.toEqual(Array.from(j));
  });

  it('a sample whose patches earlier cuts all dropped draws from every patch (restored from this cut on)', () => {
    const only = Float32Array.from({ length: 2 * N }, (_, i) => (i % N === 0 || i >= N ? 1 : 0));
    const seen = new Set<number>();
    for (let s = 0; s < 60; s++) seen.add(exploreInContext(pDrop.subarray(0, 2 * N), only, only, 2, N, new Rng(s))[0] as number);
    expect(Math.min(...seen)).toBeGreaterThanOrEqual(1);
    expect(seen.size).toBeGreaterThan(8);
  });

  it('greedy choices are the boundary: the kept token most likely to drop or the dropped one least likely', () => {
    const j = exploreInContext(pDrop, before, after, rows, N, new Rng(9), 1);
    j.forEach((t, b) => {
      const at = (k: number) => pDrop[b * N + k] as number;
      const alive = Array.from({ length: N - 1 }, (_, i) => i + 1).filter((k) => before[b * N + k] === 1);
      const side = alive.filter((k) => after[b * N + k] === after[b * N + t]);
      if (after[b * N + t] === 1) expect(at(t)).toBe(Math.max(...side.map(at)));
      else expect(at(t)).toBe(Math.min(...side.map(at)));
    });
  });

  it('toggling flips the explored token from its cut on — to dropped if stream 1 kept it, else to kept — and nothing else', () => {
    const masks = [after, Float32Array.from(after, (v, i) => (i % 3 === 1 ? 0 : v))];
    const j = exploreInContext(pDrop, before, after, rows, N, new Rng(2));
    const t = toggledMasks(masks, j, N);
    for (const [k, m] of t.masks.entries())
      m.forEach((v, x) => {
        const [b, tok] = [Math.floor(x / N), x % N];
        if (tok === j[b]) expect(v).toBe(t.kept[b] ? 0 : 1);
        else expect(v).toBe((masks[k] as Float32Array)[x]);
      });
    j.forEach((tok, b) => {
      expect(t.kept[b]).toBe(after[b * N + tok]);
    });
    const restored = Array.from(t.kept).filter((v) => v === 0).length;
    expect(restored).toBeGreaterThan(rows * 0.1);
    expect(restored).toBeLessThan(rows * 0.7);
    // Toggling a restored token back drops it everywhere; stream 1's masks come back exactly where it was dropped at every cut.
    const back = toggledMasks(t.masks, j, N);
    j.forEach((tok, b) => {
      if (!t.kept[b]) for (const m of back.masks) expect(m[b * N + tok]).toBe(0);
    });
  });
});

describe('the tail from stream 1’s state', () => {
  for (const [name, pruner] of [
    ['threshold', threshold],
    ['budget', budget],
  ] as const) {
    it(`${name}: with stream 1’s masks it gives stream 1’s logits; toggled, a full forward under the toggled masks`, async () => {
      const a = await runGraph(aptTrainGraph(TINY, pruner.config, { rewardContext: 'pruned' }), { ...model.params, ...pruner.params, images, labels });
      const masks = [0, 1, 2].map((k) => a[`mask1.${k}`]?.data as Float32Array);
      expect(masks[2]?.filter((v) => v === 0).length).toBeGreaterThan(B * 4);
      expectAllclose(await fixedMaskLogits(masks), a['logits.pruned']?.data as Float32Array, { atol: 1e-5, what: 'stream 1 = fixed masks' });
      for (const k of [0, 1, 2]) {
        const tail = await compile(contextTailGraph(TINY, pruner.config, k), SESSION);
        const h = a[`h1.${k}`] as Tensor;
        const own = Object.fromEntries(masks.slice(k).map((m, i) => [`keep.${k + i}`, tensor(m, [B, N])]));
        expectAllclose((await tail.run({ ...model.params, h, ...own })).logits?.data as Float32Array, a['logits.pruned']?.data as Float32Array, {
          atol: 1e-5,
          what: `tail ${k}`,
        });
        const before = k === 0 ? new Float32Array(B * N).fill(1) : (masks[k - 1] as Float32Array);
        const j = exploreInContext(a[`pdrop1.${k}`]?.data as Float32Array, before, masks[k] as Float32Array, B, N, new Rng(k));
        const t = toggledMasks(masks.slice(k), j, N);
        const feeds = Object.fromEntries(t.masks.map((m, i) => [`keep.${k + i}`, tensor(m, [B, N])]));
        const want = await fixedMaskLogits([...masks.slice(0, k), ...t.masks]);
        expectAllclose((await tail.run({ ...model.params, h, ...feeds })).logits?.data as Float32Array, want, { atol: 1e-5, what: `toggled tail ${k}` });
      }
    });
  }

  it('the label is 1 exactly where dropping the token raises p[y] in stream 1’s context, kept or restored', async () => {
    const a = await runGraph(aptTrainGraph(TINY, budget.config, { rewardContext: 'pruned' }), { ...model.params, ...budget.params, images, labels });
    const masks = [0, 1, 2].map((k) => a[`mask1.${k}`]?.data as Float32Array);
    let [kept, restored] = [0, 0];
    for (const k of [0, 1, 2]) {
      const tail = await compile(contextTailGraph(TINY, budget.config, k), SESSION);
      const s = await stream2({
        k,
        context: 'pruned',
        a,
        labels,
        vit: model.params,
        tail,
        pruner: budget.config,
        rewardKind: 'prob',
        rng: new Rng(k + 7),
        rows: new Int32Array(B),
      });
      const t = toggledMasks(masks.slice(k), s.j, N);
      const other = await fixedMaskLogits([...masks.slice(0, k), ...t.masks]);
      const base = a['logits.pruned']?.data as Float32Array;
      s.j.forEach((_, b) => {
        const y = ds.labels[b] as number;
        const [without, withIt] = t.kept[b] ? [other, base] : [base, other];
        expect(s.labels[b], `cut ${k} sample ${b}`).toBe(probAt(without, b, y) > probAt(withIt, b, y) ? 1 : 0);
        if (t.kept[b]) kept++;
        else restored++;
      });
    }
    expect(kept).toBeGreaterThan(0);
    expect(restored).toBeGreaterThan(0);
  });
});

const RECIPE = tinyAptRecipe({ warmup: 1, total: 3, seed: 5 });

async function train(pruner: TokenPruner, recipe: Partial<AptRecipe>) {
  const c = copyOf(model, pruner);
  await apt({ model: c.model, pruner: c.pruner, train: ds, recipe: { ...RECIPE, ...recipe }, session: SESSION });
  return c;
}

describe('train.apt with rewardContext: pruned', () => {
  it('same seed → bit-identical weights after 3 updates; the ViT’s first update is the plain context’s, the pruners’ are not', async () => {
    const [x, y] = [await train(budget, { rewardContext: 'pruned' }), await train(budget, { rewardContext: 'pruned' })];
    expect(paramBytes({ ...x.model.params, ...x.pruner.params }).equals(paramBytes({ ...y.model.params, ...y.pruner.params }))).toBe(true);
    const [one, plain] = [await train(budget, { rewardContext: 'pruned', total: 2, warmup: 1 }), await train(budget, { total: 2, warmup: 1 })];
    expect(paramBytes(one.model.params).equals(paramBytes(plain.model.params))).toBe(true);
    expect(paramBytes(one.pruner.params).equals(paramBytes(plain.pruner.params))).toBe(false);
  });

  it('refuses strategies without a scorer, fusion, an unknown context and explored tokens already dropped', async () => {
    const evit = TokenPruner.create(TINY, { strategy: { kind: 'evit', keep: [12, 8, 5] } });
    await expect(train(evit, { rewardContext: 'pruned' })).rejects.toThrow(/needs a strategy with a scorer.*evit/);
    const fused = TokenPruner.fromStateDict(TINY, budget.params, { ...budget.config, fuse: true });
    await expect(train(fused, { rewardContext: 'pruned' })).rejects.toThrow(/no fusion.*with fuse/);
    await expect(train(budget, { rewardContext: 'tail' as 'plain' })).rejects.toThrow(/rewardContext must be 'plain' or 'pruned', got "tail"/);
    const c = copyOf(model, budget);
    const run = apt({
      model: c.model,
      pruner: c.pruner,
      train: ds,
      recipe: { ...RECIPE, rewardContext: 'pruned' },
      session: SESSION,
      // At cut 2 nine of the 16 patches are gone already (budget 12 / 8 / 5): some of tokens 1…12 are.
      explore: (k, _p, rows) => Int32Array.from(rows, (_, b) => (k === 2 ? 1 + b : 1)),
    });
    await expect(run).rejects.toBeInstanceOf(ValueError);
    await expect(run).rejects.toThrow(/which an earlier cut already dropped/);
  });
});
