/**
 * train.apt, the three-channel loop (specs/apt.md §4): §10.7 isolation of the streams, §10.11
 * bit-identical training, §10.12 schedule, §10.13 clip / SGD / accumulation cadence, §10.14 pruners
 * diverge after one update. Instrumented through `onEvent` and the `explore` override (which replays
 * fixed choices keyed by data-set row), plus graphs built from the same pieces.
 */
import { describe, expect, it } from 'vitest';
import { aptTrainGraph, prunedForward, prunedInferenceGraph, prunerParams, type TokenPruner } from '../../src/agent/index.js';
import { prunerLogits } from '../../src/agent/scorer.js';
import { keyBias } from '../../src/agent/tokens.js';
import { batches } from '../../src/data/index.js';
import { Graph } from '../../src/graph/builder.js';
import { softmaxCrossEntropy } from '../../src/graph/nn.js';
import type { Value } from '../../src/graph/types.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { tensor } from '../../src/tensor/tensor.js';
import { type AptEvent, type AptRecipe, apt, SGD, warmupCosine } from '../../src/train/index.js';
import { addGradients, gradName } from '../../src/train/step.js';
import type { VitModel } from '../../src/vit/index.js';
import { classify } from '../../src/vit/model.js';
import { vitParams } from '../../src/vit/params.js';
import { expectAllclose } from '../helpers/allclose.js';
import { blobDataset, copyOf, copyParams, mixedPruner, N, paramBytes, runGraph, SESSION, TINY, tinyAptRecipe, tinyModel } from '../helpers/apt.js';

const ds = blobDataset(12, 3);
const images = [...batches(ds, { batchSize: 12, reuseBuffers: false })][0]?.images as Tensor<'float32'>;
const labels = tensor(BigInt64Array.from(ds.labels, BigInt), [12]);
const model = tinyModel(1);
const pruner = await mixedPruner(model, images, 11);
const BASE = tinyAptRecipe();
/** A fixed exploration choice per (cut, data-set row). */
const fixed =
  (shift = [0, 0, 0]) =>
  (k: number, _p: Float32Array, rows: Int32Array) =>
    Int32Array.from(rows, (r) => 1 + ((7 * r + 3 * k + (shift[k] as number)) % (N - 1)));

class Stop extends Error {}
type Explore = (k: number, p: Float32Array, rows: Int32Array, n: number) => Int32Array;

/** Runs train.apt on copies for `count` updates; parameters before/after, the update events and the explore calls in order. */
async function updates(
  count: number,
  recipe: Partial<AptRecipe> = {},
  explore?: Explore,
  from: { model: VitModel; pruner: TokenPruner } = { model, pruner },
  train = ds,
) {
  const { model: m, pruner: p } = copyOf(from.model, from.pruner);
  const before = { ...copyParams(m.params), ...copyParams(p.params) };
  const log: string[] = [];
  const events: Extract<AptEvent, { kind: 'update' }>[] = [];
  const wrap: Explore | undefined =
    explore &&
    ((k, pd, rows, n) => {
      log.push(`explore ${k}`);
      return explore(k, pd, rows, n);
    });
  const r = { ...BASE, ...recipe };
  const run = apt({
    model: m,
    pruner: p,
    train,
    recipe: r,
    session: SESSION,
    explore: wrap,
    onEvent: (e) => {
      if (e.kind !== 'update') return;
      events.push(e);
      log.push(`update ${e.update}`);
      if (e.update === count && count < r.total) throw new Stop();
    },
  });
  if (count < r.total) await expect(run).rejects.toBeInstanceOf(Stop);
  else await run;
  const after = { ...m.params, ...p.params };
  const delta = (k: string) => Float64Array.from(after[k]?.data as Float32Array, (v, i) => v - (before[k]?.data[i] as number));
  /** Float32 rounding of θ − lr·m, which a difference of weights cannot beat. */
  const ulp = (k: string) => 2 ** -22 * Math.max(...Array.from(before[k]?.data as Float32Array, Math.abs));
  return { after, events, log, delta, ulp };
}
const vitKeys = Object.keys(model.params);
const prunerKeys = (k: number) => Object.keys(pruner.params).filter((x) => x.startsWith(`clip_layer.${k}.`));
const same = (a: Record<string, Tensor>, b: Record<string, Tensor>, keys: string[]) =>
  keys.every((k) => Buffer.compare(paramBytes({ k: a[k] as Tensor }), paramBytes({ k: b[k] as Tensor })) === 0);

