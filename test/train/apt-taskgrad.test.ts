/**
 * The task-gradient extension (recipe.taskGrad): straight-through key gates hand the pruners
 * λ·∂loss/∂gate while stream 1's forward, loss and ViT gradients stay exactly as they were.
 */
import { describe, expect, it } from 'vitest';
import { aptTrainGraph, prunedForward, prunerParams, TokenPruner } from '../../src/agent/index.js';
import { batches } from '../../src/data/index.js';
import { Graph } from '../../src/graph/builder.js';
import { ValueError } from '../../src/tensor/errors.js';
import { type Tensor, tensor } from '../../src/tensor/tensor.js';
import { type AptRecipe, apt } from '../../src/train/index.js';
import { gradName } from '../../src/train/step.js';
import { vitParams } from '../../src/vit/params.js';
import { expectAllclose } from '../helpers/allclose.js';
import { blobDataset, copyOf, fixedCutsGraph, mixedPruner, N, paramBytes, runGraph, TINY, tinyAptRecipe, tinyModel } from '../helpers/apt.js';

const B = 12;
const ds = blobDataset(B, 3);
const images = [...batches(ds, { batchSize: B, reuseBuffers: false })][0]?.images as Tensor<'float32'>;
const labels = tensor(BigInt64Array.from(ds.labels, BigInt), [B]);
const model = tinyModel(1);
const threshold = await mixedPruner(model, images, 11);
const budget = threshold.withStrategy({ kind: 'budget', keep: [12, 8, 5] });
const CUTS = threshold.config.cutLayers;
const feeds = (p: TokenPruner) => ({ ...model.params, ...p.params, images, labels });
const data = (t: Tensor | undefined) => t?.data as Float32Array;

/** Mean cross-entropy over the batch, in float64 (finite differences of a float32 loss would drown in its rounding). */
function meanCE(logits: Float32Array, k = 10): number {
  let sum = 0;
  for (let b = 0; b < B; b++) {
    const row = Array.from(logits.subarray(b * k, b * k + k));
    const m = Math.max(...row);
    sum += m + Math.log(row.reduce((t, v) => t + Math.exp(v - m), 0)) - (row[ds.labels[b] as number] as number);
  }
  return sum / B;
}

describe('straight-through key gates', () => {
  for (const [name, pruner] of [
    ['threshold', threshold],
    ['budget', budget],
  ] as const) {
    it(`${name}: stream 1's loss, decisions and ViT gradients are unchanged; the pruners' gradients scale with λ`, async () => {
      const off = await runGraph(aptTrainGraph(TINY, pruner.config), feeds(pruner));
      const on = await runGraph(aptTrainGraph(TINY, pruner.config, { taskGrad: 1 }), feeds(pruner));
      const twice = await runGraph(aptTrainGraph(TINY, pruner.config, { taskGrad: 2 }), feeds(pruner));
      expectAllclose(data(on.loss), data(off.loss), { atol: 1e-6, what: 'loss' });
      CUTS.forEach((_, k) => {
        expect(Array.from(data(on[`kept.${k}`]))).toEqual(Array.from(data(off[`kept.${k}`])));
      });
      for (const key of Object.keys(model.params)) expectAllclose(data(on[gradName(key)]), data(off[gradName(key)]), { atol: 1e-6, what: key });
      expect(off[gradName('clip_layer.0.fc.bias')]).toBeUndefined();
      for (const key of Object.keys(pruner.params)) {
        const g1 = data(on[gradName(key)]);
        expect(
          g1.some((v) => v !== 0),
          key,
        ).toBe(true);
        expectAllclose(
          data(twice[gradName(key)]),
          g1.map((v) => 2 * v),
          { rtol: 1e-5, atol: 1e-9, what: `2λ ${key}` },
        );
      }
    });

    it(`${name}: the pruner's drop-bias gradient equals a finite difference of the loss along its soft gate`, async () => {
      const lambda = 0.5;
      const a = await runGraph(aptTrainGraph(TINY, pruner.config, { rewardContext: 'pruned', taskGrad: lambda }), feeds(pruner));
      const masks = CUTS.map((_, k) => data(a[`mask1.${k}`]));
      const gated = fixedCutsGraph(CUTS, 'gate');
      const eps = 0.04;
      for (const k0 of CUTS.keys()) {
        // ∂s/∂fc.bias[0] = s(1 − s) with s = 1 − P(drop): move the gate of cut k0 along it, where it is open before k0.
        const d = Float32Array.from(data(a[`pdrop1.${k0}`]), (p) => p * (1 - p));
        const gatesAt = (e: number) =>
          Object.fromEntries(
            masks.map((m, k) => {
              const open = k === k0 ? (k0 === 0 ? null : (masks[k0 - 1] as Float32Array)) : m;
              const gate = k < k0 ? m : Float32Array.from(m, (v, i) => v + e * (d[i] as number) * (open ? (open[i] as number) : 1));
              return [`keep.${k}`, tensor(gate, [B, N])];
            }),
          );
        const lossAt = async (e: number) => meanCE(data((await runGraph(gated, { ...model.params, images, ...gatesAt(e) })).logits));
        expect(await lossAt(0)).toBeCloseTo(Number(data(a.loss)[0]), 5);
        const slope = ((await lossAt(eps)) - (await lossAt(-eps))) / (2 * eps);
        const grad = data(a[gradName(`clip_layer.${k0}.fc.bias`)]);
        expect(Math.abs(slope)).toBeGreaterThan(2e-5);
        expect(Math.abs((grad[0] as number) - lambda * slope), `cut ${k0}`).toBeLessThan(0.01 * Math.abs(lambda * slope) + 1e-7);
        expect(grad[1]).toBeCloseTo(-(grad[0] as number), 7);
      }
    });
  }
});

