import { fmtDims } from '../../tensor/errors.js';
import type { Graph } from '../builder.js';
import { dimsAgree, FLOATS, fail, normAxis, requireDType, sameDType } from '../shape.js';
import type { Dim, OpRule, OpTable, TypeInfo, Value } from '../types.js';
import { bad, float, int, ints, readFloat, readInt } from './helpers.js';
import { countOf } from './reduce.js';

function range(a: number, b: number): number[] {
  return Array.from({ length: b - a }, (_, i) => a + i);
}

/** Per-channel [C] → [1, C, 1, …] for broadcasting against NC… activations. */
function perChannel(g: Graph, v: Value, rank: number): Value {
  return g.Reshape(v, [1, -1, ...new Array<number>(rank - 2).fill(1)]);
}

/** Mean over every axis but the channel axis 1, kept as [1, C, 1, …]. */
function channelMean(g: Graph, x: Value): Value {
  return g.ReduceMean(x, [0, ...range(2, x.shape.length)], true);
}

/** Normalised input and 1/σ of a batch: (x − μ)·r with r = 1/√(σ² + ε), statistics over axes ≠ 1. */
function batchStats(g: Graph, x: Value, eps: number): { xc: Value; mean: Value; variance: Value; rstd: Value } {
  const mean = channelMean(g, x);
  const xc = g.Sub(x, mean);
  const variance = channelMean(g, g.Mul(xc, xc));
  const rstd = g.Reciprocal(g.Sqrt(g.Add(variance, g.constLike(x, eps))));
  return { xc, mean, variance, rstd };
}