describe('§10.7 isolation of the streams', () => {
  it('S0 adds no gradient: the ViT gradient of the train graph is exactly that of L1 on S1’s masks', async () => {
    const a = await runGraph(aptTrainGraph(TINY, pruner.config), { ...model.params, ...pruner.params, images, labels });
    const masks = await runGraph(prunedInferenceGraph(TINY, pruner.config, 'masked'), { ...model.params, ...pruner.params, images });
    const g = new Graph('s1-fixed-masks');
    const keeps = [0, 1, 2].map((k) => g.input(`mask.${k}`, 'float32', ['B', N]));
    const bias = (i: number) => {
      const k = pruner.config.cutLayers.filter((l) => l < i).length - 1;
      return k < 0 ? undefined : keyBias(g, keeps[k] as Value);
    };
    const vit = vitParams(g, TINY);
    const logits = classify(g, vit, g.input('images', 'float32', ['B', 1, 28, 28]), TINY, { attnBias: bias }).logits;
    addGradients(g, softmaxCrossEntropy(g, logits, g.input('labels', 'int64', ['B'])), vit);
    const ref = await runGraph(g, {
      ...model.params,
      images,
      labels,
      'mask.0': masks['mask.0'] as Tensor,
      'mask.1': masks['mask.1'] as Tensor,
      'mask.2': masks['mask.2'] as Tensor,
    });
    expect(Array.from(masks['mask.2']?.data as Float32Array).filter((v) => v === 0).length).toBeGreaterThan(12);
    expect(a.loss?.data[0]).toBeCloseTo(Number(ref.loss?.data[0]), 6);
    for (const k of vitKeys) {
      const e = ref[gradName(k)]?.data as Float32Array;
      expectAllclose(a[gradName(k)]?.data as Float32Array, e, { rtol: 1e-5, atol: 1e-6 * Math.max(...Array.from(e, Math.abs)), what: k });
    }
    expect(Object.keys(a).filter((k) => k.startsWith('grad:clip_layer'))).toEqual([]);
  });

  it('S1 gives zero gradients to every pruner parameter; S2’s loss gives zero gradients to every ViT parameter', async () => {
    const g = new Graph('s1-to-pruners');
    const vit = vitParams(g, TINY);
    const scorers = prunerParams(g, TINY, pruner.config);
    const x = g.input('images', 'float32', ['B', 1, 28, 28]);
    const y = g.input('labels', 'int64', ['B']);
    const s1 = prunedForward(g, vit, scorers, x, TINY, pruner.config, 'masked');
    addGradients(
      g,
      softmaxCrossEntropy(g, s1.logits, y),
      Object.assign({}, ...scorers.map((s, k) => Object.fromEntries(Object.entries(s).map(([n, v]) => [`clip_layer.${k}.${n}`, v])))),
    );
    const out = await runGraph(g, { ...model.params, ...pruner.params, images, labels });
    for (const k of Object.keys(pruner.params))
      expect(
        Array.from(out[gradName(k)]?.data as Float32Array).every((v) => v === 0),
        k,
      ).toBe(true);

    const g2 = new Graph('s2-to-vit');
    const vit2 = vitParams(g2, TINY);
    const p2 = prunerParams(g2, TINY, pruner.config)[1] as (typeof scorers)[number];
    const plain = classify(g2, vit2, g2.input('images', 'float32', ['B', 1, 28, 28]), TINY);
    const l = prunerLogits(g2, p2, plain.features.blockOutputs[1] as Value);
    const chosen = g2.Reshape(g2.Slice(l, [3], [4], [1]), [-1, 2]); // token 3 of every sample
    addGradients(g2, softmaxCrossEntropy(g2, chosen, g2.input('labels', 'int64', ['B'])), { ...vit2, ...p2 });
    const o2 = await runGraph(g2, {
      ...model.params,
      ...pruner.params,
      images,
      labels: tensor(
        BigInt64Array.from({ length: 12 }, (_, i) => BigInt(i % 2)),
        [12],
      ),
    });
    for (const k of vitKeys)
      expect(
        Array.from(o2[gradName(k)]?.data as Float32Array).every((v) => v === 0),
        k,
      ).toBe(true);
    expect(Math.max(...Array.from(o2[gradName('fc.weight')]?.data as Float32Array, Math.abs))).toBeGreaterThan(1e-3);
  });

  it('in train.apt, other S2 choices at cut 1 change pruner 1 only: the ViT and pruners 0, 2 update bit-identically', async () => {
    const a = await updates(1, {}, fixed());
    const b = await updates(1, {}, fixed([0, 5, 0]));
    expect(same(a.after, b.after, vitKeys)).toBe(true);
    expect(same(a.after, b.after, [...prunerKeys(0), ...prunerKeys(2)])).toBe(true);
    expect(same(a.after, b.after, prunerKeys(1))).toBe(false);
    expect(a.events[0]?.agentLoss[1]).not.toBe(b.events[0]?.agentLoss[1]);
  });
});

