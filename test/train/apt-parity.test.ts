/**
 * §10.16 golden parity: one three-channel update of train.apt against a PyTorch re-implementation of
 * the spec (scripts/fixtures/apt.py; tiny ViT dim 16, depth 4, N = 17, cuts [0, 1, 2], batch 12 as
 * 3 × 4, dropout 0). The exploration indices PyTorch drew are replayed through train.apt's `explore`
 * option (keyed by data-set row, so the loader's shuffled micro-batches do not matter: every
 * quantity compared is a mean over the 12 samples). Compared at 1e-4: S1 logits and masks, L1 and
 * every L2ℓ, the pruners' P(drop) on H_ℓ, and all parameters after one update (clip active, lr·λ(1)).
 * Tolerance as test/vit/parity.test.ts: rtol 1e-4, atol 1e-6·max|expected| per tensor.
 */
import { describe, expect, it } from 'vitest';
import { TokenPruner } from '../../src/agent/index.js';
import { APT_NORM, batches, fromArrays } from '../../src/data/index.js';
import { readSafetensors } from '../../src/io/index.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { type AptEvent, type AptRecipe, apt } from '../../src/train/index.js';
import { fromStateDict } from '../../src/vit/index.js';
import { expectAllclose, worstMismatch } from '../helpers/allclose.js';
import { APT_FIXTURES, copyParams, readGolden, SESSION, splitStateDict } from '../helpers/apt.js';
import { PARITY_RTOL, parityTolerance } from '../helpers/engine-models.js';

const golden = readGolden();
const cfg = golden.config;
const n = 17;
const batch = golden.recipe.batch;
const ds = fromArrays(Uint8Array.from(golden.pixels.data), golden.labels.data, { c: 1, h: 28, w: 28 }, { classes: 10, norm: APT_NORM });
const images = [...batches(ds, { batchSize: batch, reuseBuffers: false })][0]?.images as Tensor<'float32'>;

async function load() {
  const { vit, pruners } = splitStateDict(await readSafetensors(new URL(golden.weights, APT_FIXTURES)));
  return { model: fromStateDict(cfg, vit), pruner: TokenPruner.fromStateDict(cfg, pruners, { cutLayers: golden.cutLayers }) };
}

const recipe: AptRecipe = { ...golden.recipe, name: 'parity', weightDecay: 0, evalEvery: 100, rewardKind: 'prob', augment: false, seed: 0 };
class Stop extends Error {}

/** One update with PyTorch's exploration replayed; returns the parameters after it, the event and what explore saw. */
async function oneUpdate(replay = golden.explore.j) {
  const { model, pruner } = await load();
  const before = { ...copyParams(model.params), ...copyParams(pruner.params) };
  const seen: { k: number; rows: number[]; pDrop: Float32Array }[] = [];
  let event: AptEvent | undefined;
  let after: Record<string, Tensor<'float32'>> = {};
  const run = apt({
    model,
    pruner,
    train: ds,
    recipe,
    session: SESSION,
    explore: (k, pDrop, rows) => {
      seen.push({ k, rows: Array.from(rows), pDrop: pDrop.slice() });
      return Int32Array.from(rows, (r) => replay[k]?.[r] as number);
    },
    onEvent: (e) => {
      event = e;
      after = { ...copyParams(model.params), ...copyParams(pruner.params) };
      throw new Stop(); // parameters after update 1 are all the fixture holds
    },
  });
  await expect(run).rejects.toBeInstanceOf(Stop);
  return { before, after, event: event as Extract<AptEvent, { kind: 'update' }>, seen };
}

