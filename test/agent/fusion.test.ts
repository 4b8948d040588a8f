/**
 * Token fusion (extension, EViT's inattentive-token fusion): the tokens dropped at a cut become one
 * token, their mean weighted by the cut block's CLS attention. Pinned here: the weighted mean on a
 * hand example; a forward built by hand (plain blocks, the fused token appended, the later blocks
 * run from there) equals the library's; masked ≡ gathered for every strategy; nothing dropped →
 * no fused token (plain logits); token counts and MACs count the fused token.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fuseDropped } from '../../src/agent/fusion.js';
import { aptTrainGraph, loadAptCheckpoint, prunedInferenceGraph, saveAptCheckpoint, TokenPruner, tokenCounts, tokensPerLayer } from '../../src/agent/index.js';
import { macsRatio } from '../../src/agent/report.js';
import { Graph } from '../../src/graph/builder.js';
import type { Value } from '../../src/graph/types.js';
import { planMacs } from '../../src/reward/index.js';
import { Rng } from '../../src/tensor/rng.js';
import { type Tensor, tensor } from '../../src/tensor/tensor.js';
import { apt } from '../../src/train/index.js';
import { gradName } from '../../src/train/step.js';
import { classify } from '../../src/vit/model.js';
import { vitParams } from '../../src/vit/params.js';
import { expectAllclose } from '../helpers/allclose.js';
import { blobDataset, copyOf, mixedPruner, N, paramBytes, randomImages, runGraph, SESSION, setFc, TINY, tinyAptRecipe, tinyModel } from '../helpers/apt.js';

const model = tinyModel();
const images = randomImages(11, 4);
const values = (t: Tensor | undefined) => Array.from(t?.data as Float32Array);

describe('the fused token', () => {
  const run = async (prev: boolean) => {
    const g = new Graph('fuse');
    const x = g.input('x', 'float32', [1, 3, 2]);
    const dropped = g.input('dropped', 'float32', [1, 3]);
    const attn = g.input('attn', 'float32', [1, 3]);
    const slot = prev ? { token: g.input('slot', 'float32', [1, 1, 2]), attn: g.input('slotAttn', 'float32', [1, 1]) } : undefined;
    const f = fuseDropped(g, x, dropped, attn, slot);
    g.output('token', f.token);
    g.output('alive', f.alive);
    return (d: number[]) =>
      runGraph(g, {
        x: tensor(Float32Array.of(1, 2, 3, 4, 5, 6), [1, 3, 2]),
        dropped: tensor(Float32Array.from(d), [1, 3]),
        attn: tensor(Float32Array.of(0.5, 0.2, 0.3), [1, 3]),
        ...(prev ? { slot: tensor(Float32Array.of(10, 20), [1, 1, 2]), slotAttn: tensor(Float32Array.of(0.5), [1, 1]) } : {}),
      });
  };

  it('is the CLS-attention-weighted mean of the dropped tokens, and of the previous fused token', async () => {
    const out = await (await run(false))([0, 1, 1]);
    expectAllclose(values(out.token), [(0.2 * 3 + 0.3 * 5) / 0.5, (0.2 * 4 + 0.3 * 6) / 0.5], { rtol: 1e-6 });
    expect(values(out.alive)).toEqual([1]);
    const withPrev = await (await run(true))([0, 0, 1]);
    expectAllclose(values(withPrev.token), [(0.3 * 5 + 0.5 * 10) / 0.8, (0.3 * 6 + 0.5 * 20) / 0.8], { rtol: 1e-6 });
  });

  it('nothing dropped and no previous token: a zero token that is not alive', async () => {
    const out = await (await run(false))([0, 0, 0]);
    expect(values(out.token)).toEqual([0, 0]);
    expect(values(out.alive)).toEqual([0]);
  });
});

/** Logits of the library's fused forward for `pruner` (masked or gathered). */
const fusedLogits = async (pruner: TokenPruner, mode: 'masked' | 'gathered', x: Tensor = images) =>
  values((await runGraph(prunedInferenceGraph(TINY, pruner.config, mode), { ...model.params, ...pruner.params, images: x })).logits);

