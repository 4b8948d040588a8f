/**
 * Small graphs covering most of the op table, with seeded parameter values and feeds, for the
 * encode/decode and runtime tests.
 */
import { Graph } from '../../src/graph/builder.js';
import { gelu, layerNorm, linear } from '../../src/graph/nn.js';
import type { Dim, Value } from '../../src/graph/types.js';
import { Rng } from '../../src/tensor/rng.js';
import { type DType, type Tensor, tensor } from '../../src/tensor/tensor.js';

export interface Case {
  readonly graph: Graph;
  /** Values for every `g.param`. */
  readonly params: Record<string, Tensor>;
  /** Values for every `g.input`, with the batch symbol B bound to `batch`. */
  feeds(batch: number): Record<string, Tensor>;
}

/** Declares params and draws their values (normal · 0.5, or uniform [lo, hi) when given). */
function maker(g: Graph, rng: Rng) {
  const params: Record<string, Tensor> = {};
  const param = (name: string, dims: number[], range?: [number, number]): Value => {
    const n = dims.reduce((p, d) => p * d, 1);
    const data = range ? rng.fillUniform(new Float32Array(n), ...range) : rng.fillNormal(new Float32Array(n), 0, 0.5);
    params[name] = tensor(data, dims);
    return g.param(name, dims);
  };
  return { params, param };
}

/** Random feeds for every data input: normal floats, or integers in [0, hi) where `ints` says. */
export function randomFeeds(g: Graph, seed: number, batch: number, ints: Record<string, number> = {}): Record<string, Tensor> {
  const rng = new Rng(seed);
  const out: Record<string, Tensor> = {};
  for (const v of g.inputs) {
    if (v.source.kind !== 'input') continue;
    const name = v.source.name;
    const dims = v.shape.map((d: Dim) => (typeof d === 'number' ? d : batch));
    const n = dims.reduce((p, d) => p * d, 1);
    const t: DType = v.dtype;
    if (t === 'int64')
      out[name] = tensor(
        BigInt64Array.from({ length: n }, () => BigInt(rng.int(ints[name] ?? 2))),
        dims,
      );
    else if (t === 'float64') out[name] = tensor(rng.fillNormal(new Float64Array(n)), dims);
    else out[name] = tensor(rng.fillNormal(new Float32Array(n)), dims);
  }
  return out;
}

/** Conv → BN → ReLU → MaxPool → grouped Conv → AveragePool → ConvTranspose → GAP → Gemm → LogSoftmax. */
export function convNet(seed = 0): Case {
  const g = new Graph('convnet');
  const { params, param } = maker(g, new Rng(seed));
  const x = g.input('x', 'float32', ['B', 1, 8, 8]);
  const c1 = g.Conv(x, param('c1.w', [4, 1, 3, 3]), param('c1.b', [4]), { pads: [1, 1, 1, 1] });
  const bn = g.BatchNormalization(c1, param('bn.w', [4]), param('bn.b', [4]), param('bn.mean', [4]), param('bn.var', [4], [0.5, 1.5]), {
    epsilon: 2 ** -10,
  })[0] as Value;
  const p1 = g.MaxPool(g.Relu(bn), [2, 2]);
  const c2 = g.Conv(p1, param('c2.w', [4, 2, 3, 3]), undefined, { group: 2, pads: [1, 1, 1, 1] });
  const p2 = g.AveragePool(g.Sigmoid(c2), [2, 2], { strides: [1, 1], pads: [1, 1, 0, 0] });
  const up = g.ConvTranspose(p2, param('up.w', [4, 2, 2, 2]), param('up.b', [2]), { strides: [2, 2] });
  const feat = g.Flatten(g.GlobalAveragePool(g.Tanh(up)), 1);
  g.output('logp', g.LogSoftmax(g.Gemm(feat, param('fc.w', [3, 2]), param('fc.b', [3]), { transB: true }), -1));
  return { graph: g, params, feeds: (b) => randomFeeds(g, seed + 1, b) };
}