describe('§10.11 training is deterministic', () => {
  it('same seed → bit-identical parameters after 3 updates; another seed differs', async () => {
    const runs = [
      await updates(3, { total: 3, warmup: 1, seed: 5 }),
      await updates(3, { total: 3, warmup: 1, seed: 5 }),
      await updates(3, { total: 3, warmup: 1, seed: 6 }),
    ];
    expect(runs[0]?.events.map((e) => e.update)).toEqual([1, 2, 3]);
    expect(paramBytes(runs[1]?.after ?? {}).equals(paramBytes(runs[0]?.after ?? {}))).toBe(true);
    expect(paramBytes(runs[2]?.after ?? {}).equals(paramBytes(runs[0]?.after ?? {}))).toBe(false);
  });
});

describe('§10.12 schedule', () => {
  it('W = 500, T = 50,000: λ(1) = 0.002, λ(499) = 0.998, λ(500) = 1, λ(T) = 0', () => {
    const lam = warmupCosine(500, 50_000);
    expect([lam(1), lam(499), lam(500), lam(50_000)]).toEqual([0.002, 0.998, 1, 0]);
    expect(lam(25_250)).toBeCloseTo(0.5, 12);
  });

  it('update 1 uses lr·λ(1) with m = g: the ViT moves by −lr·λ(1)·∇L1 (accum 1, the whole batch)', async () => {
    const r = await updates(2, { accum: 1 }, fixed());
    expect(r.events.map((e) => e.lr)).toEqual([0.05 * 0.25, 0.05 * 0.5]);
    const one = await updates(1, { accum: 1, lr: 4 }, fixed());
    const a = await runGraph(aptTrainGraph(TINY, pruner.config), { ...model.params, ...pruner.params, images, labels });
    for (const k of vitKeys) {
      const want = Array.from(a[gradName(k)]?.data as Float32Array, (g) => -4 * 0.25 * g);
      expectAllclose(one.delta(k), want, { rtol: 1e-3, atol: one.ulp(k) + 1e-5 * Math.max(...want.map(Math.abs)), what: k });
    }
  });
});