describe('§10.16 golden parity with the PyTorch reference (tiny config)', () => {
  it('the fixture is discriminating: mixed decisions, both labels, greedy and random choices, clip active', () => {
    const c = golden.meta.checks as { kept_per_cut: number[][]; greedy_choices: number; labels_1: number; grad_norm_before_clip: number };
    expect(new Set(c.kept_per_cut.flat()).size).toBeGreaterThan(4);
    expect(c.greedy_choices).toBeGreaterThan(0);
    expect(c.greedy_choices).toBeLessThan(36);
    expect(c.labels_1).toBeGreaterThan(0);
    expect(c.labels_1).toBeLessThan(36);
    expect(c.grad_norm_before_clip).toBeGreaterThan(golden.recipe.maxGradNorm);
    expect(golden.lr).toBeCloseTo(golden.recipe.lr * (1 / golden.recipe.warmup), 12); // λ(1) = 1/W
  });

  it.each(['masked', 'gathered'] as const)('S1 logits (1e-4) and masks (exact) before the update, %s', async (mode) => {
    const { model, pruner } = await load();
    const r = await pruner.run(model, images, { mode, session: SESSION });
    expectAllclose(r.logits.data, golden.s1.logits.data, { ...parityTolerance(golden.s1.logits.data), what: 'S1 logits' });
    r.plans.kept.forEach((perSample, k) => {
      const mask = new Array<number>(batch * n).fill(0);
      for (const [b, idx] of perSample.entries()) for (const j of idx) mask[b * n + j] = 1;
      expect(mask, `mask after cut ${k}`).toEqual(golden.s1.masks[k]);
    });
  });

  it('one update: P(drop) on H_ℓ, L1, every L2ℓ, lr·λ(1) and every parameter after the update (1e-4)', async () => {
    const { before, after, event, seen } = await oneUpdate();
    expect(event.update).toBe(1);
    expect(seen.length).toBe(golden.recipe.accum * golden.cutLayers.length); // accum micro-batches × cuts
    for (const { k, rows, pDrop } of seen) {
      const want = rows.flatMap((r) => golden.pdrop[k]?.data.slice(r * n, (r + 1) * n) as number[]);
      expectAllclose(pDrop, want, { rtol: PARITY_RTOL, atol: 1e-6, what: `P(drop) at cut ${k}` });
      rows.forEach((r, b) => {
        if (!golden.explore.greedy[k]?.[r]) return;
        const row = Array.from(pDrop.subarray(b * n + 1, (b + 1) * n));
        expect(1 + row.indexOf(Math.max(...row)), `greedy choice, cut ${k} row ${r}`).toBe(golden.explore.j[k]?.[r]);
      });
    }
    expectAllclose([event.lossPruned], [golden.loss.s1], { rtol: PARITY_RTOL, atol: 0, what: 'L1' });
    expectAllclose(event.agentLoss, golden.loss.agent, { rtol: PARITY_RTOL, atol: 0, what: 'L2' });
    expect(event.lr).toBeCloseTo(golden.lr, 12);
    const want = await readSafetensors(new URL(golden.after, APT_FIXTURES));
    expect(Object.keys(after).sort()).toEqual(Object.keys(want).sort());
    for (const [k, t] of Object.entries(want)) {
      const got = after[k]?.data as Float32Array;
      expectAllclose(got, t.data as Float32Array, { ...parityTolerance(t.data as Float32Array), what: k });
      // The update itself, held like a gradient (rtol 1e-4, atol 1e-6·max), plus float32 rounding of the weights.
      const b = before[k]?.data as Float32Array;
      const d = Float64Array.from(got, (v, i) => v - (b[i] as number));
      const dRef = Float64Array.from(t.data as Float32Array, (v, i) => v - (b[i] as number));
      const ulp = Math.max(...Array.from(t.data as Float32Array, Math.abs)) * 2 ** -22;
      expectAllclose(d, dRef, { rtol: PARITY_RTOL, atol: ulp + 1e-6 * Math.max(...Array.from(dRef, Math.abs)), what: `update of ${k}` });
    }
  });

  it('discriminates: other exploration choices miss L2 and the pruners after the update', async () => {
    const shifted = golden.explore.j.map((row) => row.map((j) => 1 + (j % (n - 1))));
    const { after, event } = await oneUpdate(shifted);
    expect(worstMismatch(event.agentLoss, golden.loss.agent, { rtol: PARITY_RTOL, atol: 0 })).not.toBeNull();
    const want = await readSafetensors(new URL(golden.after, APT_FIXTURES));
    const w = want['clip_layer.0.fc.weight']?.data as Float32Array;
    expect(worstMismatch(after['clip_layer.0.fc.weight']?.data as Float32Array, w, parityTolerance(w))).not.toBeNull();
  });
});
