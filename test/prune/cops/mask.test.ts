import { beforeAll, describe, expect, it } from 'vitest';
import { cnnTrainable, create } from '../../../src/cnn/api.js';
import { type Dataset, fashionMnist } from '../../../src/data/index.js';
import { flatten, layoutOf, prunableLayout, unflatten } from '../../../src/prune/cops/layout.js';
import { applyMasks, maskedTrainable, sparsityReport } from '../../../src/prune/cops/mask.js';
import { balancedBatch, pruneAtInit, SCORE_NAMES } from '../../../src/prune/cops/run.js';
import { ShapeError, ValueError } from '../../../src/tensor/errors.js';
import { Rng } from '../../../src/tensor/rng.js';
import type { Tensor } from '../../../src/tensor/tensor.js';
import * as train from '../../../src/train/fit.js';

const session = { intraOpThreads: 1 };
let data: { train: Dataset; test: Dataset };
beforeAll(async () => {
  data = await fashionMnist({ limitPerClass: 12 });
});

describe('flatten / unflatten', () => {
  it('round-trips in model order; unflatten gives views; sizes are checked', () => {
    const rec = { 'b.weight': Float64Array.from([1, 2, 3]), 'a.weight': Float64Array.from([4]) };
    const layout = layoutOf(rec);
    expect(layout.names).toEqual(['b.weight', 'a.weight']);
    const v = flatten(rec, layout);
    expect(Array.from(v)).toEqual([1, 2, 3, 4]);
    const back = unflatten(v, layout);
    expect(Array.from(back['a.weight'] as Float64Array)).toEqual([4]);
    v[3] = 9;
    expect((back['a.weight'] as Float64Array)[0]).toBe(9); // a view
    const m = unflatten(Uint8Array.from([1, 0, 1, 1]), layout);
    expect(m['b.weight']).toBeInstanceOf(Uint8Array);
    expect(() => unflatten(new Float64Array(5), layout)).toThrow(/cops\.unflatten: vector has 5 values, the layout has d = 4/);
    expect(() => flatten({ 'b.weight': new Float64Array(2), 'a.weight': new Float64Array(1) }, layout)).toThrow(
      /layer 'b\.weight' has 2 values, the layout expects 3/,
    );
    expect(() => flatten({ 'a.weight': new Float64Array(1) }, layout)).toThrow(ShapeError);
  });
});

describe('masks on a CNN', () => {
  it('applyMasks zeroes exactly the pruned weights and checks names, sizes and values', () => {
    const model = create('lenet-300-100', { seed: 2 });
    const layout = prunableLayout(model.config);
    const rng = new Rng(3);
    const mask = Uint8Array.from({ length: layout.d }, () => Number(rng.uniform() < 0.1));
    const before = flatten(Object.fromEntries(layout.names.map((n) => [n, Float64Array.from((model.params[n] as Tensor<'float32'>).data)])), layout);
    applyMasks(model, unflatten(mask, layout));
    const after = flatten(Object.fromEntries(layout.names.map((n) => [n, Float64Array.from((model.params[n] as Tensor<'float32'>).data)])), layout);
    expect(Array.from(after)).toEqual(Array.from(before, (x, i) => (mask[i] ? x : 0)));
    expect(() => applyMasks(model, { 'fc9.weight': new Uint8Array(3) })).toThrow(/mask for 'fc9\.weight', which is not a parameter of the model/);
    expect(() => applyMasks(model, { 'fc3.weight': new Uint8Array(3) })).toThrow(/mask 'fc3\.weight' has 3 entries, the weight has 1000/);
    expect(() => applyMasks(model, { 'fc3.weight': new Uint8Array(1000).fill(2) })).toThrow(ValueError);
    const rep = sparsityReport(model);
    expect(rep.kept).toBe(mask.reduce((a, b) => a + b, 0));
    expect(rep.layers.map((l) => l.name)).toEqual(layout.names);
  });

  it.each([
    ['SGD, Nesterov momentum, weight decay', { kind: 'sgd', lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 5e-4 }],
    ['AdamW', { kind: 'adamw', lr: 3e-3, weightDecay: 0.05 }],
  ] as [string, train.OptimizerSpec][])('training under %s keeps pruned weights exactly zero and moves the kept ones', async (_, optimizer) => {
    const model = create('lenet-300-100', { seed: 4 });
    const layout = prunableLayout(model.config);
    const rng = new Rng(5);
    const masks = unflatten(
      Uint8Array.from({ length: layout.d }, () => Number(rng.uniform() < 0.05)),
      layout,
    );
    const t = maskedTrainable(await cnnTrainable(model, { session }), masks);
    const kept0 = Float32Array.from((model.params['fc2.weight'] as Tensor<'float32'>).data);
    await train.fit(t, { epochs: 2, batchSize: 40, optimizer, warmupFraction: 0, clipNorm: 5, augment: false, seed: 1 }, { train: data.train });
    const w = (model.params['fc2.weight'] as Tensor<'float32'>).data;
    const m = masks['fc2.weight'] as Uint8Array;
    expect(w.every((x, i) => m[i] === 1 || Object.is(x, 0) || x === 0)).toBe(true);
    expect(w.some((x, i) => m[i] === 1 && x !== kept0[i])).toBe(true);
    expect(sparsityReport(model)).toEqual(sparsityReport(masks));
  });
});

describe('pruneAtInit', () => {
  it.each(SCORE_NAMES)('%s: top-k of the score at sparsity 0.9', async (score) => {
    const model = create('lenet-300-100', { seed: 6 });
    const batch = balancedBatch(data.train, 2, new Rng(7));
    const r = await pruneAtInit({ model, method: { kind: 'score', score }, sparsity: 0.9, batch, seed: 8, session });
    expect(r.k).toBe(26_620);
    expect(r.report.kept).toBe(r.k);
    expect(sparsityReport(model).kept).toBeLessThanOrEqual(r.k);
    expect(r.combine).toBeUndefined();
  });

  it('COPS (SNIP base, GraSP control, κ = 0.5): the solve is reported and lies between its references', async () => {
    const model = create('lenet-300-100', { seed: 6 });
    const batch = balancedBatch(data.train, 2, new Rng(7));
    const phases: string[] = [];
    const r = await pruneAtInit({
      model,
      method: { kind: 'cops', base: 'snip', control: 'grasp', kappa: 0.5 },
      sparsity: 0.98,
      batch,
      session,
      onPhase: (p) => phases.push(p),
    });
    expect(phases).toEqual(['scoring snip', 'scoring grasp', 'combining']);
    expect(r.report.kept).toBe(5324);
    expect(r.combine?.status).toBe('solved');
    expect(r.combine?.baseRatio).toBeLessThanOrEqual(1);
    expect(r.combine?.simToBase).toBeLessThan(1);
    expect(r.combine?.simToControl).toBeLessThan(1);
  });

  it('balancedBatch takes perClass images of every class; SNIP without a batch is a ValueError', async () => {
    const b = balancedBatch(data.train, 3, new Rng(1));
    expect(b.images.dims).toEqual([30, 1, 28, 28]);
    const counts = new Array(10).fill(0);
    for (const y of b.labels.data) counts[Number(y)]++;
    expect(counts).toEqual(new Array(10).fill(3));
    expect(() => balancedBatch(data.train, 13, new Rng(1))).toThrow(/class 0 has 12 images, fewer than perClass = 13/);
    await expect(pruneAtInit({ model: create('lenet-300-100'), method: { kind: 'score', score: 'snip' }, sparsity: 0.5 })).rejects.toThrow(
      /score 'snip' needs a batch/,
    );
  });
});
