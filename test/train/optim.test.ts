import { describe, expect, it } from 'vitest';
import { DTypeError, GraphError, ShapeError, ValueError } from '../../src/tensor/errors.js';
import { Rng } from '../../src/tensor/rng.js';
import { type Tensor, tensor } from '../../src/tensor/tensor.js';
import { AdamW, clipGradNorm, noDecay, type ParamStore, SGD } from '../../src/train/optim.js';
import { constantSchedule, warmupCosine } from '../../src/train/schedule.js';
import { expectAllclose } from '../helpers/allclose.js';

const SHAPES: Record<string, number[]> = { 'conv.weight': [2, 3], 'conv.bias': [2], 'compactor.weight': [2, 2], cls_token: [1, 1, 2] };
const LRS = [0.1, 0.05, 0.02];

function store(seed: number): ParamStore {
  const rng = new Rng(seed);
  return new Map(Object.entries(SHAPES).map(([k, d]) => [k, tensor(rng.fillNormal(new Float32Array(d.reduce((p, x) => p * x, 1))), d)]));
}
/** Three steps of gradients for every parameter (float32 values; the reference reads the same). */
function gradSteps(seed: number): Record<string, Tensor<'float32'>>[] {
  const rng = new Rng(seed);
  return LRS.map(() =>
    Object.fromEntries(Object.entries(SHAPES).map(([k, d]) => [k, tensor(rng.fillNormal(new Float32Array(d.reduce((p, x) => p * x, 1))), d)])),
  );
}
const f64 = (t: Tensor) => Array.from(t.data as Float32Array);

interface Hyper {
  mu: number;
  wd: number;
  nesterov: boolean;
  lrScale: number;
}

/** PyTorch's SGD in float64: d = g + wd·p; buf = d | μ·buf + d; d = d + μ·buf (nesterov) | buf; p −= lr·d. */
function sgdReference(p0: number[], grads: number[][], hyper: Hyper): number[] {
  const p = [...p0];
  let buf: number[] | null = null;
  grads.forEach((g, t) => {
    const d = g.map((gi, i) => gi + hyper.wd * (p[i] as number));
    if (hyper.mu !== 0) {
      buf = buf ? buf.map((b, i) => hyper.mu * b + (d[i] as number)) : [...d];
      for (let i = 0; i < d.length; i++) d[i] = hyper.nesterov ? (d[i] as number) + hyper.mu * (buf[i] as number) : (buf[i] as number);
    }
    for (let i = 0; i < p.length; i++) p[i] = (p[i] as number) - (LRS[t] as number) * hyper.lrScale * (d[i] as number);
  });
  return p;
}

/** PyTorch's AdamW in float64, betas (0.9, 0.999), eps 1e-8: decoupled decay, then the bias-corrected step. */
function adamwReference(p0: number[], grads: number[][], wd: number, lrs = LRS): number[] {
  const p = [...p0];
  const m = p.map(() => 0);
  const v = p.map(() => 0);
  grads.forEach((g, t) => {
    const lr = lrs[t] as number;
    const [c1, c2] = [1 - 0.9 ** (t + 1), 1 - 0.999 ** (t + 1)];
    for (let i = 0; i < p.length; i++) {
      const gi = g[i] as number;
      m[i] = 0.9 * (m[i] as number) + 0.1 * gi;
      v[i] = 0.999 * (v[i] as number) + 0.001 * gi * gi;
      p[i] = (p[i] as number) * (1 - lr * wd) - (lr * ((m[i] as number) / c1)) / (Math.sqrt((v[i] as number) / c2) + 1e-8);
    }
  });
  return p;
}

describe('SGD matches a float64 reference for 3 steps', () => {
  it.each([
    { nesterov: false, wd: 0 },
    { nesterov: false, wd: 1e-2 },
    { nesterov: true, wd: 1e-2 },
  ])('momentum 0.9, %j, compactors in a group with momentum 0.99, no decay, lrScale 2', ({ nesterov, wd }) => {
    const params = store(1);
    const initial = Object.fromEntries([...params].map(([k, t]) => [k, f64(t)]));
    const grads = gradSteps(2);
    const compactor = { match: (n: string) => n.includes('compactor'), momentum: 0.99, weightDecay: 0, lrScale: 2 };
    const opt = new SGD(params, { lr: 0.1, momentum: 0.9, nesterov, weightDecay: wd, groups: [compactor] });
    for (const [t, g] of grads.entries()) opt.update(g, LRS[t] as number);
    expect(opt.step).toBe(3);
    for (const [name, p] of params) {
      const hyper = name.includes('compactor') ? { mu: 0.99, wd: 0, nesterov, lrScale: 2 } : { mu: 0.9, wd, nesterov, lrScale: 1 };
      const want = sgdReference(
        initial[name] as number[],
        grads.map((g) => f64(g[name] as Tensor)),
        hyper,
      );
      expectAllclose(p.data, want, { rtol: 1e-5, atol: 1e-6, what: name });
    }
  });

  it('plain SGD without momentum keeps no buffers; parameters without a gradient are left alone', () => {
    const params = store(3);
    const bias = f64(params.get('conv.bias') as Tensor);
    const opt = new SGD(params, { lr: 0.1 });
    const g = gradSteps(4)[0] as Record<string, Tensor>;
    const { 'conv.bias': _, ...partial } = g;
    opt.update(partial, 0.1);
    expect(f64(params.get('conv.bias') as Tensor)).toEqual(bias);
    expect(Object.keys(opt.state().buffers)).toEqual([]);
  });
});