export const normOps = {
  LayerNormalization: {
    arity: 3,
    shape: ([x, scale, bias], { axis }) => {
      const [tx, ts, tb] = [x as TypeInfo, scale as TypeInfo, bias as TypeInfo];
      requireDType(tx, FLOATS);
      sameDType(tx, ts);
      sameDType(tx, tb);
      const a = normAxis(axis, tx.shape.length);
      const norm = tx.shape.slice(a);
      for (const [what, t] of [
        ['scale', ts],
        ['bias', tb],
      ] as const) {
        if (t.shape.length !== norm.length || !t.shape.every((d, i) => dimsAgree(d, norm[i] as Dim))) {
          fail(`${what} must be ${fmtDims(norm)} (the normalised dims), got ${fmtDims(t.shape)}`);
        }
      }
      // Y, and the statistics ONNX's LayerNormalization can return: mean and 1/σ, keepdims-shaped.
      const stat = { dtype: tx.dtype, shape: tx.shape.map((d, i) => (i < a ? d : 1)) };
      return [{ dtype: tx.dtype, shape: tx.shape }, stat, stat];
    },
    emit: (ctx, { inputs, outputs, attrs, inputTypes }) => {
      const at = { axis: int(attrs.axis), epsilon: float(attrs.epsilon) };
      const t = inputTypes[0] as TypeInfo;
      const [y, mean, rstd] = outputs as [string, string, string];
      if (t.dtype === 'float32' || (mean === '' && rstd === '')) {
        ctx.node('LayerNormalization', inputs, outputs, at);
        return;
      }
      // ORT returns the statistics in float32 only: for float64 compute them from primitives.
      ctx.node('LayerNormalization', inputs, [y], at);
      const axes = ints(range(normAxis(attrs.axis, t.shape.length), t.shape.length));
      const [m, xc, sq, v, ve, sd] = [mean || ctx.temp(), ctx.temp(), ctx.temp(), ctx.temp(), ctx.temp(), ctx.temp()];
      const eps = ctx.constant({ type: 'float64', dims: [], data: new Float64Array([attrs.epsilon]) });
      ctx.node('ReduceMean', [inputs[0] as string], [m], { axes, keepdims: int(1) });
      if (rstd === '') return;
      ctx.node('Sub', [inputs[0] as string, m], [xc]);
      ctx.node('Mul', [xc, xc], [sq]);
      ctx.node('ReduceMean', [sq], [v], { axes, keepdims: int(1) });
      ctx.node('Add', [v, eps], [ve]);
      ctx.node('Sqrt', [ve], [sd]);
      ctx.node('Reciprocal', [sd], [rstd]);
    },
    decode: {
      onnx: 'LayerNormalization',
      read: (n) => {
        if (n.inputs.length < 3 || n.inputs[2] === '') bad(n, 'a bias input is required');
        if (readInt(n, 'stash_type', 1) !== 1) bad(n, 'only stash_type=1 (float statistics) is supported');
        return { attrs: { axis: readInt(n, 'axis', -1), epsilon: readFloat(n, 'epsilon', 1e-5) }, inputs: [0, 1, 2] };
      },
    },
    // Uses the node's own mean μ and r = 1/σ (no recomputation). With x̂ = (x − μ)·r, g = gy ⊙ scale:
    //   dx = r·(g − mean(g) − x̂·mean(g ⊙ x̂)), dscale = Σ gy ⊙ x̂, dbias = Σ gy,
    // plus, when the statistics themselves are used downstream (second order, or a caller reading
    // them): dμ/dx = 1/N and dr/dx = −r³(x − μ)/N over the normalised axes.
    vjp: (g, { inputs: [x, scale, bias], outputs: [, mean, rstd], gys: [gy, gMean, gRstd], attrs: { axis } }) => {
      const vx = x as Value;
      const axes = range(normAxis(axis, vx.shape.length), vx.shape.length);
      const [mu, r] = [mean as Value, rstd as Value];
      const xc = g.Sub(vx, mu);
      let dx: Value | null = null;
      const add = (v: Value) => {
        dx = dx ? g.Add(dx, v) : v;
      };
      let dScale: Value | null = null;
      let dBias: Value | null = null;
      if (gy) {
        const xhat = g.Mul(xc, r);
        const gx = g.Mul(gy, scale as Value);
        const inner = g.Sub(g.Sub(gx, g.ReduceMean(gx, axes, true)), g.Mul(xhat, g.ReduceMean(g.Mul(gx, xhat), axes, true)));
        add(g.Mul(r, inner));
        dScale = g.sumTo(g.Mul(gy, xhat), (scale as Value).shape);
        dBias = g.sumTo(gy, (bias as Value).shape);
      }
      if (gMean || gRstd) {
        const n = countOf(g, vx, axes);
        if (gMean) add(g.Div(g.Expand(gMean, vx.shape), n));
        if (gRstd) add(g.Div(g.Mul(g.Neg(g.Mul(gRstd, g.Mul(r, g.Mul(r, r)))), xc), n));
      }
      return [dx, dScale, dBias];
    },
  } satisfies OpRule<'LayerNormalization'>,

  BatchNormalization: {
    arity: 5,
    shape: (ins, { training }) => {
      const tx = ins[0] as TypeInfo;
      requireDType(tx, FLOATS);
      if (tx.shape.length < 2) fail(`input must be [N, C, …], got ${fmtDims(tx.shape)}`);
      const c = tx.shape[1] as Dim;
      ['scale', 'bias', 'mean', 'var'].forEach((what, i) => {
        const t = ins[i + 1] as TypeInfo;
        sameDType(tx, t);
        if (t.shape.length !== 1 || !dimsAgree(t.shape[0] as Dim, c)) fail(`${what} must be [${c}], got ${fmtDims(t.shape)}`);
      });
      const stat = { dtype: tx.dtype, shape: [c] };
      return training ? [{ dtype: tx.dtype, shape: tx.shape }, stat, stat] : [{ dtype: tx.dtype, shape: tx.shape }];
    },
    emit: (ctx, { inputs, outputs, attrs, inputTypes }) => {
      if (!attrs.training) {
        ctx.node('BatchNormalization', inputs, outputs, { epsilon: float(attrs.epsilon) });
        return;
      }
      // Training form, from primitives: batch statistics over axes ≠ 1 (biased variance).
      const [x, scale, bias] = inputs as [string, string, string];
      const rank = (inputTypes[0] as TypeInfo).shape.length;
      const dtype = (inputTypes[0] as TypeInfo).dtype;
      const axes = ints([0, ...range(2, rank)]);
      const chan = ctx.constant({ type: 'int64', dims: [rank], data: BigInt64Array.from([1, -1, ...new Array<number>(rank - 2).fill(1)], BigInt) });
      const flat = ctx.constant({ type: 'int64', dims: [1], data: BigInt64Array.from([-1n]) });
      const eps = ctx.constant({ type: dtype, dims: [], data: dtype === 'float64' ? new Float64Array([attrs.epsilon]) : new Float32Array([attrs.epsilon]) });
      const t = (): string => ctx.temp();
      const [mean, xc, sq, variance, ve, sd, norm, s4, b4, scaled] = [t(), t(), t(), t(), t(), t(), t(), t(), t(), t()];
      ctx.node('ReduceMean', [x], [mean], { axes, keepdims: int(1) });
      ctx.node('Sub', [x, mean], [xc]);
      ctx.node('Mul', [xc, xc], [sq]);
      ctx.node('ReduceMean', [sq], [variance], { axes, keepdims: int(1) });
      ctx.node('Add', [variance, eps], [ve]);
      ctx.node('Sqrt', [ve], [sd]);
      ctx.node('Div', [xc, sd], [norm]);
      ctx.node('Reshape', [scale, chan], [s4]);
      ctx.node('Reshape', [bias, chan], [b4]);
      ctx.node('Mul', [norm, s4], [scaled]);
      ctx.node('Add', [scaled, b4], [outputs[0] as string]);
      ctx.node('Reshape', [mean, flat], [outputs[1] as string]);
      ctx.node('Reshape', [variance, flat], [outputs[2] as string]);
    },
    decode: {
      onnx: 'BatchNormalization',
      read: (n) => {
        if (readInt(n, 'training_mode', 0) !== 0 || n.outputs.length > 1) bad(n, 'only the inference form (training_mode=0, one output) is decoded');
        return { attrs: { epsilon: readFloat(n, 'epsilon', 1e-5), training: false }, inputs: [0, 1, 2, 3, 4] };
      },
    },
    vjp: (g, { inputs: [x, scale, , mean, variance], gys: [gy, gMean, gVar], attrs: { epsilon, training } }) => {
      const vx = x as Value;
      const rank = vx.shape.length;
      const sumC = (v: Value) => g.ReduceSum(v, [0, ...range(2, rank)], false);
      const scaleC = perChannel(g, scale as Value, rank);
      if (!training) {
        // y = (x − m)·r·s + b with running m, v: every gradient is per channel.
        if (!gy) return [null, null, null, null, null];
        const r = g.Reciprocal(g.Sqrt(g.Add(variance as Value, g.constLike(vx, epsilon))));
        const rC = perChannel(g, r, rank);
        const xc = g.Sub(vx, perChannel(g, mean as Value, rank));
        const gs = g.Mul(gy, scaleC);
        const dVar = g.Mul(sumC(g.Mul(gs, xc)), g.scale(g.Mul(r, g.Mul(r, r)), -0.5));
        return [g.Mul(gs, rC), sumC(g.Mul(gy, g.Mul(xc, rC))), sumC(gy), g.Neg(g.Mul(sumC(gs), r)), dVar];
      }
      // Training form: statistics depend on x. With x̂ = (x − μ)·r, g = gy ⊙ scale:
      // dx = r·(g − mean(g) − x̂·mean(g ⊙ x̂)) + dμ/M + dσ²·2(x − μ)/M.
      const { xc, rstd } = batchStats(g, vx, epsilon);
      const xhat = g.Mul(xc, rstd);
      let dx: Value | null = null;
      const add = (v: Value) => {
        dx = dx ? g.Add(dx, v) : v;
      };
      if (gy) {
        const gs = g.Mul(gy, scaleC);
        add(g.Mul(rstd, g.Sub(g.Sub(gs, channelMean(g, gs)), g.Mul(xhat, channelMean(g, g.Mul(gs, xhat))))));
      }
      const m = countOf(g, vx, [0, ...range(2, rank)]);
      if (gMean) add(g.Div(g.Expand(perChannel(g, gMean, rank), vx.shape), m));
      if (gVar) add(g.Div(g.Mul(perChannel(g, g.scale(gVar, 2), rank), xc), m));
      return [dx, gy ? sumC(g.Mul(gy, xhat)) : null, gy ? sumC(gy) : null, null, null];
    },
  } satisfies OpRule<'BatchNormalization'>,
} satisfies Partial<OpTable>;
