/**
 * Decisions and where they act (specs/apt.md §3, §4): §10.2 CLS is never dropped, §10.3 the strict
 * threshold, §10.4 masks accumulate, §10.5 masked forward ≡ physical removal, §10.10 stream 2's
 * single cut (and its shortcut from the cached H_ℓ).
 */
import { describe, expect, it } from 'vitest';
import { aptTrainGraph, explore, keyBias, oneCutMask, prunedInferenceGraph, type TokenPruner, tailGraph } from '../../src/agent/index.js';
import { Graph } from '../../src/graph/builder.js';
import { compile } from '../../src/graph/runtime.js';
import { Rng } from '../../src/tensor/rng.js';
import { type Tensor, tensor } from '../../src/tensor/tensor.js';
import { gradName } from '../../src/train/step.js';
import { classify } from '../../src/vit/model.js';
import { vitParams } from '../../src/vit/params.js';
import { expectAllclose } from '../helpers/allclose.js';
import { mixedPruner, N, randomImages, runGraph, SESSION, setFc, TINY, tinyModel } from '../helpers/apt.js';

const model = tinyModel();
const images = randomImages(5, 4);
const labels = tensor(BigInt64Array.of(1n, 3n, 5n, 7n), [4]);

/** Stream 0 + 1 graph outputs for `pruner` on the 4 images. */
const trainOutputs = async (pruner: TokenPruner) => runGraph(aptTrainGraph(TINY, pruner.config), { ...model.params, ...pruner.params, images, labels });
/** Raw outputs of the inference graph (so that shapes are visible). */
const inference = async (pruner: TokenPruner, mode: 'masked' | 'gathered', x: Tensor = images) =>
  runGraph(prunedInferenceGraph(TINY, pruner.config, mode), { ...model.params, ...pruner.params, images: x });
const values = (t: Tensor | undefined) => Array.from(t?.data as Float32Array);
const clsOnly = (b: number) => Array.from({ length: b * N }, (_, i) => (i % N === 0 ? 1 : 0));

describe('§10.2 CLS is never dropped (W_f = 0, b_f = (−50, +50): every P(drop) ≈ 1)', () => {
  const allDrop = async () => {
    const p = await mixedPruner(model, images, 1);
    setFc(p, [-50, 50]);
    return p;
  };

  it('S1 drops exactly tokens 1…N−1 at every cut, and its loss, logits and gradients stay finite', async () => {
    const out = await trainOutputs(await allDrop());
    for (let k = 0; k < 3; k++) {
      expect(values(out[`kept.${k}`])).toEqual([1, 1, 1, 1]);
      expect(values(out[`pdrop.${k}`]).every((p) => p === 1)).toBe(true);
    }
    expect(Number.isFinite(Number(out.loss?.data[0]))).toBe(true);
    for (const [k, t] of Object.entries(out)) if (k.startsWith('grad:')) expect(values(t).every(Number.isFinite), k).toBe(true);
    const masked = await inference(await allDrop(), 'masked');
    for (let k = 0; k < 3; k++) expect(values(masked[`mask.${k}`])).toEqual(clsOnly(4));
    expect(values(masked.logits).every(Number.isFinite)).toBe(true);
  });

  it('inference keeps [1, 1, D] after the first cut (index.k is [1, 1] = CLS), with the masked logits', async () => {
    const p = await allDrop();
    const one = randomImages(6, 1);
    const [gathered, masked] = [await inference(p, 'gathered', one), await inference(p, 'masked', one)];
    for (let k = 0; k < 3; k++) {
      expect(gathered[`index.${k}`]?.dims).toEqual([1, 1]);
      expect(Array.from(gathered[`index.${k}`]?.data as BigInt64Array)).toEqual([0n]);
    }
    expectAllclose(values(gathered.logits), values(masked.logits), { rtol: 1e-5, atol: 1e-6 });
    const r = await p.run(model, one, { session: SESSION });
    expect(r.tokensPerLayer).toEqual([[N, 1, 1, 1]]);
  });

  it('S2 never picks j = 0, greedy or random, even when every token (CLS too) ties at P(drop) = 1', async () => {
    const out = await trainOutputs(await allDrop());
    const rng = new Rng(0);
    const counts = new Array<number>(N).fill(0);
    for (let t = 0; t < 500; t++) for (const j of explore(out['pdrop.0']?.data as Float32Array, 4, N, rng)) counts[j] = (counts[j] as number) + 1;
    expect(counts[0]).toBe(0);
    expect(counts[1]).toBeGreaterThan(900); // greedy takes the first of the tied maxima, j = 1
  });
});

describe('§10.3 threshold: P(drop) = τ keeps, τ + 1e-6 drops', () => {
  it.each([
    [0, 'keeps', 0.5],
    [4e-6, 'drops', 0.500001],
  ] as const)('b_f = (0, %d) %s every patch token', async (lift, _what, pdrop) => {
    const p = await mixedPruner(model, images, 2);
    setFc(p, [0, lift]);
    const out = await trainOutputs(p);
    expectAllclose(values(out['pdrop.0']), new Array(4 * N).fill(pdrop), { rtol: 0, atol: 2e-7 });
    if (lift === 0) expect(values(out['pdrop.0']).every((v) => v === 0.5)).toBe(true);
    const masked = await inference(p, 'masked');
    const want = lift === 0 ? new Array(4 * N).fill(1) : clsOnly(4);
    for (let k = 0; k < 3; k++) expect(values(masked[`mask.${k}`]), `cut ${k}`).toEqual(want);
  });
});

