/**
 * The attention-prior extension (recipe.attentionPrior): each budget pruner is also taught EViT's
 * decisions on the plain forward; stream 1 and the ViT's gradients stay exactly as they were.
 */
import { describe, expect, it } from 'vitest';
import { aptTrainGraph, TokenPruner } from '../../src/agent/index.js';
import { batches } from '../../src/data/index.js';
import { Graph } from '../../src/graph/builder.js';
import type { Value } from '../../src/graph/types.js';
import { ValueError } from '../../src/tensor/errors.js';
import { type Tensor, tensor } from '../../src/tensor/tensor.js';
import { type AptEvent, type AptRecipe, apt } from '../../src/train/index.js';
import { gradName } from '../../src/train/step.js';
import { classify } from '../../src/vit/model.js';
import { vitParams } from '../../src/vit/params.js';
import { expectAllclose } from '../helpers/allclose.js';
import { blobDataset, copyOf, copyParams, mixedPruner, N, paramBytes, runGraph, TINY, tinyAptRecipe, tinyModel } from '../helpers/apt.js';

const B = 12;
const KEEP = [12, 8, 5];
const ds = blobDataset(B, 3);
const images = [...batches(ds, { batchSize: B, reuseBuffers: false })][0]?.images as Tensor<'float32'>;
const labels = tensor(BigInt64Array.from(ds.labels, BigInt), [B]);
const model = tinyModel(1);
const budget = (await mixedPruner(model, images, 11)).withStrategy({ kind: 'budget', keep: KEEP });
const CUTS = budget.config.cutLayers;
const data = (t: Tensor | undefined) => t?.data as Float32Array;
const feeds = (params: Record<string, Tensor> = budget.params) => ({ ...model.params, ...params, images, labels });

/** The CLS attention row of every cut block on the plain forward, [B, N] each. */
async function clsAttention(): Promise<Float32Array[]> {
  const g = new Graph('cls-attention');
  const x = g.input('images', 'float32', ['B', TINY.inChans, TINY.imageSize, TINY.imageSize]);
  const f = classify(g, vitParams(g, TINY), x, TINY).features;
  CUTS.forEach((l, k) => {
    g.output(`attn.${k}`, f.clsAttn[l] as Value);
  });
  const out = await runGraph(g, { ...model.params, images });
  return CUTS.map((_, k) => data(out[`attn.${k}`]));
}

/** EViT's labels on the plain forward, per patch token (1 = drop): outside the count − 1 patches CLS attends to most. */
function evitDrop(attn: Float32Array, count: number): Uint8Array {
  const drop = new Uint8Array(B * N);
  for (let b = 0; b < B; b++) {
    const order = Array.from({ length: N - 1 }, (_, i) => i + 1).sort((x, y) => (attn[b * N + y] as number) - (attn[b * N + x] as number));
    for (const j of order.slice(count - 1)) drop[b * N + j] = 1;
  }
  return drop;
}

describe('attention prior in the training graph', () => {
  it("equals the cross-entropy of the pruner's P(drop) against EViT's decisions; its bias gradient is β·mean(P(drop) − label)", async () => {
    const beta = 0.5;
    const a = await runGraph(aptTrainGraph(TINY, budget.config, { attentionPrior: beta }), feeds());
    const attn = await clsAttention();
    CUTS.forEach((_, k) => {
      const p = data(a[`pdrop.${k}`]);
      const drop = evitDrop(attn[k] as Float32Array, KEEP[k] as number);
      let [ce, gap] = [0, 0];
      for (let b = 0; b < B; b++)
        for (let j = 1; j < N; j++) {
          const [pi, y] = [p[b * N + j] as number, drop[b * N + j] as number];
          ce -= y ? Math.log(pi) : Math.log(1 - pi);
          gap += pi - y;
        }
      const m = B * (N - 1);
      expect(Number(data(a[`prior.${k}`])[0])).toBeCloseTo(ce / m, 5);
      const g = data(a[gradName(`clip_layer.${k}.fc.bias`)]);
      expect(g[1]).toBeCloseTo((beta * gap) / m, 6);
      expect(g[0]).toBeCloseTo((-beta * gap) / m, 6);
    });
  });

  it('stream 1 and the ViT gradients are unchanged; the pruners’ gradients scale with β and match finite differences', async () => {
    const off = await runGraph(aptTrainGraph(TINY, budget.config), feeds());
    const on = await runGraph(aptTrainGraph(TINY, budget.config, { attentionPrior: 1 }), feeds());
    const twice = await runGraph(aptTrainGraph(TINY, budget.config, { attentionPrior: 2 }), feeds());
    expect(Array.from(data(on.loss))).toEqual(Array.from(data(off.loss)));
    for (const key of Object.keys(model.params)) expectAllclose(data(on[gradName(key)]), data(off[gradName(key)]), { atol: 1e-7, what: key });
    for (const key of Object.keys(budget.params)) {
      const g1 = data(on[gradName(key)]);
      expectAllclose(
        data(twice[gradName(key)]),
        g1.map((v) => 2 * v),
        { rtol: 1e-5, atol: 1e-9, what: `2β ${key}` },
      );
    }
    const graph = aptTrainGraph(TINY, budget.config, { attentionPrior: 1 });
    const eps = 1e-2;
    for (const [k] of CUTS.entries()) {
      const name = `clip_layer.${k}.key.weight`;
      const grad = data(on[gradName(name)]);
      const i = grad.reduce((best, v, idx) => (Math.abs(v) > Math.abs(grad[best] as number) ? idx : best), 0);
      const priorAt = async (e: number) => {
        const params = copyParams(budget.params);
        const w = (params[name] as Tensor<'float32'>).data;
        w[i] = (w[i] as number) + e;
        return Number(data((await runGraph(graph, feeds(params)))[`prior.${k}`])[0]);
      };
      const slope = ((await priorAt(eps)) - (await priorAt(-eps))) / (2 * eps);
      expect(Math.abs(slope)).toBeGreaterThan(1e-4);
      expect(Math.abs((grad[i] as number) - slope), name).toBeLessThan(0.02 * Math.abs(slope) + 1e-5);
    }
  });
});

