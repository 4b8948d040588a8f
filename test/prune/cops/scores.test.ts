import { describe, expect, it } from 'vitest';
import { type CnnModel, create } from '../../../src/cnn/api.js';
import type { CnnConfig } from '../../../src/cnn/config.js';
import { buildCnn, cnnParams, cnnTrainGraph } from '../../../src/cnn/model.js';
import { cnnParamShapes } from '../../../src/cnn/params.js';
import { backward } from '../../../src/graph/backward.js';
import { Graph } from '../../../src/graph/builder.js';
import { linear, softmaxCrossEntropy } from '../../../src/graph/nn.js';
import { compile } from '../../../src/graph/runtime.js';
import type { Value } from '../../../src/graph/types.js';
import { flatten, normalize, normalizeScores, prunableLayout } from '../../../src/prune/cops/layout.js';
import { graspOf, type LossProblem, lossGradients, magnitude, magnitudeOf, snip, snipOf } from '../../../src/prune/cops/scores.js';
import { synflow } from '../../../src/prune/cops/synflow.js';
import { ShapeError, ValueError } from '../../../src/tensor/errors.js';
import { Rng } from '../../../src/tensor/rng.js';
import type { Tensor } from '../../../src/tensor/tensor.js';
import { GradStep } from '../../../src/train/step.js';
import { expectAllclose } from '../../helpers/allclose.js';

const session = { intraOpThreads: 1 };
const f64 = (xs: number[], dims = [xs.length]): Tensor<'float64'> => ({ type: 'float64', dims, data: Float64Array.from(xs) });

describe('§9.8 normalisation', () => {
  it('ŝ = s / Σ|s| in float64 with Σ|ŝ| = 1; global over layers for records', () => {
    const s = normalize(Float64Array.from([3, -1, 0, 4]));
    expect(s).toBeInstanceOf(Float64Array);
    expect(Array.from(s)).toEqual([0.375, -0.125, 0, 0.5]);
    const rec = normalizeScores({ a: Float64Array.from([1, 2]), b: Float64Array.from([-3, 4]) });
    expect(Array.from(flatten(rec))).toEqual([0.1, 0.2, -0.3, 0.4]);
    expect(flatten(rec).reduce((t, x) => t + Math.abs(x), 0)).toBeCloseTo(1, 15);
  });

  it.each([
    ['all zeros', [0, 0, 0], /cops\.normalize: score is all zeros/],
    ['a NaN', [1, Number.NaN], /score\[1\] is NaN; scores must be finite/],
    ['an Inf', [Number.NEGATIVE_INFINITY, 1], /score\[0\] is -Infinity/],
  ])('throws ValueError for %s', (_, xs, msg) => {
    expect(() => normalize(Float64Array.from(xs))).toThrow(ValueError);
    expect(() => normalize(Float64Array.from(xs))).toThrow(msg);
  });
});

/** §9.9: L = ½ wᵀAw with A = [[2,1],[1,3]], as a graph over w [2] (float64). */
const quadratic = (w: number[]): LossProblem => ({
  weights: { w: f64(w) },
  loss: (g, p) => {
    const a = g.constant(f64([2, 1, 1, 3], [2, 2]));
    const aw = g.Reshape(g.MatMul(a, g.Reshape(p.w as Value, [2, 1])), [2]);
    return g.scale(g.ReduceSum(g.Mul(p.w as Value, aw), [], false), 0.5);
  },
  session,
});