describe('§10.4 masks accumulate', () => {
  it('a token dropped at C[0] stays dropped at C[1] and C[2] although their pruners say keep (masked, gathered, S1)', async () => {
    const p = await mixedPruner(model, images, 3);
    setFc(p, [50, -50], [1, 2]);
    const masked = await inference(p, 'masked');
    const m0 = values(masked['mask.0']);
    expect(m0.filter((v) => v === 0).length).toBeGreaterThan(8);
    expect(values(masked['mask.1'])).toEqual(m0);
    expect(values(masked['mask.2'])).toEqual(m0);
    const r = await p.run(model, images, { session: SESSION });
    expect(r.plans.kept[1]).toEqual(r.plans.kept[0]);
    expect(r.plans.kept[2]).toEqual(r.plans.kept[0]);
    const s1 = await trainOutputs(p);
    const kept0 = values(s1['kept.0']);
    expect(values(s1['kept.2'])).toEqual(kept0);
    expect(kept0).toEqual(r.plans.kept[0]?.map((k) => k.length));
  });
});

describe('§10.5 masked forward ≡ physical removal', () => {
  it('threshold, B = 4: logits within 1e-5, equal kept counts; plans nested, CLS first, ascending, non-increasing', async () => {
    const p = await mixedPruner(model, images, 4);
    const [gathered, masked] = [await p.run(model, images, { session: SESSION }), await p.run(model, images, { mode: 'masked', session: SESSION })];
    expectAllclose(gathered.logits.data, masked.logits.data, { rtol: 1e-5, atol: 1e-5, what: 'logits' });
    expect(gathered.plans).toEqual(masked.plans);
    expect(gathered.tokensPerLayer).toEqual(masked.tokensPerLayer);
    const counts = gathered.tokensPerLayer.flat();
    expect(new Set(counts).size).toBeGreaterThan(3); // decisions differ per sample and per cut
    for (let b = 0; b < 4; b++) {
      let prev: number[] = Array.from({ length: N }, (_, i) => i);
      for (let k = 0; k < 3; k++) {
        const kept = Array.from(gathered.plans.kept[k]?.[b] as Int32Array);
        expect(kept[0]).toBe(0);
        expect(kept).toEqual([...kept].sort((x, y) => x - y));
        expect(kept.every((j) => prev.includes(j))).toBe(true);
        prev = kept;
      }
    }
  });

  it('B = 1 removal (no padding) gives each sample’s masked logits; the budget strategy agrees too', async () => {
    const p = await mixedPruner(model, images, 4);
    const masked = await p.run(model, images, { mode: 'masked', session: SESSION });
    for (let b = 0; b < 4; b++) {
      const one = tensor(images.data.slice(b * 784, (b + 1) * 784), [1, 1, 28, 28]);
      const r = await inference(p, 'gathered', one);
      expect(r['index.2']?.dims).toEqual([1, masked.plans.kept[2]?.[b]?.length]);
      expectAllclose(values(r.logits), Array.from(masked.logits.data.subarray(b * 10, (b + 1) * 10)), { rtol: 1e-5, atol: 1e-5 });
    }
    const budget = p.withStrategy({ kind: 'budget', keep: [12, 8, 5] });
    const [g, m] = [await budget.run(model, images, { session: SESSION }), await budget.run(model, images, { mode: 'masked', session: SESSION })];
    expectAllclose(g.logits.data, m.logits.data, { rtol: 1e-5, atol: 1e-5 });
    expect(g.plans).toEqual(m.plans);
    expect(g.tokensPerLayer[0]).toEqual([N, 12, 8, 5]);
  });
});

/** The ViT forward with one keep vector applied to the keys of every block after `cut` (no other cuts). */
function oneCutForward(cut: number): Graph {
  const g = new Graph('one-cut');
  const x = g.input('images', 'float32', ['B', 1, 28, 28]);
  const bias = keyBias(g, g.input('keep', 'float32', ['B', N]));
  g.output('logits', classify(g, vitParams(g, TINY), x, TINY, { attnBias: (i) => (i > cut ? bias : undefined) }).logits);
  return g;
}

describe('§10.10 one cut', () => {
  it('oneCutMask drops exactly token j_b of each sample and nothing else', () => {
    const m = oneCutMask(Int32Array.of(1, 16, 7), N);
    expect(m.length).toBe(3 * N);
    expect([0, 1, 2].map((b) => Array.from(m.subarray(b * N, (b + 1) * N)).flatMap((v, j) => (v === 0 ? [j] : [])))).toEqual([[1], [16], [7]]);
  });

  it.each([0, 1, 2])('cut %i: the tail from cached H_ℓ equals a full forward with the same single cut; keep-all gives the plain logits', async (k) => {
    const p = await mixedPruner(model, images, 5);
    const a = await trainOutputs(p);
    const cut = p.config.cutLayers[k] as number;
    const keep = tensor(oneCutMask(explore(a[`pdrop.${k}`]?.data as Float32Array, 4, N, new Rng(k)), N), [4, N]);
    using tail = await compile(tailGraph(TINY, cut), SESSION);
    const fromH = await tail.run({ ...model.params, h: a[`h.${k}`] as Tensor, keep });
    const full = await runGraph(oneCutForward(cut), { ...model.params, images, keep });
    expectAllclose(values(fromH.logits), values(full.logits), { rtol: 1e-5, atol: 1e-6, what: 'pNew logits' });
    const plain = await tail.run({ ...model.params, h: a[`h.${k}`] as Tensor, keep: tensor(new Float32Array(4 * N).fill(1), [4, N]) });
    expectAllclose(values(plain.logits), values(a['logits.plain']), { rtol: 1e-5, atol: 1e-6, what: 'keep-all tail vs plain' });
    expect(values(fromH.logits)).not.toEqual(values(plain.logits)); // the cut changes something
    expect(a[gradName('clip_layer.0.fc.weight')]).toBeUndefined();
  });
});