describe('AdamW matches a float64 reference for 3 steps', () => {
  it('bias correction and decoupled decay, with no decay for biases, norms and tokens (noDecay)', () => {
    const params = store(5);
    const initial = Object.fromEntries([...params].map(([k, t]) => [k, f64(t)]));
    const grads = gradSteps(6);
    const opt = new AdamW(params, { lr: 1e-3, weightDecay: 0.05, groups: [{ match: noDecay(params), weightDecay: 0 }] });
    for (const [t, g] of grads.entries()) opt.update(g, LRS[t] as number);
    for (const [name, p] of params) {
      const wd = name === 'conv.weight' || name === 'compactor.weight' ? 0.05 : 0;
      const want = adamwReference(
        initial[name] as number[],
        grads.map((g) => f64(g[name] as Tensor)),
        wd,
      );
      expectAllclose(p.data, want, { rtol: 1e-5, atol: 1e-6, what: name });
    }
  });

  it('noDecay picks rank < 2, cls_token, pos_embed and unknown names', () => {
    const params: ParamStore = new Map([
      ['blocks.0.attn.qkv.weight', tensor(new Float32Array(4), [2, 2])],
      ['pos_embed', tensor(new Float32Array(4), [1, 2, 2])],
      ['norm.weight', tensor(new Float32Array(2), [2])],
    ]);
    const nd = noDecay(params);
    expect(['blocks.0.attn.qkv.weight', 'pos_embed', 'norm.weight', 'missing', 'cls_token'].map(nd)).toEqual([false, true, true, true, true]);
  });

  it('with zero gradients only the decay acts: p·(1 − lr·wd)^t, untouched in the no-decay group', () => {
    const params = store(7);
    const w0 = f64(params.get('conv.weight') as Tensor);
    const b0 = f64(params.get('conv.bias') as Tensor);
    const opt = new AdamW(params, { lr: 0.1, weightDecay: 0.5, groups: [{ match: noDecay(params), weightDecay: 0 }] });
    const zeros = Object.fromEntries(Object.entries(SHAPES).map(([k, d]) => [k, tensor(new Float32Array(d.reduce((p, x) => p * x, 1)), d)]));
    for (let t = 0; t < 3; t++) opt.update(zeros, 0.1);
    expectAllclose(
      params.get('conv.weight')?.data as Float32Array,
      w0.map((w) => w * 0.95 ** 3),
      { rtol: 1e-6 },
    );
    expect(f64(params.get('conv.bias') as Tensor)).toEqual(b0);
  });

  it('a parameter whose first gradient comes late takes a bias-corrected first step (per-parameter step, as PyTorch)', () => {
    const params = store(8);
    const w0 = f64(params.get('conv.weight') as Tensor);
    const grads = gradSteps(9);
    const opt = new AdamW(params, { lr: 1e-2 });
    opt.update({ 'conv.bias': grads[0]?.['conv.bias'] as Tensor }, 1e-2);
    opt.update({ 'conv.bias': grads[1]?.['conv.bias'] as Tensor }, 1e-2);
    opt.update({ 'conv.weight': grads[2]?.['conv.weight'] as Tensor }, 1e-2);
    const want = adamwReference(w0, [f64(grads[2]?.['conv.weight'] as Tensor)], 0, [1e-2]);
    expectAllclose(params.get('conv.weight')?.data as Float32Array, want, { rtol: 1e-5, atol: 1e-7 });
  });
});

describe('optimizer state', () => {
  it.each(['SGD', 'AdamW'] as const)('%s: state() → loadState() continues identically', (kind) => {
    const make = (p: ParamStore) =>
      kind === 'SGD' ? new SGD(p, { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 1e-3 }) : new AdamW(p, { lr: 1e-2, weightDecay: 0.05 });
    const grads = [...gradSteps(10), ...gradSteps(11)];
    const a = store(12);
    const optA = make(a);
    for (const g of grads.slice(0, 2)) optA.update(g, 0.05);
    const saved = optA.state();
    const snapshot: ParamStore = new Map([...a].map(([k, t]) => [k, tensor(t.data.slice(), t.dims, 'float32')]));
    const frozen = structuredClone(saved);
    for (const g of grads.slice(2)) optA.update(g, 0.05);
    expect(saved).toEqual(frozen); // state() is a copy, not a view of live buffers

    const optB = make(snapshot);
    optB.loadState(saved);
    expect(optB.step).toBe(2);
    for (const g of grads.slice(2)) optB.update(g, 0.05);
    for (const [k, t] of a) expect(snapshot.get(k)?.data, k).toEqual(t.data);
    expect(optB.state()).toEqual(optA.state());
  });

  it('loadState refuses a bad step count', () => {
    const opt = new SGD(store(0), { lr: 0.1 });
    expect(() => opt.loadState({ step: -1, buffers: {} })).toThrow(/Optimizer.loadState: step must be an integer >= 0, got -1/);
    expect(() => opt.loadState({ step: 1.5, buffers: {} })).toThrow(ValueError);
  });
});