describe('§9.9 scores on a quadratic loss', () => {
  it('g = [1, −2], Hg = [0, −5]; SNIP [1, 2], GraSP keep [0, 5] (GraSP’s own S = −keep = [0, −5]), magnitude [1, 1]', async () => {
    const p = quadratic([1, -1]);
    const { grad, hg, loss } = await lossGradients(p, { hessian: true });
    expect(loss).toBe(1.5);
    expect(Array.from(grad.w as Float64Array)).toEqual([1, -2]);
    expect(Array.from(hg?.w as Float64Array)).toEqual([0, -5]);
    expect(Array.from((await snipOf(p)).w as Float64Array)).toEqual([1, 2]);
    const keep = (await graspOf(p)).w as Float64Array;
    expect(Array.from(keep)).toEqual([0, 5]);
    expect(Array.from(keep, (x) => -x)).toEqual([-0, -5]);
    expect(Array.from(magnitudeOf(p.weights).w as Float64Array)).toEqual([1, 1]);
  });

  it('GraSP’s Hg on a float64 MLP matches central differences of the gradient along g', async () => {
    const rng = new Rng(9);
    const rand = (dims: number[], std: number) =>
      f64(
        Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => rng.normal(0, std)),
        dims,
      );
    const x = rand([6, 5], 1);
    const labels: Tensor<'int64'> = { type: 'int64', dims: [6], data: BigInt64Array.from([0n, 1n, 2n, 0n, 1n, 2n]) };
    const problem = (w1: Tensor<'float64'>, w2: Tensor<'float64'>): LossProblem => ({
      weights: { w1, w2 },
      loss: (g, w) => {
        const xi = g.input('x', 'float64', [6, 5]);
        const y = g.input('labels', 'int64', [6]);
        return softmaxCrossEntropy(g, linear(g, g.Tanh(linear(g, xi, w.w1 as Value)), w.w2 as Value), y);
      },
      feeds: { x, labels },
      session,
    });
    const [w1, w2] = [rand([4, 5], 0.7), rand([3, 4], 0.7)];
    const { grad, hg } = await lossGradients(problem(w1, w2), { hessian: true });
    const eps = 1e-5;
    const shifted = async (sign: number) => {
      const move = (t: Tensor<'float64'>, d: Float64Array) =>
        f64(
          Array.from(t.data, (v, i) => v + sign * eps * (d[i] as number)),
          [...t.dims],
        );
      return (await lossGradients(problem(move(w1, grad.w1 as Float64Array), move(w2, grad.w2 as Float64Array)))).grad;
    };
    const [plus, minus] = [await shifted(1), await shifted(-1)];
    for (const n of ['w1', 'w2']) {
      const fd = Array.from(plus[n] as Float64Array, (v, i) => (v - ((minus[n] as Float64Array)[i] as number)) / (2 * eps));
      expectAllclose(hg?.[n] as Float64Array, fd, { rtol: 1e-6, atol: 1e-8, what: `Hg ${n}` });
    }
  });
});

/** §9.10: a two-layer linear net without biases, 2 → 2 → 1. */
const TWO_LAYER: CnnConfig = {
  kind: 'cnn',
  name: 'two-layer',
  inChans: 2,
  imageSize: 1,
  numClasses: 1,
  output: 'fc2',
  layers: [
    { kind: 'flatten', name: 'flatten', input: 'input' },
    { kind: 'linear', name: 'fc1', input: 'flatten', out: 2, bias: false },
    { kind: 'linear', name: 'fc2', input: 'fc1', out: 1, bias: false },
  ],
};

