import { describe, expect, it } from 'vitest';
import { Graph } from '../../src/graph/builder.js';
import { gelu, linear, softmaxCrossEntropy } from '../../src/graph/nn.js';
import { ops } from '../../src/graph/ops/index.js';
import type { OpName, Value } from '../../src/graph/types.js';
import { Rng } from '../../src/tensor/rng.js';
import { type FloatDType, type Tensor, tensor } from '../../src/tensor/tensor.js';
import { expectAllclose } from '../helpers/allclose.js';
import type { OpCase, Variant } from './case-kit.js';
import { seedOf } from './harness.js';
import { opCases } from './op-cases.js';
import { caseProblem, type HvpResult, hvpCheck } from './second-order.js';

/**
 * Second order: Hessian-vector products from backward applied to backward's own output, against
 * finite differences of the gradient along the same direction. float64: eps 1e-5, rtol 1e-6.
 * float32: the gradient is a cubic along the line for the bilinear ops (Conv), so the step balances
 * truncation (ε²) against rounding (1/ε): eps 3e-3 passes at 1e-3; asserted at 1e-2.
 */

const TOL: Record<FloatDType, { eps: number; rtol: number; atol: number }> = {
  float64: { eps: 1e-5, rtol: 1e-6, atol: 1e-7 },
  float32: { eps: 3e-3, rtol: 1e-2, atol: 1e-2 },
};

function normal(rng: Rng, dims: readonly number[], dtype: FloatDType = 'float64', std = 1): Tensor {
  const n = dims.reduce((p, d) => p * d, 1);
  const xs = Array.from({ length: n }, () => rng.normal(0, std));
  return tensor(dtype === 'float64' ? Float64Array.from(xs) : Float32Array.from(xs), dims, dtype);
}

function expectHvp(r: HvpResult, tol: { rtol: number; atol: number }, what: string): void {
  expect(r.hv.length).toBeGreaterThan(0);
  r.hv.forEach((hv, i) => {
    expectAllclose(hv, r.fd[i] as number[], { ...tol, what: `${what} wrt #${i}` });
  });
  // A zero Hessian would pass trivially: these problems are chosen to have curvature.
  expect(Math.max(...r.hv.flat().map(Math.abs))).toBeGreaterThan(1e-3);
}

describe('Hessian-vector products of small networks', () => {
  it.each(['tanh', 'gelu-tanh'] as const)('MLP (%s) with softmax cross-entropy, float64', async (act) => {
    const rng = new Rng(seedOf(`mlp/${act}`));
    const g = new Graph('mlp');
    const x = g.input('x', 'float64', ['B', 5]);
    const labels = g.input('labels', 'int64', ['B']);
    const [w1, b1, w2, b2] = [g.param('w1', [6, 5], 'float64'), g.param('b1', [6], 'float64'), g.param('w2', [3, 6], 'float64'), g.param('b2', [3], 'float64')];
    const pre = linear(g, x, w1, b1);
    const h = act === 'tanh' ? g.Tanh(pre) : gelu(g, pre, 'tanh');
    const loss = softmaxCrossEntropy(g, linear(g, h, w2, b2), labels);
    const feeds = {
      x: normal(rng, [4, 5]),
      labels: tensor(BigInt64Array.from([0n, 2n, 1n, 2n]), [4]),
      w1: normal(rng, [6, 5], 'float64', 0.7),
      b1: normal(rng, [6]),
      w2: normal(rng, [3, 6], 'float64', 0.7),
      b2: normal(rng, [3]),
    };
    const r = await hvpCheck({ g, loss, wrt: [w1, b1, w2, b2], feeds }, TOL.float64.eps, rng);
    expectHvp(r, TOL.float64, `MLP ${act}`);
  });

  it('LayerNormalization (x, scale and bias), float64', async () => {
    const rng = new Rng(seedOf('layernorm'));
    const g = new Graph('ln');
    const [x, scale, bias] = [g.input('x', 'float64', ['B', 4]), g.param('scale', [4], 'float64'), g.param('bias', [4], 'float64')];
    const rIn = g.input('r', 'float64', ['B', 4]);
    const y = g.LayerNormalization(x, scale, bias, 1e-3);
    const loss = g.ReduceSum(g.Mul(g.Mul(y, y), rIn), [], false);
    const feeds = { x: normal(rng, [3, 4]), scale: normal(rng, [4]), bias: normal(rng, [4]), r: normal(rng, [3, 4]) };
    expectHvp(await hvpCheck({ g, loss, wrt: [x, scale, bias], feeds }, TOL.float64.eps, rng), TOL.float64, 'LayerNorm');
  });

  // Conv's VJP emits ConvTranspose and a weight-gradient Conv, MaxPool's a ScatterElements: the
  // second backward runs through their VJPs. float32 (no float64 Conv kernel in ORT's CPU provider).
  it('Conv (stride 2) → Relu → MaxPool (overlapping), float32', async () => {
    const rng = new Rng(seedOf('conv-relu-maxpool'));
    const g = new Graph('cnn');
    const [x, w, b] = [g.input('x', 'float32', ['B', 2, 8, 8]), g.param('w', [3, 2, 3, 3]), g.param('b', [3])];
    const y = g.MaxPool(g.Relu(g.Conv(x, w, b, { strides: [2, 2], pads: [1, 1, 1, 1] })), [2, 2], { strides: [1, 1] });
    const rIn = g.input('r', 'float32', ['B', 3, 3, 3]);
    const loss = g.ReduceSum(g.Mul(y, g.Add(rIn, y)), [], false);
    const feeds = {
      x: normal(rng, [2, 2, 8, 8], 'float32'),
      w: normal(rng, [3, 2, 3, 3], 'float32', 0.5),
      b: normal(rng, [3], 'float32', 0.1),
      r: normal(rng, [2, 3, 3, 3], 'float32'),
    };
    const r = await hvpCheck({ g, loss, wrt: [x, w, b], feeds }, 1e-3, rng);
    expectHvp(r, { rtol: 1e-2, atol: 1e-2 }, 'Conv→Relu→MaxPool');
  });
});

const names = (Object.keys(ops) as OpName[]).filter((op) => 'variants' in opCases[op]);
// Cases at non-smooth points are left out: there the gradient itself jumps.
const smooth = <K extends OpName>(op: K) => (opCases[op] as OpCase<K>).variants.filter((v) => !v.kinks) as readonly Variant<K>[];

describe.each(names)('second order through the VJP of %s', (op) => {
  it.each(smooth(op).map((v) => [v.name, v] as const))('%s', async (_, v) => {
    const p = await caseProblem(op, v);
    const tol = TOL[p.precision];
    const r = await hvpCheck(p, tol.eps, new Rng(seedOf(`${op}/${v.name}/v`)));
    r.hv.forEach((hv, i) => {
      expectAllclose(hv, r.fd[i] as number[], { rtol: tol.rtol, atol: tol.atol, what: `${op} '${v.name}' wrt #${i}` });
    });
    expect(r.hv.flat().every(Number.isFinite)).toBe(true);
    expect((p.wrt as Value[]).length).toBeGreaterThan(0);
  });
});
