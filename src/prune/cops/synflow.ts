/**
 * SynFlow (Tanaka et al. 2020), single shot, in float64 (specs/cops.md §2): every parameter and BN
 * buffer replaced by its absolute value (the reference `linearize`), BN in eval mode, input all
 * ones [1, C, H, W], R = Σ output, s = |θ ⊙ ∂R/∂θ| for the prunable weights. No data.
 *
 * Float64 matters: R is a product of per-layer gains and leaves float32's range in deep nets. ONNX
 * Runtime's CPU provider has float64 Gemm, MatMul, MaxPool, BatchNormalization, pooling and
 * elementwise kernels but no float64 Conv, so here a conv is lowered to im2col + one float64
 * MatMul: for each kernel offset (u, v) a Slice of the padded input (stride by reshape-and-slice,
 * since only step-1 Slices have a VJP), concatenated to [kh·kw·C, Ho·Wo], times the weight as
 * [O, kh·kw·C]. Batch 1 keeps that small.
 */
import type { CnnModel } from '../../cnn/api.js';
import type { CnnConfig, Layer } from '../../cnn/config.js';
import { buildCnn } from '../../cnn/model.js';
import { cnnParamShapes, layerShapes } from '../../cnn/params.js';
import { backward } from '../../graph/backward.js';
import { Graph } from '../../graph/builder.js';
import { compile, type SessionOptions } from '../../graph/runtime.js';
import type { Value } from '../../graph/types.js';
import type { Tensor } from '../../tensor/tensor.js';
import { type LayerRecord, prunableLayout } from './layout.js';

/** conv2d of x [1, C, H, W] by w [O, C, k, k] (+ b [O]) as im2col + MatMul, float64-capable. */
function convByMatMul(g: Graph, x: Value, w: Value, b: Value | undefined, l: Extract<Layer, { kind: 'conv' }>, inShape: readonly number[], out: number): Value {
  const [c, h, wd] = inShape as [number, number, number];
  const { kernel: k, stride: s, pad: p } = l;
  const ho = Math.floor((h + 2 * p - k) / s) + 1;
  const wo = Math.floor((wd + 2 * p - k) / s) + 1;
  // Pad so that every offset's strided window [u, u + s·ho) fits.
  const extraH = Math.max(0, k - 1 + s * ho - (h + 2 * p));
  const extraW = Math.max(0, k - 1 + s * wo - (wd + 2 * p));
  const xp = g.Pad(g.Reshape(x, [c, h, wd]), [0, p, p, 0, p + extraH, p + extraW]);
  const cols: Value[] = [];
  for (let u = 0; u < k; u++) {
    for (let v = 0; v < k; v++) {
      let win = g.Slice(xp, [u, v], [u + s * ho, v + s * wo], [1, 2]);
      if (s > 1) win = g.Slice(g.Reshape(win, [c, ho, s, wo, s]), [0, 0], [1, 1], [2, 4]);
      cols.push(g.Reshape(win, [c, ho * wo]));
    }
  }
  const col = cols.length === 1 ? (cols[0] as Value) : g.Concat(cols, 0); // [(u, v, c), ho·wo]
  const wm = g.Reshape(g.Transpose(w, [0, 2, 3, 1]), [out, k * k * c]); // [o, (u, v, c)]
  let y = g.MatMul(wm, col);
  if (b) y = g.Add(y, g.Reshape(b, [out, 1]));
  return g.Reshape(y, [1, out, ho, wo]);
}

/** The float64 SynFlow graph of a CNN config: params are |θ| (fed), output R = Σ logits. */
function synflowGraph(c: CnnConfig): { g: Graph; r: Value; p: Record<string, Value> } {
  const g = new Graph(`${c.name}-synflow`);
  const p: Record<string, Value> = Object.fromEntries(cnnParamShapes(c).map((s) => [s.name, g.param(s.name, s.dims, 'float64')]));
  const shapes = layerShapes(c);
  const ones = g.ConstantOfShape([1, c.inChans, c.imageSize, c.imageSize], 1, 'float64');
  const { logits } = buildCnn(g, c, p, ones, {
    mode: 'eval',
    conv: (l, x, w, b) => convByMatMul(g, x, w, b, l, shapes.get(l.input) as number[], l.out),
  });
  return { g, r: g.ReduceSum(logits, [], false), p };
}

/**
 * SynFlow scores of a CNN's prunable weights (float64 throughout). Per layer of a bias-free chain
 * the scores sum to R (conservation), which the tests check.
 */
export async function synflow(model: CnnModel, opts: { readonly session?: SessionOptions } = {}): Promise<LayerRecord> {
  const c = model.config;
  const names = prunableLayout(c).names;
  const { g, r, p } = synflowGraph(c);
  const grads = backward(
    g,
    r,
    names.map((n) => p[n] as Value),
  );
  g.output('R', r);
  names.forEach((n, i) => {
    g.output(`grad:${n}`, grads[i] as Value);
  });
  const feeds: Record<string, Tensor<'float64'>> = {};
  for (const s of cnnParamShapes(c)) {
    feeds[s.name] = { type: 'float64', dims: s.dims, data: Float64Array.from((model.params[s.name] as Tensor<'float32'>).data, Math.abs) };
  }
  const session = await compile(g, opts.session);
  let out: Record<string, Tensor>;
  try {
    out = await session.run(feeds);
  } finally {
    session.dispose();
  }
  return Object.fromEntries(
    names.map((n) => {
      const th = (feeds[n] as Tensor<'float64'>).data;
      const gr = (out[`grad:${n}`] as Tensor<'float64'>).data;
      return [n, Float64Array.from(th, (x, i) => Math.abs(x * (gr[i] as number)))];
    }),
  );
}