describe('§9.10 SynFlow', () => {
  it('W1 = [[1, −2], [3, 0]], W2 = [[−1, 2]]: R = 9, scores W2 → [3, 6], W1 → [[1, 2], [6, 0]], each layer sums to R', async () => {
    const model: CnnModel = {
      config: TWO_LAYER,
      params: {
        'fc1.weight': { type: 'float32', dims: [2, 2], data: Float32Array.from([1, -2, 3, 0]) },
        'fc2.weight': { type: 'float32', dims: [1, 2], data: Float32Array.from([-1, 2]) },
      },
    };
    const s = await synflow(model, { session });
    expect(Array.from(s['fc2.weight'] as Float64Array)).toEqual([3, 6]);
    expect(Array.from(s['fc1.weight'] as Float64Array)).toEqual([1, 2, 6, 0]);
    for (const v of Object.values(s)) expect(v.reduce((a, b) => a + b, 0)).toBe(9);
  });

  it('the float64 im2col lowering (stride 2, 1×1 shortcuts, BN eval) matches a float32 Conv graph on fmnist-resnet20', async () => {
    const model = create('fmnist-resnet20', { seed: 3 });
    const ours = await synflow(model, { session });
    // Reference: the ordinary float32 CNN graph (ORT Conv) on |θ| and an all-ones image.
    const c = model.config;
    const g = new Graph('synflow-f32');
    const p = cnnParams(g, c);
    const images = g.input('images', 'float32', [1, 1, 28, 28]);
    const r = g.ReduceSum(buildCnn(g, c, p, images, { mode: 'eval' }).logits, [], false);
    const names = prunableLayout(c).names;
    const grads = backward(
      g,
      r,
      names.map((n) => p[n] as Value),
    );
    names.forEach((n, i) => {
      g.output(`grad:${n}`, grads[i] as Value);
    });
    const feeds: Record<string, Tensor> = { images: { type: 'float32', dims: [1, 1, 28, 28], data: new Float32Array(784).fill(1) } };
    for (const s of cnnParamShapes(c))
      feeds[s.name] = { type: 'float32', dims: s.dims, data: Float32Array.from((model.params[s.name] as Tensor<'float32'>).data, Math.abs) };
    const sess = await compile(g, session);
    const out = await sess.run(feeds);
    sess.dispose();
    for (const n of names) {
      const th = feeds[n]?.data as Float32Array;
      const ref = Array.from((out[`grad:${n}`] as Tensor<'float32'>).data, (v, i) => Math.abs(v * (th[i] as number)));
      const scale = Math.max(...ref);
      expectAllclose(
        Array.from(ours[n] as Float64Array, (v) => v / scale),
        ref.map((v) => v / scale),
        { rtol: 1e-4, atol: 1e-5, what: n },
      );
    }
  }, 60_000);
});

describe('scores of a CNN', () => {
  const rng = new Rng(21);
  const batch = {
    images: { type: 'float32', dims: [10, 1, 28, 28], data: Float32Array.from({ length: 7840 }, () => rng.normal()) } as Tensor<'float32'>,
    labels: { type: 'int64', dims: [10], data: BigInt64Array.from({ length: 10 }, (_, i) => BigInt(i)) } as Tensor<'int64'>,
  };

  it('prunable weights are the conv and linear weights in model order, never biases or BN parameters', () => {
    const l = prunableLayout(create('fmnist-vgg8').config);
    expect(l.names).toEqual([...Array.from({ length: 6 }, (_, i) => `features.conv${i}.weight`), 'classifier.fc1.weight', 'classifier.fc2.weight']);
    expect(l.d).toBe(l.sizes.reduce((a, b) => a + b, 0));
  });

  it('SNIP equals |θ ⊙ ∇θL| of the training graph (BN in train mode), magnitude equals |θ|', async () => {
    const model = create('fmnist-vgg8', { seed: 1 });
    const s = await snip(model, batch, { session });
    const names = cnnParamShapes(model.config)
      .filter((x) => !x.buffer)
      .map((x) => x.name);
    const step = await GradStep.compile(cnnTrainGraph(model.config), names, session);
    const { grads } = await step.run(model.params, { ...model.params, ...batch });
    step.dispose();
    const mag = magnitude(model);
    for (const n of prunableLayout(model.config).names) {
      const th = (model.params[n] as Tensor<'float32'>).data;
      expectAllclose(
        s[n] as Float64Array,
        Array.from((grads[n] as Tensor<'float32'>).data, (g, i) => Math.abs(g * (th[i] as number))),
        { rtol: 1e-5, atol: 1e-12, what: n },
      );
      expect(Array.from(mag[n] as Float64Array)).toEqual(Array.from(th, Math.abs));
    }
  }, 60_000);

  it('rejects a batch of the wrong shape or label type', async () => {
    const model = create('lenet-300-100');
    const bad = { ...batch, images: { type: 'float32', dims: [10, 1, 32, 32], data: new Float32Array(10240) } as Tensor<'float32'> };
    await expect(snip(model, bad)).rejects.toThrow(ShapeError);
    await expect(snip(model, bad)).rejects.toThrow(/cops\.snip: batch\.images must be \[B, 1, 28, 28\] float32, got \[10,1,32,32\] float32/);
    await expect(snip(model, { ...batch, labels: { type: 'int32', dims: [10], data: new Int32Array(10) } as never })).rejects.toThrow(
      /batch\.labels must be int64/,
    );
  });
});