describe('fused forward', () => {
  it('equals a forward built by hand: block 0, keep the top-k by CLS attention, append their weighted mean, blocks 1… on k + 1 tokens', async () => {
    const keep = 7;
    const pruner = TokenPruner.create(TINY, { cutLayers: [0], strategy: { kind: 'evit', keep: [keep] }, fuse: true });
    const one = randomImages(12, 1);
    // Block 0's output and CLS attention, from the plain model.
    const g = new Graph('block0');
    const { features } = classify(g, vitParams(g, TINY), g.input('images', 'float32', [1, 1, 28, 28]), TINY);
    g.output('h', features.blockOutputs[0] as Value);
    g.output('a', features.clsAttn[0] as Value);
    const out = await runGraph(g, { ...model.params, images: one });
    const [h, a] = [values(out.h), values(out.a)];
    const order = Array.from({ length: N - 1 }, (_, j) => j + 1).sort((p, q) => (a[q] as number) - (a[p] as number));
    const kept = [0, ...order.slice(0, keep - 1)].sort((p, q) => p - q);
    const dropped = order.slice(keep - 1);
    const d = TINY.dim;
    const wsum = dropped.reduce((s, j) => s + (a[j] as number), 0);
    const fused = Array.from({ length: d }, (_, c) => dropped.reduce((s, j) => s + (a[j] as number) * (h[j * d + c] as number), 0) / wsum);
    const tokens = Float32Array.from([...kept.flatMap((j) => h.slice(j * d, (j + 1) * d)), ...fused]);
    // Blocks 1… and the head from those keep + 1 tokens.
    const t = new Graph('tail');
    const start = t.input('tokens', 'float32', [1, keep + 1, d]);
    t.output('logits', classify(t, vitParams(t, TINY), null, TINY, { start: 1, tokens: start }).logits);
    const byHand = values((await runGraph(t, { ...model.params, tokens: tensor(tokens, [1, keep + 1, d]) })).logits);
    expectAllclose(await fusedLogits(pruner, 'gathered', one), byHand, { rtol: 1e-5, atol: 1e-6, what: 'gathered vs by hand' });
    expectAllclose(await fusedLogits(pruner, 'masked', one), byHand, { rtol: 1e-5, atol: 1e-6, what: 'masked vs by hand' });
  });

  it.each([
    ['threshold', 'threshold'],
    ['budget', { kind: 'budget', keep: [12, 6, 3] }],
    ['evit', { kind: 'evit', keep: [12, 6, 3] }],
    ['budget, first cut keeps all', { kind: 'budget', keep: [N, 6, 3] }],
  ] as const)('masked ≡ gathered (B = 4 and B = 1), %s', async (_name, strategy) => {
    const pruner = await mixedPruner(model, images, 3, 2, { strategy, fuse: true });
    expectAllclose(await fusedLogits(pruner, 'gathered'), await fusedLogits(pruner, 'masked'), { rtol: 1e-5, atol: 1e-6, what: 'B = 4' });
    const one = randomImages(13, 1);
    expectAllclose(await fusedLogits(pruner, 'gathered', one), await fusedLogits(pruner, 'masked', one), { rtol: 1e-5, atol: 1e-6, what: 'B = 1' });
    // Fusion changes what the later blocks see: the logits differ from dropping outright.
    const dropOnly = await fusedLogits(TokenPruner.fromStateDict(TINY, pruner.params, { ...pruner.config, fuse: false }), 'gathered');
    const fused = await fusedLogits(pruner, 'gathered');
    expect(Math.max(...fused.map((v, i) => Math.abs(v - (dropOnly[i] as number))))).toBeGreaterThan(1e-4);
  });

  it('threshold, a first cut that keeps everything: its (empty, dead) fused token changes nothing', async () => {
    const p = await mixedPruner(model, images, 4, 2, { fuse: true });
    setFc(p, [50, -50], [0]); // pruner 0 keeps every token
    const later = Object.fromEntries(
      Object.entries(p.params)
        .filter(([k]) => !k.startsWith('clip_layer.0.'))
        .map(([k, t]) => [k.replace(/^clip_layer\.(\d)\./, (_, d) => `clip_layer.${Number(d) - 1}.`), t]),
    );
    const twoCuts = TokenPruner.fromStateDict(TINY, later, { cutLayers: [1, 2], fuse: true });
    for (const mode of ['masked', 'gathered'] as const)
      expectAllclose(await fusedLogits(p, mode), await fusedLogits(twoCuts, mode), { rtol: 1e-5, atol: 1e-6, what: mode });
  });

  it('a strategy that drops nothing never adds a fused token: the plain model’s logits', async () => {
    const keepAll = TokenPruner.create(TINY, { strategy: { kind: 'budget', keep: [N, N, N] }, fuse: true });
    const off = TokenPruner.create(TINY, { strategy: { kind: 'budget', keep: [N, N, N] } });
    expectAllclose(await fusedLogits(keepAll, 'gathered'), await fusedLogits(off, 'gathered'), { rtol: 1e-6, atol: 1e-7 });
    const r = await keepAll.run(model, images, { session: SESSION });
    expect(r.tokensPerLayer[0]).toEqual([N, N, N, N]);
  });
});

