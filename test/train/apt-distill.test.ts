/**
 * The opt-in distillation of stream 1 (`recipe.distill`, an extension): the train graph's loss is
 * (1 − α)·CE + α·T²·KL(teacher ‖ pruned), checked against the faithful graph and the masked
 * inference graph; with nothing pruned the KL term and its gradient vanish; the frozen teacher stays
 * the starting ViT; bad options are refused.
 */
import { describe, expect, it } from 'vitest';
import { aptTrainGraph, prunedInferenceGraph, TokenPruner } from '../../src/agent/index.js';
import { parseDistill } from '../../src/cli/commands/apt.js';
import { UsageError } from '../../src/cli/errors.js';
import { batches } from '../../src/data/index.js';
import { ValueError } from '../../src/tensor/errors.js';
import { type Tensor, tensor, toNumbers } from '../../src/tensor/tensor.js';
import { apt, aptFinetuneRecipe, checkAptRecipe } from '../../src/train/index.js';
import { gradName } from '../../src/train/step.js';
import { expectAllclose } from '../helpers/allclose.js';
import { blobDataset, copyOf, copyParams, mixedPruner, N, paramBytes, runGraph, SESSION, TINY, tinyModel } from '../helpers/apt.js';

const ds = blobDataset(12, 3);
const images = [...batches(ds, { batchSize: 12, reuseBuffers: false })][0]?.images as Tensor<'float32'>;
const labels = tensor(BigInt64Array.from(ds.labels, BigInt), [12]);
const model = tinyModel(1);
const pruner = await mixedPruner(model, images, 11);
const feeds = { ...model.params, ...pruner.params, images, labels };
// The toy ViT's logits are near uniform (KL ≈ 1e-4, where KL(p‖q) ≈ KL(q‖p)): a 40× head makes them
// confident, so the direction of the KL and the temperature both show in the value.
const sharp = {
  ...feeds,
  'head.weight': tensor(
    (model.params['head.weight'] as Tensor<'float32'>).data.map((v) => 40 * v),
    model.params['head.weight']?.dims as number[],
  ),
};
const vitKeys = Object.keys(model.params);

/** T²·mean_b KL(softmax(t/T) ‖ softmax(s/T)) in float64, logits [B, K] row-major. */
function kl(s: readonly number[], t: readonly number[], k: number, temperature: number): number {
  const logSoftmax = (row: readonly number[]) => {
    const z = row.map((v) => v / temperature);
    const m = Math.max(...z);
    const lse = m + Math.log(z.reduce((a, v) => a + Math.exp(v - m), 0));
    return z.map((v) => v - lse);
  };
  let total = 0;
  for (let r = 0; r < s.length / k; r++) {
    const [ls, lt] = [logSoftmax(s.slice(r * k, (r + 1) * k)), logSoftmax(t.slice(r * k, (r + 1) * k))];
    total += lt.reduce((a, v, i) => a + Math.exp(v) * (v - (ls[i] as number)), 0);
  }
  return (temperature * temperature * total) / (s.length / k);
}