describe('§10.13 optimizer', () => {
  it('one clip norm over ViT and pruner gradients together', async () => {
    const raw = await updates(1, { lr: 4 }, fixed());
    const all = [...vitKeys, ...Object.keys(pruner.params)];
    const norm = Math.sqrt(all.reduce((s, k) => s + raw.delta(k).reduce((t, v) => t + v * v, 0), 0)) / (4 * 0.25);
    const clipped = await updates(1, { lr: 4, maxGradNorm: 0.1 * norm }, fixed());
    const coef = (0.1 * norm) / (norm + 1e-6);
    for (const k of all) {
      const want = Array.from(raw.delta(k), (v) => v * coef);
      expectAllclose(clipped.delta(k), want, { rtol: 1e-3, atol: raw.ulp(k) * (1 + coef) + 1e-5 * Math.max(...want.map(Math.abs)), what: k });
    }
    const part = (keys: string[]) => Math.sqrt(keys.reduce((s, k) => s + raw.delta(k).reduce((t, v) => t + v * v, 0), 0));
    expect(part(Object.keys(pruner.params))).toBeGreaterThan(1e-3 * part(vitKeys)); // both groups carry gradient
    // The event's per-group norms are those of the unclipped step (θ moved by lr·λ(1)·g).
    const event = raw.events[0]?.gradNorm;
    expect(event?.vit).toBeCloseTo(part(vitKeys) / (4 * 0.25), 3);
    expectAllclose(
      event?.pruners ?? [],
      [0, 1, 2].map((k) => part(prunerKeys(k)) / (4 * 0.25)),
      { rtol: 1e-3 },
    );
    expect(clipped.events[0]?.gradNorm).toEqual(event); // reported before the clip
  });

  it('momentum SGD matches a hand computation (m = g first, then m ← 0.9·m + g; θ ← θ − lr·m)', () => {
    const p = tensor(Float32Array.of(1, -2), [2], 'float32');
    const opt = new SGD(new Map([['w', p]]), { lr: 0.1, momentum: 0.9 });
    opt.update({ w: tensor(Float32Array.of(0.5, 1), [2]) }, 0.1);
    expectAllclose(p.data, [0.95, -2.1], { rtol: 1e-7 });
    opt.update({ w: tensor(Float32Array.of(-1, 0.25), [2]) }, 0.1);
    expectAllclose(p.data, [0.95 + 0.1 * 0.55, -2.1 - 0.1 * 1.15], { rtol: 1e-7 });
  });

  it('each loss is divided by accum: 3 micro-batches of 4 update like 1 batch of 12', async () => {
    const [three, one] = [await updates(1, { accum: 3, lr: 4 }, fixed()), await updates(1, { accum: 1, lr: 4 }, fixed())];
    expect(three.events[0]?.lossPruned).toBeCloseTo(one.events[0]?.lossPruned as number, 5);
    expectAllclose(three.events[0]?.agentLoss ?? [], one.events[0]?.agentLoss ?? [], { rtol: 1e-5 });
    for (const k of [...vitKeys, ...Object.keys(pruner.params)]) {
      const d = one.delta(k);
      expectAllclose(three.delta(k), d, { rtol: 1e-3, atol: 2 * one.ulp(k) + 1e-5 * Math.max(...Array.from(d, Math.abs)), what: k });
    }
  });

  it('an update every accum micro-batches, counted across epochs (16 images = 4 micro-batches per epoch)', async () => {
    const r = await updates(3, { total: 3, warmup: 1 }, fixed(), { model, pruner }, blobDataset(16, 4));
    const micro = r.log.filter((s) => s === 'explore 0' || s.startsWith('update'));
    expect(micro).toEqual([
      ...['explore 0', 'explore 0', 'explore 0', 'update 1'],
      ...['explore 0', 'explore 0', 'explore 0', 'update 2'],
      ...['explore 0', 'explore 0', 'explore 0', 'update 3'],
    ]);
    expect(r.log.slice(0, 3)).toEqual(['explore 0', 'explore 1', 'explore 2']); // cuts ascending within a micro-batch
  });
});

describe('§10.14 init', () => {
  it('pruners equal at init differ after one update; the ViT moves too', async () => {
    const p = (await import('../../src/agent/index.js')).TokenPruner.create(TINY, { seed: 2 });
    expect(
      same(p.params, Object.fromEntries(prunerKeys(0).map((k) => [k, p.params[k.replace('clip_layer.0.', 'clip_layer.1.')] as Tensor])), prunerKeys(0)),
    ).toBe(true);
    const r = await updates(1, {}, fixed(), { model, pruner: p });
    for (const [a, b] of [
      [0, 1],
      [1, 2],
      [0, 2],
    ] as const) {
      const moved = Object.fromEntries(prunerKeys(b).map((k) => [k.replace(`clip_layer.${b}.`, `clip_layer.${a}.`), r.after[k] as Tensor]));
      expect(same(r.after, moved, prunerKeys(a)), `pruners ${a} and ${b}`).toBe(false);
    }
    expect(same(r.after, model.params, vitKeys)).toBe(false);
  });
});