describe('counting the fused token', () => {
  it('tokens per block: + 1 from the first cut that drops anything on', async () => {
    expect(tokenCounts(TINY, [0, 1, 2], [12, 6, 3], true)).toEqual([N, 13, 7, 4]);
    expect(tokenCounts(TINY, [0, 1, 2], [12, 6, 3], false)).toEqual([N, 12, 6, 3]);
    expect(tokenCounts(TINY, [0, 1, 2], [N, 6, 3], true)).toEqual([N, N, 7, 4]);
    const pruner = TokenPruner.create(TINY, { strategy: { kind: 'evit', keep: [12, 6, 3] }, fuse: true });
    const r = await pruner.run(model, images, { session: SESSION });
    expect(r.plans.fused).toBe(true);
    expect(tokensPerLayer(r.plans, TINY)).toEqual(Array.from({ length: 4 }, () => [N, 13, 7, 4]));
  });

  it('MACs: the fused token in every later block and one weighted sum (nD) per cut', () => {
    const fused = macsRatio(TINY, [0, 1, 2], [12, 6, 3], false, true);
    const byHand = planMacs(TINY, [N, 13, 7, 4], [], { fusedAt: [0, 1, 2] });
    expect(fused).toBeCloseTo(byHand.ratio, 12);
    expect(byHand.macs - planMacs(TINY, [N, 13, 7, 4]).macs).toBe((N + 13 + 7) * TINY.dim);
    expect(fused).toBeGreaterThan(macsRatio(TINY, [0, 1, 2], [12, 6, 3], false, false));
  });
});

describe('training with fusion', () => {
  const ds = blobDataset(12, 3);
  const labels = tensor(BigInt64Array.from(ds.labels, BigInt), [12]);
  const x = randomImages(14, 12);

  it('stream 1 backpropagates through the fused token: the ViT gradient matches a central difference', async () => {
    // `random` decides from fed scores, so no decision moves with the weights and the loss is smooth
    // in them; block 0 (before every cut) reaches the loss through the kept tokens and the fused
    // token (detaching the fused token fails this check; its CLS-attention weights' share is below
    // float32 FD resolution here, their VJPs are the op-level ones checked in test/graph).
    const pruner = TokenPruner.create(TINY, { strategy: { kind: 'random', keep: [10, 6, 3] }, fuse: true });
    const rng = new Rng(9);
    const scores = Object.fromEntries([0, 1, 2].map((k) => [`random_score.${k}`, tensor(rng.fillUniform(new Float32Array(12 * N)), [12, N])]));
    const g = aptTrainGraph(TINY, pruner.config);
    const at = async (params: Record<string, Tensor>) => runGraph(g, { ...params, ...pruner.params, ...scores, images: x, labels });
    const base = await at(model.params);
    const keys = Object.keys(model.params).filter((k) => k.startsWith('blocks.0.'));
    const dir = Object.fromEntries(keys.map((k) => [k, rng.fillNormal(new Float32Array((model.params[k] as Tensor).data.length))]));
    const analytic = keys.reduce((s, k) => s + (base[gradName(k)] as Tensor<'float32'>).data.reduce((t, gv, i) => t + gv * (dir[k]?.[i] as number), 0), 0);
    const eps = 1e-3;
    const shifted = async (sign: number) => {
      const p = Object.fromEntries(
        Object.entries(model.params).map(([k, t]) => [
          k,
          dir[k]
            ? tensor(
                t.data.map((v, i) => v + sign * eps * (dir[k]?.[i] as number)),
                [...t.dims],
              )
            : t,
        ]),
      );
      return Number((await at(p)).loss?.data[0]);
    };
    const fd = ((await shifted(1)) - (await shifted(-1))) / (2 * eps);
    expect(Math.abs(analytic)).toBeGreaterThan(1e-2);
    expect(Math.abs(fd - analytic)).toBeLessThan(1e-2 * Math.abs(analytic));
  });

  it('train.apt with fusion: same seed → bit-identical after 2 updates, different from dropping outright', async () => {
    const pruner = await mixedPruner(model, x, 6, 2, { strategy: { kind: 'budget', keep: [10, 6, 3] }, fuse: true });
    const recipe = tinyAptRecipe({ name: 't', warmup: 1, total: 2, maxGradNorm: 1, seed: 3 });
    const train = async (p: TokenPruner) => {
      const c = copyOf(model, p);
      await apt({ model: c.model, pruner: c.pruner, train: ds, recipe, session: SESSION });
      return paramBytes({ ...c.model.params, ...c.pruner.params });
    };
    const [a, b] = [await train(pruner), await train(pruner)];
    expect(a.equals(b)).toBe(true);
    const dropOnly = TokenPruner.fromStateDict(TINY, pruner.params, { ...pruner.config, fuse: false });
    expect(a.equals(await train(dropOnly))).toBe(false);
  });

  it('a fuse option that is not a boolean: ValueError naming the value', () => {
    expect(() => TokenPruner.create(TINY, { fuse: 'yes' as unknown as boolean })).toThrow(/fuse must be true or false, got "yes"/);
  });

  it('fuse is saved with the checkpoint and comes back on load', async () => {
    const pruner = TokenPruner.create(TINY, { strategy: { kind: 'evit', keep: [10, 6, 3] }, fuse: true });
    const dir = mkdtempSync(join(tmpdir(), 'apt-fuse-'));
    try {
      await saveAptCheckpoint(join(dir, 'ck'), model, pruner);
      const back = await loadAptCheckpoint(join(dir, 'ck'));
      expect(back.pruner.config.fuse).toBe(true);
      expect(back.pruner.config.strategy).toEqual(pruner.config.strategy);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
