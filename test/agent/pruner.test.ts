/**
 * TokenPruner at its public entry points: §10.11 deterministic inference, §10.15 the report (tokens
 * per layer, mean kept, the per-image lines of agent/report.ts, the MAC ratio; how the CLI prints
 * them is the CLI's test), and bad input (cut layers, keep counts, checkpoints, images, models) as
 * typed errors that name the value.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadAptCheckpoint, saveAptCheckpoint } from '../../src/agent/checkpoint.js';
import { applyPlan, keepAll, meanKept, type RunResult, TokenPruner, tokensPerLayer } from '../../src/agent/index.js';
import { imageReport, macsRatio, validLines } from '../../src/agent/report.js';
import { fromArrays } from '../../src/data/index.js';
import { CheckpointError, DTypeError, ShapeError, ValueError } from '../../src/tensor/errors.js';
import { type Tensor, tensor } from '../../src/tensor/tensor.js';
import { apt, evaluateApt } from '../../src/train/apt.js';
import { aptPaperRecipe } from '../../src/train/apt-recipe.js';
import { create } from '../../src/vit/index.js';
import { blobDataset, copyParams, mixedPruner, N, randomImages, SESSION, TINY, tinyModel } from '../helpers/apt.js';

const model = tinyModel();
const images = randomImages(8, 3);
const dir = mkdtempSync(join(tmpdir(), 'apt-pruner-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('§10.11 inference is deterministic', () => {
  it('identical kept sets and logits across runs, modes of calling and pruner seeds (no RNG in decisions)', async () => {
    const p = await mixedPruner(model, images, 6);
    const a = await p.run(model, images, { session: SESSION });
    const b = await p.run(model, images, { session: SESSION });
    const other = TokenPruner.fromStateDict(TINY, copyParams(p.params), { seed: 12345 });
    const c = await other.run(model, images, { session: SESSION });
    for (const r of [b, c]) {
      expect(r.logits.data).toEqual(a.logits.data);
      expect(r.plans).toEqual(a.plans);
    }
    expect(await other.decide(model, images)).toEqual(a.plans);
    expect(new Set(a.plans.kept.flat().map((k) => k.length)).size).toBeGreaterThan(2); // real, mixed decisions
  });
});

describe('§10.15 report', () => {
  it('tokens per layer: N until the first cut, then the kept counts; keepAll is the identity', async () => {
    const p = await mixedPruner(model, images, 7);
    const r = await p.run(model, images, { session: SESSION });
    for (const [b, row] of r.tokensPerLayer.entries()) expect(row).toEqual([N, ...r.plans.kept.map((k) => k[b]?.length)]);
    const all = keepAll([0, 1, 2], 3, N);
    expect(tokensPerLayer(all, TINY)).toEqual([
      [N, N, N, N],
      [N, N, N, N],
      [N, N, N, N],
    ]);
    expect(meanKept(all)).toEqual([N, N, N]);
    expect(meanKept(r.plans)).toEqual(r.plans.kept.map((k) => k.reduce((s, x) => s + x.length, 0) / 3));
    const x = tensor(
      Float32Array.from({ length: 3 * N * 2 }, (_, i) => i),
      [3, N, 2],
      'float32',
    );
    expect(applyPlan(all, 1, x).map((t) => Array.from(t.data))).toEqual([0, 1, 2].map((b) => Array.from(x.data.subarray(b * N * 2, (b + 1) * N * 2))));
    const kept = applyPlan(r.plans, 0, x);
    for (const [b, t] of kept.entries()) expect(Array.from(t.data.subarray(0, 2))).toEqual([b * N * 2, b * N * 2 + 1]); // CLS first
    expect(() => applyPlan(all, 3, x)).toThrow(/applyPlan: cut index 3 is outside \[0, 3\)/);
  });

  it('per image one initial line plus one line per cut layer; then the Loss and Accuracy lines; MAC ratio 1 when nothing is dropped', async () => {
    const r = await (await mixedPruner(model, images, 7)).run(model, images, { session: SESSION });
    const lines = imageReport(r.plans, 1, TINY);
    expect(lines).toEqual([`initial input shape::: [1, ${N}, 16]`, ...[0, 1, 2].map((k) => `layer ${k} shape::: [1, ${r.plans.kept[k]?.[1]?.length}, 16]`)]);
    expect(validLines(0.1234567, 0.5)).toEqual(['Valid Loss: 0.12346', 'Valid Accuracy: 0.50000']);
    expect(macsRatio(TINY, [0, 1, 2], [N, N, N], false)).toBe(1);
    expect(macsRatio(TINY, [0, 1, 2], [N, N, N])).toBeGreaterThan(1); // the pruners' own MACs, nothing saved
    expect(macsRatio(TINY, [0, 1, 2], [9, 5, 3])).toBeLessThan(0.7);
  });

  it('evaluateApt hands each batch’s pruned run to onBatch: the runs add up to its figures', async () => {
    const p = await mixedPruner(model, images, 7);
    const ds = blobDataset(7, 4);
    const seen: { done: number; run: RunResult }[] = [];
    const m = await evaluateApt(model, p, ds, { batchSize: 3, session: SESSION, onBatch: (done, run) => seen.push({ done, run }) });
    expect(seen.map((x) => x.done)).toEqual([3, 6, 7]);
    expect(seen[0]?.run.plans).toEqual(m.firstPlans);
    const keptSum = [0, 1, 2].map((k) => seen.reduce((t, x) => t + (x.run.plans.kept[k] ?? []).reduce((u, idx) => u + idx.length, 0), 0));
    for (const [k, v] of keptSum.entries()) expect(v / 7).toBeCloseTo(m.keptMean[k] as number, 12);
    expect(seen.map((x) => x.run.logits.dims[0])).toEqual([3, 3, 1]);
  });
});

describe('bad input: typed errors that name the value', () => {
  it('cut layers out of range, unsorted, repeated, fractional or empty', () => {
    const bad: [number[], RegExp][] = [
      [[0, 4], /cut layer 4 is outside \[0, 2\]/],
      [[3], /cut layer 3 is outside \[0, 2\] \(a decision must leave at least one block to act on; depth 4\)/],
      [[-1, 1], /cut layer -1 is outside/],
      [[0.5], /cut layer 0.5 is outside/],
      [[2, 1], /cutLayers must be strictly ascending, got \[2, 1\]/],
      [[1, 1], /strictly ascending, got \[1, 1\]/],
      [[], /cutLayers must name at least one block/],
    ];
    for (const [cutLayers, msg] of bad) {
      expect(() => TokenPruner.create(TINY, { cutLayers }), JSON.stringify(cutLayers)).toThrow(ValueError);
      expect(() => TokenPruner.create(TINY, { cutLayers }), JSON.stringify(cutLayers)).toThrow(msg);
    }
  });

  it('keep counts of 0 patches (keep < 2 with CLS) or more than the tokens left; bad rates and thresholds', () => {
    const budget = (keep: number[]) => () => TokenPruner.create(TINY, { strategy: { kind: 'budget', keep } });
    expect(budget([0, 5, 3])).toThrow(/keep\[0\] = 0 must be an integer in \[2, 17\]/);
    expect(budget([1, 5, 3])).toThrow(/keep\[0\] = 1 must be/);
    expect(budget([18, 5, 3])).toThrow(/keep\[0\] = 18 must be an integer in \[2, 17\]/);
    expect(budget([10, 12, 3])).toThrow(/keep\[1\] = 12 must be an integer in \[2, 10\]/);
    expect(budget([10, 5])).toThrow(/one count per cut layer \(3\), got \[10, 5\]/);
    expect(budget([10, 5, 2.5])).toThrow(ValueError);
    expect(() => TokenPruner.create(TINY, { strategy: { kind: 'evit', keepRate: 0 } })).toThrow(/keepRate must be in \(0, 1\], got 0/);
    expect(() => TokenPruner.create(TINY, { strategy: { kind: 'random', keepRate: 1.5 } })).toThrow(/got 1.5/);
    expect(() => TokenPruner.create(TINY, { threshold: 1 })).toThrow(/threshold must be in \[0, 1\), got 1/);
    expect(() => TokenPruner.create(TINY, { exploreGreedyProb: -0.1 })).toThrow(/exploreGreedyProb must be in \[0, 1\], got -0.1/);
    expect(TokenPruner.create(TINY, { strategy: { kind: 'budget', keep: [17, 2, 2] } }).config.strategy).toEqual({ kind: 'budget', keep: [17, 2, 2] });
  });

  it('a checkpoint whose agent shapes do not match the model: CheckpointError naming the key, shapes, missing and extra', () => {
    const wide = TokenPruner.create({ ...TINY, dim: 24, heads: 2 }).params;
    expect(() => TokenPruner.fromStateDict(TINY, wide)).toThrow(CheckpointError);
    expect(() => TokenPruner.fromStateDict(TINY, wide)).toThrow(/clip_layer\.0\.query\.weight: \[16,16\] float32 expected, got \[24,24\] float32/);
    const two = TokenPruner.create(TINY, { cutLayers: [0, 1] }).params;
    expect(() => TokenPruner.fromStateDict(TINY, two)).toThrow(/missing clip_layer\.2\.query\.weight/);
    const four = { ...TokenPruner.create(TINY).params, 'clip_layer.3.fc.bias': tensor(new Float32Array(2), [2]) };
    expect(() => TokenPruner.fromStateDict(TINY, four)).toThrow(/unexpected clip_layer\.3\.fc\.bias \(the model has 3 cut layers\)/);
    const f64 = { ...TokenPruner.create(TINY).params, 'clip_layer.1.fc.bias': tensor(new Float64Array(2), [2]) };
    expect(() => TokenPruner.fromStateDict(TINY, f64)).toThrow(/clip_layer\.1\.fc\.bias: \[2\] float32 expected, got \[2\] float64/);
  });

  it('an APT checkpoint whose pruners were built for another width fails to load, naming the tensor', async () => {
    await saveAptCheckpoint(join(dir, 'good'), model, TokenPruner.create(TINY, { seed: 4 }));
    const back = await loadAptCheckpoint(join(dir, 'good'));
    expect(back.pruner.params['clip_layer.2.fc.weight']?.data).toEqual(TokenPruner.create(TINY, { seed: 4 }).params['clip_layer.2.fc.weight']?.data);
    await saveAptCheckpoint(join(dir, 'bad'), model, TokenPruner.create({ ...TINY, dim: 24 }));
    await expect(loadAptCheckpoint(join(dir, 'bad'))).rejects.toBeInstanceOf(CheckpointError);
    await expect(loadAptCheckpoint(join(dir, 'bad'))).rejects.toThrow(/clip_layer\.0\.query\.weight: \[16,16\] float32 expected, got \[24,24\] float32/);
  });

  it('images of the wrong shape or dtype, and a model that is not the pruner’s', async () => {
    const p = TokenPruner.create(TINY);
    const wrong: [Tensor, typeof ShapeError | typeof DTypeError, RegExp][] = [
      [
        tensor(new Float32Array(2 * 32 * 32), [2, 1, 32, 32]),
        ShapeError,
        /TokenPruner\.run: images must be \[B, 1, 28, 28\] float32, got \[2,1,32,32\] float32/,
      ],
      [tensor(new Float32Array(784), [1, 28, 28]), ShapeError, /got \[1,28,28\] float32/],
      [tensor(new Float64Array(784), [1, 1, 28, 28]), DTypeError, /TokenPruner\.run: images must be float32 \[B, 1, 28, 28\].*got float64/],
    ];
    for (const [x, type, msg] of wrong) {
      await expect(p.run(model, x)).rejects.toBeInstanceOf(type);
      await expect(p.run(model, x)).rejects.toThrow(msg);
    }
    const other = create({ ...TINY, name: 'wide', dim: 24 });
    await expect(p.run(other, images)).rejects.toThrow(/model wide \(dim 24, depth 4\) does not match the pruner's ViT tiny-apt \(dim 16, depth 4\)/);
    await expect(p.exportOnnx(other, '/tmp/never-written.onnx')).rejects.toBeInstanceOf(ValueError);
  });

  it('train.apt refuses a model of another shape, a bad recipe, images of another shape, a set smaller than a micro-batch and an explore override outside 1…N−1', async () => {
    const train = blobDataset(8, 1);
    const p = TokenPruner.create(TINY);
    const recipe = { ...aptPaperRecipe(2), batch: 4, accum: 2 };
    await expect(apt({ model: create({ ...TINY, dim: 24 }), pruner: p, train, recipe })).rejects.toThrow(/train\.apt: pruner built for tiny-apt/);
    await expect(apt({ model, pruner: p, train, recipe: { ...recipe, accum: 3 } })).rejects.toThrow(/recipe\.batch 4 must be divisible by recipe\.accum 3/);
    const big = fromArrays(new Uint8Array(8 * 32 * 32), new Array(8).fill(1), { c: 1, h: 32, w: 32 }, { classes: 10 });
    await expect(apt({ model, pruner: p, train: big, recipe })).rejects.toThrow(
      /train\.apt: train images must be \[1, 28, 28\] for tiny-apt, got \[1, 32, 32\]/,
    );
    // Fewer images than one micro-batch used to loop forever (no batch, no update, no await).
    await expect(apt({ model, pruner: p, train: blobDataset(1, 1), recipe })).rejects.toThrow(
      /train has 1 images, fewer than one micro-batch \(batch\/accum = 2\)/,
    );
    const m = { config: model.config, params: copyParams(model.params) };
    const run = apt({ model: m, pruner: p, train, recipe, session: SESSION, explore: (_k, _p, rows) => new Int32Array(rows.length) });
    await expect(run).rejects.toThrow(/train\.apt: explore chose token 0 for sample 0; must be in \[1, 16\]/);
  });
});