describe('stream 1 with distillation from the plain model', () => {
  it('loss = (1 − α)·CE + α·T²·KL(teacher ‖ pruned) for a live and a fed (frozen) teacher, the pruned logits being the masked forward’s', async () => {
    const faithful = await runGraph(aptTrainGraph(TINY, pruner.config), sharp);
    const { labels: _, ...inferenceFeeds } = sharp;
    const pruned = await runGraph(prunedInferenceGraph(TINY, pruner.config, 'masked'), inferenceFeeds);
    expect(Math.min(...toNumbers(faithful['kept.2'] as Tensor))).toBeLessThan(N); // tokens really dropped
    const ce = toNumbers(faithful.loss as Tensor)[0] as number;
    const [p, q] = [toNumbers(faithful['logits.plain'] as Tensor), toNumbers(pruned.logits as Tensor)];
    for (const temperature of [1, 3]) {
      const want = kl(q, p, 10, temperature);
      // the test can tell the directions and temperatures apart
      expect(Math.abs(want - kl(p, q, 10, temperature))).toBeGreaterThan(1e-3);
      expect(want).toBeGreaterThan(0.01);
      for (const alpha of [0.3, 1]) {
        const live = await runGraph(aptTrainGraph(TINY, pruner.config, { distill: { alpha, temperature, teacher: 'live' } }), sharp);
        expect(toNumbers(live.loss as Tensor)[0]).toBeCloseTo((1 - alpha) * ce + alpha * want, 4);
        // 'frozen' takes the teacher's logits as an input: fed stream 0's, it gives the same loss
        const frozen = await runGraph(aptTrainGraph(TINY, pruner.config, { distill: { alpha, temperature } }), {
          ...sharp,
          'logits.teacher': faithful['logits.plain'] as Tensor,
        });
        expect(toNumbers(frozen.loss as Tensor)[0]).toBeCloseTo((1 - alpha) * ce + alpha * want, 4);
      }
    }
  });

  it('with nothing pruned the plain model teaches itself: KL and its gradient vanish, gradients are (1 − α)× the faithful ones', async () => {
    const config = { ...pruner.config, strategy: { kind: 'budget' as const, keep: pruner.config.cutLayers.map(() => N) } };
    const keepAll = TokenPruner.fromStateDict(pruner.vit, pruner.params, config);
    const faithful = await runGraph(aptTrainGraph(TINY, keepAll.config), feeds);
    const d = await runGraph(aptTrainGraph(TINY, keepAll.config, { distill: { alpha: 0.25, temperature: 1, teacher: 'live' } }), feeds);
    expect(toNumbers(d.loss as Tensor)[0]).toBeCloseTo(0.75 * (toNumbers(faithful.loss as Tensor)[0] as number), 6);
    for (const k of vitKeys) {
      const want = toNumbers(faithful[gradName(k)] as Tensor).map((g) => 0.75 * g);
      expectAllclose(toNumbers(d[gradName(k)] as Tensor), want, { rtol: 1e-4, atol: 1e-6 * Math.max(1e-3, ...want.map(Math.abs)), what: k });
    }
  });

  it('the frozen teacher is the ViT as training started: update 1 agrees with the live teacher, update 3 does not', async () => {
    const losses = async (teacher: 'frozen' | 'live') => {
      const { model: m, pruner: p } = copyOf(model, pruner);
      const before = copyParams(m.params);
      const seen: number[] = [];
      const recipe = { ...aptFinetuneRecipe(3, 0), batch: 12, accum: 3, lr: 0.5, warmup: 1, evalEvery: 1000, distill: { alpha: 1, temperature: 1, teacher } };
      await apt({ model: m, pruner: p, train: ds, recipe, session: SESSION, onEvent: (e) => e.kind === 'update' && seen.push(e.lossPruned) });
      expect(paramBytes(m.params).equals(paramBytes(before))).toBe(false); // the ViT did train
      return seen;
    };
    const [frozen, live] = [await losses('frozen'), await losses('live')];
    expect(frozen[0]).toBeCloseTo(live[0] as number, 5);
    expect(Math.abs((frozen[2] as number) - (live[2] as number))).toBeGreaterThan(1e-4);
  });

  it('refuses α outside (0, 1] and T ≤ 0 in the recipe and on the command line, saying what came', () => {
    const r = aptFinetuneRecipe(10);
    expect(() => checkAptRecipe({ ...r, distill: { alpha: 0.5, temperature: 2 } })).not.toThrow();
    expect(() => checkAptRecipe({ ...r, distill: { alpha: 0, temperature: 1 } })).toThrow(ValueError);
    expect(() => checkAptRecipe({ ...r, distill: { alpha: 0.5, temperature: -1 } })).toThrow(/alpha 0.5, temperature -1/);
    expect(() => checkAptRecipe({ ...r, distill: { alpha: 0.5, temperature: 1, teacher: 'teacher' as 'live' } })).toThrow(
      /must be 'frozen' or 'live', got 'teacher'/,
    );
    expect(parseDistill('0.5')).toEqual({ alpha: 0.5, temperature: 1, teacher: 'frozen' });
    expect(parseDistill('1:2.5')).toEqual({ alpha: 1, temperature: 2.5, teacher: 'frozen' });
    expect(parseDistill('0.5:1:live')).toEqual({ alpha: 0.5, temperature: 1, teacher: 'live' });
    expect(parseDistill(undefined)).toBeUndefined();
    for (const bad of ['0', '1.5', 'x', '0.5:0', '0.5:', '-0.2', '0.5:1:warm', '0.5::live']) expect(() => parseDistill(bad)).toThrow(UsageError);
    expect(() => parseDistill('1.5')).toThrow(/--distill must be .* got '1.5'/);
  });
});