/** Pre-norm attention + MLP block (2 heads, dim 8) with both GELUs, on a symbolic batch. */
export function transformerBlock(seed = 0): Case {
  const g = new Graph('block');
  const { params, param } = maker(g, new Rng(seed));
  const x = g.input('x', 'float32', ['B', 5, 8]);
  const h = layerNorm(g, x, param('norm1.w', [8]), param('norm1.b', [8]), 2 ** -10);
  const qkv = g.Reshape(linear(g, h, param('qkv.w', [24, 8]), param('qkv.b', [24])), [0, 0, 3, 2, 4]);
  const [q, k, v] = g.Split(g.Transpose(qkv, [2, 0, 3, 1, 4]), [1, 1, 1], 0).map((t) => g.Squeeze(t, [0])) as [Value, Value, Value];
  const att = g.Softmax(g.Div(g.MatMul(q, g.Transpose(k, [0, 1, 3, 2])), g.scalar(2)), -1);
  const y = g.Reshape(g.Transpose(g.MatMul(att, v), [0, 2, 1, 3]), [0, 0, 8]);
  const x1 = g.Add(x, linear(g, y, param('proj.w', [8, 8]), param('proj.b', [8])));
  const m = gelu(g, linear(g, layerNorm(g, x1, param('norm2.w', [8]), param('norm2.b', [8]), 2 ** -10), param('fc1.w', [16, 8])), 'erf');
  const x2 = g.Add(x1, gelu(g, linear(g, m, param('fc2.w', [8, 16]), param('fc2.b', [8])), 'tanh'));
  g.output('tokens', g.Reshape(x2, [-1, 8]));
  g.output('rms', g.Sqrt(g.ReduceMean(g.Mul(x2, x2), [-1], false)));
  return { graph: g, params, feeds: (b) => randomFeeds(g, seed + 1, b) };
}

/** Reductions and elementwise ops in float64. */
export function reductions(seed = 0): Case {
  const g = new Graph('reduce');
  const x = g.input('x', 'float64', ['B', 4, 5]);
  const one = g.scalar(1, 'float64');
  const pos = g.Add(g.Abs(x), one);
  g.output('sum', g.ReduceSum(x, [1], true));
  g.output('mean', g.ReduceMean(x, [-1], false));
  g.output('max', g.ReduceMax(x, [1, 2], false));
  g.output('arg', g.ArgMax(x, 2, false));
  g.output('sm', g.Softmax(x, 1));
  g.output('lsm', g.LogSoftmax(x, -1));
  g.output('elem', g.Sub(g.Mul(g.Exp(g.Neg(pos)), g.Log(pos)), g.Div(g.Reciprocal(pos), g.Sqrt(pos))));
  g.output('minmax', g.Add(g.Max(x, g.Sign(x)), g.Min(x, g.Pow(x, 2))));
  g.output('f32', g.Cast(g.Tanh(x), 'float32'));
  return { graph: g, params: {}, feeds: (b) => randomFeeds(g, seed + 1, b) };
}

/** Slice, Concat, Split, Pad, Gather, GatherElements, ScatterElements, TopK, Where, comparisons, Expand, Shape. */
export function indexing(seed = 0): Case {
  const g = new Graph('indexing');
  const x = g.input('x', 'float32', ['B', 6]);
  const ie = g.input('ie', 'int64', ['B', 2]);
  const odd = g.Slice(x, [1], [6], [1], [2]);
  const mid = g.Slice(x, [-4], [-1], [1]);
  const cat = g.Concat([odd, mid], 1);
  const [a, b] = g.Split(cat, [2, 4], 1) as [Value, Value];
  g.output('pad', g.Pad(a, [0, 1, 0, 2], 0.5));
  g.output('gather', g.Gather(b, g.constant(tensor(new BigInt64Array([3n, 0n, 3n]), [3])), 1));
  const picked = g.GatherElements(x, ie, 1);
  g.output('scatterAdd', g.ScatterElements(x, ie, picked, 1, 'add'));
  const cols = g.input('cols', 'int64', ['B', 2]); // distinct per row: overwrite order does not matter
  g.output('scatter', g.ScatterElements(x, cols, picked, 1, 'none'));
  const [vals, idx] = g.TopK(x, 2, 1, false) as [Value, Value];
  g.output('topv', vals);
  g.output('topi', idx);
  const keep = g.And(g.Not(g.Less(x, g.scalar(0.5))), g.Equal(x, x));
  g.output('where', g.Where(g.Greater(x, g.scalar(0)), g.Identity(x), g.Cast(keep, 'float32')));
  const rowMean = g.ReduceMean(x, [1], true);
  g.output('expand', g.Squeeze(g.Unsqueeze(g.Expand(rowMean, ['B', 6]), [0]), [0]));
  g.output('flat', g.Flatten(g.Transpose(g.Reshape(x, [0, 2, 3]), [0, 2, 1]), 1));
  g.output('shape', g.Shape(x));
  const feeds = (batch: number) => {
    const f = randomFeeds(g, seed + 1, batch, { ie: 6 });
    f.cols = tensor(
      BigInt64Array.from({ length: 2 * batch }, (_, i) => BigInt(i % 2 === 0 ? i % 3 : 5 - (i % 2))),
      [batch, 2],
    );
    return f;
  };
  return { graph: g, params: {}, feeds };
}

export const CASES = { convNet, transformerBlock, reductions, indexing } as const;
