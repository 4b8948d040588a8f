import type { Graph } from '../builder.js';
import { F32_ONLY, FLOATS, requireDType } from '../shape.js';
import type { OpRule, OpTable, TypeInfo, Value } from '../types.js';

const K = Math.sqrt(2 / Math.PI);
const C = 0.044715;

/**
 * gy · d/dx GELU, from x and the forward's output y (kept anyway: the next Gemm's weight gradient
 * reads it), so ORT can still fuse the forward into one Gelu/FastGelu kernel in a training graph.
 * tanh form, with s = σ(2u) = ½(1 + tanh u), u = k·(x + c·x³), y = x·s:
 *   GELU′ = ½(1 + t) + ½x(1 − t²)·u′ = s + 2·x·s·(1 − s)·u′ = s + (y − y·s)·2u′
 * — 12 elementwise passes over the activation instead of 15 for the textbook form (these passes
 * are a tenth of a transformer block's training step), and 1 − s does not cancel for large x.
 * erf form:  Φ(x) + x·φ(x) = ½(1 + erf(x/√2)) + x·e^(−x²/2)/√(2π)
 */
function geluGrad(g: Graph, x: Value, y: Value, gy: Value, approximate: 'tanh' | 'none'): Value {
  const c = (v: number) => g.constLike(x, v);
  const x2 = g.Mul(x, x);
  if (approximate === 'tanh') {
    const s = g.Sigmoid(g.Mul(x, g.Add(g.Mul(x2, c(2 * K * C)), c(2 * K))));
    const twoSlope = g.Add(g.Mul(x2, c(6 * K * C)), c(2 * K));
    return g.Mul(gy, g.Add(s, g.Mul(g.Sub(y, g.Mul(y, s)), twoSlope)));
  }
  const cdf = g.Add(g.Mul(g.Erf(g.Mul(x, c(Math.SQRT1_2))), c(0.5)), c(0.5));
  const pdf = g.Mul(g.Exp(g.Mul(x2, c(-0.5))), c(1 / Math.sqrt(2 * Math.PI)));
  return g.Mul(gy, g.Add(cdf, g.Mul(x, pdf)));
}

export const geluOps = {
  Gelu: {
    arity: 1,
    shape: ([x], { approximate }) => {
      requireDType(x as TypeInfo, approximate === 'none' ? F32_ONLY : FLOATS);
      return [{ dtype: (x as TypeInfo).dtype, shape: (x as TypeInfo).shape }];
    },
    // Standard opset-17 nodes in the order ONNX Runtime's Gelu / FastGelu fusions match.
    emit: (ctx, { inputs: [x], outputs: [y], attrs: { approximate }, inputTypes: [t] }) => {
      const dtype = (t as TypeInfo).dtype;
      const c = (v: number) => ctx.constant({ type: dtype, dims: [], data: dtype === 'float64' ? new Float64Array([v]) : new Float32Array([v]) });
      const [a, b, d, e, h] = [ctx.temp(), ctx.temp(), ctx.temp(), ctx.temp(), ctx.temp()];
      if (approximate === 'none') {
        ctx.node('Div', [x as string, c(Math.SQRT2)], [a]);
        ctx.node('Erf', [a], [b]);
        ctx.node('Add', [b, c(1)], [d]);
        ctx.node('Mul', [x as string, d], [e]);
        ctx.node('Mul', [e, c(0.5)], [y as string]);
        return;
      }
      const [p, q] = [ctx.temp(), ctx.temp()];
      ctx.node('Pow', [x as string, c(3)], [a]);
      ctx.node('Mul', [a, c(C)], [b]);
      ctx.node('Add', [x as string, b], [d]);
      ctx.node('Mul', [d, c(K)], [e]);
      ctx.node('Tanh', [e], [h]);
      ctx.node('Mul', [x as string, c(0.5)], [p]);
      ctx.node('Add', [h, c(1)], [q]);
      ctx.node('Mul', [p, q], [y as string]);
    },
    decode: null, // no Gelu before opset 20: ONNX files carry the composite, which decodes op by op
    vjp: (g, { inputs: [x], outputs: [y], gys: [gy], attrs: { approximate } }) => [gy ? geluGrad(g, x as Value, y as Value, gy, approximate) : null],
  } satisfies OpRule<'Gelu'>,
} satisfies Partial<OpTable>;