const RECIPE = tinyAptRecipe({ warmup: 1, total: 3, seed: 5 });

async function train(pruner: TokenPruner, recipe: Partial<AptRecipe>) {
  const c = copyOf(model, pruner);
  await apt({ model: c.model, pruner: c.pruner, train: ds, recipe: { ...RECIPE, ...recipe }, session: { intraOpThreads: 1 } });
  return c;
}

describe('train.apt with taskGrad', () => {
  it('same seed → bit-identical weights; the ViT’s first update is the faithful one’s, the pruners’ are not', async () => {
    const [x, y] = [await train(budget, { taskGrad: 1 }), await train(budget, { taskGrad: 1 })];
    expect(paramBytes({ ...x.model.params, ...x.pruner.params }).equals(paramBytes({ ...y.model.params, ...y.pruner.params }))).toBe(true);
    const [one, faithful] = [await train(budget, { taskGrad: 1, total: 2, warmup: 1 }), await train(budget, { total: 2, warmup: 1 })];
    // Equal to rounding, not bitwise: the gated attention renormalises where the bias masks.
    for (const [key, t] of Object.entries(one.model.params)) expectAllclose(t.data, data(faithful.model.params[key]), { atol: 1e-6, what: key });
    expect(paramBytes(one.pruner.params).equals(paramBytes(faithful.pruner.params))).toBe(false);
  });

  it('combines with the pruned reward context', async () => {
    const c = await train(threshold, { taskGrad: 0.5, rewardContext: 'pruned' });
    expect(paramBytes(c.pruner.params).equals(paramBytes(threshold.params))).toBe(false);
  });

  it('refuses a negative or non-finite weight, strategies without a scorer, fusion and the gathered form', async () => {
    await expect(train(budget, { taskGrad: -1 })).rejects.toThrow(/recipe.taskGrad must be a finite number ≥ 0, got -1/);
    await expect(train(budget, { taskGrad: Number.NaN })).rejects.toThrow(ValueError);
    const evit = TokenPruner.create(TINY, { strategy: { kind: 'evit', keep: [12, 8, 5] } });
    await expect(train(evit, { taskGrad: 1 })).rejects.toThrow(/taskGrad needs a strategy with a scorer.*evit/);
    const fused = TokenPruner.fromStateDict(TINY, budget.params, { ...budget.config, fuse: true });
    await expect(train(fused, { taskGrad: 1 })).rejects.toThrow(/no fusion.*with fuse/);
    const g = new Graph('gathered');
    const x = g.input('images', 'float32', ['B', 1, 28, 28]);
    expect(() => prunedForward(g, vitParams(g, TINY), prunerParams(g, TINY, budget.config), x, TINY, budget.config, 'gathered', [], 1)).toThrow(
      /taskGrad needs the masked form.*got gathered budget/,
    );
  });
});
