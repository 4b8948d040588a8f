import type { Graph } from '../builder.js';
import { F32_ONLY, FLOATS, requireDType } from '../shape.js';
import type { OpRule, OpTable, TypeInfo, Value } from '../types.js';

const K = Math.sqrt(2 / Math.PI);
const C = 0.044715;

/**
 * d/dx of GELU from x alone (the forward's intermediates are not kept, so ORT can fuse the forward
 * into one Gelu/FastGelu kernel even in a training graph).
 * tanh form, with u = x·(k + k·c·x²), t = tanh u:  ½(1 + t)·(1 + x·(1 − t)·(k + 3k·c·x²))
 * erf form:  Φ(x) + x·φ(x) = ½(1 + erf(x/√2)) + x·e^(−x²/2)/√(2π)
 */
function geluDerivative(g: Graph, x: Value, approximate: 'tanh' | 'none'): Value {
  const c = (v: number) => g.constLike(x, v);
  const x2 = g.Mul(x, x);
  if (approximate === 'tanh') {
    const t = g.Tanh(g.Mul(x, g.Add(g.Mul(x2, c(K * C)), c(K))));
    const slope = g.Add(g.Mul(x2, c(3 * K * C)), c(K));
    const inner = g.Add(g.Mul(g.Mul(x, g.Sub(c(1), t)), slope), c(1));
    return g.Mul(g.Add(g.Mul(t, c(0.5)), c(0.5)), inner);
  }
  const cdf = g.Add(g.Mul(g.Erf(g.Mul(x, c(Math.SQRT1_2))), c(0.5)), c(0.5));
  const pdf = g.Mul(g.Exp(g.Mul(x2, c(-0.5))), c(1 / Math.sqrt(2 * Math.PI)));
  return g.Add(cdf, g.Mul(x, pdf));
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
    vjp: (g, { inputs: [x], gys: [gy], attrs: { approximate } }) => [gy ? g.Mul(gy, geluDerivative(g, x as Value, approximate)) : null],
  } satisfies OpRule<'Gelu'>,
} satisfies Partial<OpTable>;