const RECIPE = tinyAptRecipe({ warmup: 1, total: 8, seed: 5, maxGradNorm: 1 });

async function train(pruner: TokenPruner, recipe: Partial<AptRecipe>, onEvent?: (e: AptEvent) => void) {
  const c = copyOf(model, pruner);
  await apt({ model: c.model, pruner: c.pruner, train: ds, recipe: { ...RECIPE, ...recipe }, session: { intraOpThreads: 1 }, ...(onEvent ? { onEvent } : {}) });
  return c;
}

describe('train.apt with attentionPrior', () => {
  it('same seed → bit-identical weights; update events carry each pruner’s prior loss; the pruners end nearer EViT than without it', async () => {
    const losses: number[][] = [];
    const x = await train(budget, { attentionPrior: 2 }, (e) => {
      if (e.kind === 'update') losses.push([...(e.priorLoss ?? [])]);
    });
    const y = await train(budget, { attentionPrior: 2 });
    expect(paramBytes({ ...x.model.params, ...x.pruner.params }).equals(paramBytes({ ...y.model.params, ...y.pruner.params }))).toBe(true);
    expect(losses).toHaveLength(RECIPE.total);
    expect(losses.every((l) => l.length === CUTS.length && l.every((v) => v > 0))).toBe(true);
    const without = await train(budget, {});
    const graph = aptTrainGraph(TINY, budget.config, { attentionPrior: 1 });
    const priorOf = async (c: typeof x) => {
      const out = await runGraph(graph, { ...c.model.params, ...c.pruner.params, images, labels });
      return CUTS.map((_, k) => Number(data(out[`prior.${k}`])[0]));
    };
    const [withPrior, plain] = [await priorOf(x), await priorOf(without)];
    withPrior.forEach((v, k) => {
      expect(v, `cut ${k}`).toBeLessThan(plain[k] as number);
    });
  });

  it('refuses a negative or non-finite weight, threshold, strategies without a scorer and fusion', async () => {
    await expect(train(budget, { attentionPrior: -1 })).rejects.toThrow(/recipe.attentionPrior must be a finite number ≥ 0, got -1/);
    await expect(train(budget, { attentionPrior: Number.POSITIVE_INFINITY })).rejects.toThrow(ValueError);
    await expect(train(budget.withStrategy('threshold'), { attentionPrior: 1 })).rejects.toThrow(/attentionPrior needs the budget strategy.*got threshold/);
    const evit = TokenPruner.create(TINY, { strategy: { kind: 'evit', keep: KEEP } });
    await expect(train(evit, { attentionPrior: 1 })).rejects.toThrow(/got evit/);
    const fused = TokenPruner.fromStateDict(TINY, budget.params, { ...budget.config, fuse: true });
    await expect(train(fused, { attentionPrior: 1 })).rejects.toThrow(/without fusion, got budget with fuse/);
    expect(() => aptTrainGraph(TINY, budget.withStrategy('threshold').config, { attentionPrior: 1 })).toThrow(ValueError);
  });
});