describe('optimizer argument errors', () => {
  it('name the optimizer, the parameter, expected and actual', () => {
    const params = store(0);
    const opt = new SGD(params, { lr: 0.1 });
    expect(() => opt.update({ 'conv.weight': tensor(new Float64Array(6), [2, 3]) }, 0.1)).toThrow(
      new DTypeError('SGD.update', "gradient of 'conv.weight' must be float32, got float64"),
    );
    expect(() => opt.update({ 'conv.weight': tensor(new Float32Array(6), [3, 2]) }, 0.1)).toThrow(
      new ShapeError('SGD.update', "gradient of 'conv.weight' is [3,2] (6 values), parameter is [2,3]"),
    );
    expect(() => new AdamW(params, { lr: 0.1 }).update({ 'conv.bias': tensor(new Float32Array(3), [3]) }, 0.1)).toThrow(ShapeError);
    expect(() => opt.update({}, -1)).toThrow(/SGD.update: lr must be finite and >= 0, got -1/);
    expect(() => new SGD(params, { lr: Number.NaN })).toThrow(ValueError);
    expect(() => new AdamW(params, { lr: 1e-3, betas: [0.9, 1] })).toThrow(/AdamW: betas must be in \[0, 1\), got \[0.9, 1\]/);
  });
});

describe('clipGradNorm', () => {
  it('scales all gradients jointly by max/(norm + 1e-6) and returns the pre-clip norm', () => {
    const grads = { a: tensor(new Float32Array([3, 4]), [2], 'float32'), b: tensor(new Float64Array([12]), [1], 'float64') };
    const norm = clipGradNorm(grads, 6.5);
    expect(norm).toBe(13);
    const f = 6.5 / (13 + 1e-6);
    expectAllclose(grads.a.data, [3 * f, 4 * f], { rtol: 1e-7 });
    expect(grads.b.data[0]).toBe(12 * f);
    expect(Math.hypot(...grads.a.data, ...grads.b.data)).toBeLessThan(6.5);
  });

  it('leaves gradients under the limit untouched', () => {
    const grads = { a: tensor(new Float32Array([0.3, -0.4]), [2]) };
    expect(clipGradNorm(grads, 1)).toBeCloseTo(0.5, 7);
    expect(grads.a.data).toEqual(new Float32Array([0.3, -0.4]));
  });

  it('refuses a non-positive limit, integer gradients and a non-finite norm', () => {
    expect(() => clipGradNorm({}, 0)).toThrow(new ValueError('clipGradNorm', 'maxNorm must be > 0, got 0'));
    expect(() => clipGradNorm({ i: tensor(new Int32Array(2), [2]) }, 1)).toThrow(/gradient 'i' must be float, got int32/);
    expect(() => clipGradNorm({ n: tensor(new Float32Array([Number.NaN]), [1]) }, 1)).toThrow(GraphError);
  });
});

describe('warmupCosine', () => {
  const lam = warmupCosine(500, 50000);

  it('pins the APT schedule: λ(1) = 0.002, λ(499) = 0.998, λ(500) = 1, λ(T) = 0', () => {
    expect(lam(1)).toBe(0.002);
    expect(lam(499)).toBe(0.998);
    expect(lam(500)).toBe(1);
    expect(lam(25250)).toBeCloseTo(0.5, 12);
    expect(lam(50000)).toBe(0);
  });

  it('decays monotonically after warmup and stays 0 after T', () => {
    let prev = lam(500);
    for (let k = 600; k <= 50000; k += 700) {
      expect(lam(k)).toBeLessThanOrEqual(prev);
      prev = lam(k);
    }
    for (const k of [50001, 60000, 99500, 100000]) expect(lam(k)).toBe(0);
  });

  it('without warmup starts at 1; constantSchedule is 1', () => {
    expect(warmupCosine(0, 10)(0)).toBe(1);
    expect(warmupCosine(0, 10)(10)).toBe(0);
    expect(constantSchedule()(12345)).toBe(1);
  });

  it('refuses bad arguments, naming them', () => {
    expect(() => warmupCosine(500, 500)).toThrow(new ValueError('warmupCosine', 'warmup must be an integer in [0, 500), got 500'));
    expect(() => warmupCosine(-1, 10)).toThrow(ValueError);
    expect(() => warmupCosine(1.5, 10)).toThrow(ValueError);
    expect(() => warmupCosine(0, 0)).toThrow(/warmupCosine: total must be an integer >= 1, got 0/);
    expect(() => warmupCosine(0, 2.5)).toThrow(ValueError);
  });
});
