import type { Graph } from '../builder.js';
import { FLOATS, fail, INTS, isStatic, normAxis, requireDType } from '../shape.js';
import type { Dim, OpAttrs, OpRule, OpTable, TypeInfo, Value } from '../types.js';
import { bad, constInts, emitWithInts, int, ints, readInt, simpleEmit } from './helpers.js';

type ReduceName = 'ReduceSum' | 'ReduceMean' | 'ReduceMax';

/** Normalised, sorted reduction axes; empty means all axes (ONNX's default). */
export function reduceAxes(rank: number, axes: readonly number[]): number[] {
  if (axes.length === 0) return Array.from({ length: rank }, (_, i) => i);
  const out = [...new Set(axes.map((a) => normAxis(a, rank)))].sort((a, b) => a - b);
  if (out.length !== axes.length) fail(`axes ${axes.join(',')} repeat`);
  return out;
}

/** gy of a reduction, broadcast back over the reduced axes to x's shape. */
function spread(g: Graph, x: Value, gy: Value, { axes, keepdims }: OpAttrs[ReduceName]): Value {
  const at = reduceAxes(x.shape.length, axes);
  return g.Expand(keepdims ? gy : g.Unsqueeze(gy, at), x.shape);
}

/** Number of elements each output of a mean reduction averages: a constant when static. */
export function countOf(g: Graph, x: Value, axes: readonly number[]): Value {
  const at = reduceAxes(x.shape.length, axes);
  const dims: readonly Dim[] = at.map((a) => x.shape[a] as Dim);
  if (isStatic(dims))
    return g.scalar(
      dims.reduce((p, d) => p * d, 1),
      x.dtype,
    );
  return g.ReduceSum(g.ConstantOfShape(x.shape, 1, x.dtype), at, true);
}

function reduction<K extends ReduceName>(op: K, vjp: OpRule<K>['vjp']): OpRule<K> {
  return {
    arity: 1,
    shape: ([x], { axes, keepdims }) => {
      const t = x as TypeInfo;
      requireDType(t, [...FLOATS, ...INTS]);
      const at = new Set(reduceAxes(t.shape.length, axes));
      return [{ dtype: t.dtype, shape: keepdims ? t.shape.map((d, i) => (at.has(i) ? 1 : d)) : t.shape.filter((_, i) => !at.has(i)) }];
    },
    // Opset 17: ReduceSum takes axes as an input (since 13), the others as an attribute (until 18).
    emit:
      op === 'ReduceSum'
        ? emitWithInts(
            op,
            (a) => [a.axes],
            (a) => ({ keepdims: int(a.keepdims) }),
          )
        : simpleEmit(op, (a) => ({ keepdims: int(a.keepdims), ...(a.axes.length > 0 ? { axes: ints(a.axes) } : {}) })),
    decode: {
      onnx: op,
      read: (n) => {
        // Opset ≥ 18 (13 for ReduceSum) passes axes as an input; older models used an attribute.
        const attr = n.attr('axes');
        const axes = attr && 'ints' in attr ? [...attr.ints] : constInts(n, 1, 'axes', []);
        if (axes.length === 0 && readInt(n, 'noop_with_empty_axes', 0) === 1) bad(n, 'noop_with_empty_axes=1 without axes (an identity) is not supported');
        return { attrs: { axes, keepdims: readInt(n, 'keepdims', 1) === 1 } as OpAttrs[K], inputs: [0] };
      },
    },
    vjp,
  };
}

function softmaxLike<K extends 'Softmax' | 'LogSoftmax'>(op: K, vjp: OpRule<K>['vjp']): OpRule<K> {
  return {
    arity: 1,
    shape: ([x], { axis }) => {
      requireDType(x as TypeInfo, FLOATS);
      normAxis(axis, (x as TypeInfo).shape.length);
      return [{ dtype: (x as TypeInfo).dtype, shape: (x as TypeInfo).shape }];
    },
    emit: simpleEmit(op, (a) => ({ axis: int(a.axis) })),
    decode: { onnx: op, read: (n) => ({ attrs: { axis: readInt(n, 'axis', -1) } as OpAttrs[K], inputs: [0] }) },
    vjp,
  };
}

export const reduceOps = {
  ReduceSum: reduction('ReduceSum', (g, { inputs: [x], gys: [gy], attrs }) => [gy ? spread(g, x as Value, gy, attrs) : null]),
  ReduceMean: reduction('ReduceMean', (g, { inputs: [x], gys: [gy], attrs }) => [
    gy ? g.Div(spread(g, x as Value, gy, attrs), countOf(g, x as Value, attrs.axes)) : null,
  ]),
  // Ties share the gradient equally (as torch.amax).
  ReduceMax: reduction('ReduceMax', (g, { inputs: [x], outputs: [y], gys: [gy], attrs }) => {
    if (!gy) return [null];
    const vx = x as Value;
    const hit = g.Equal(vx, spread(g, vx, y as Value, attrs));
    const count = g.ReduceSum(g.Cast(hit, vx.dtype), reduceAxes(vx.shape.length, attrs.axes), true);
    const share = g.Div(spread(g, vx, gy, attrs), g.Expand(count, vx.shape));
    return [g.Where(hit, share, g.constLike(share, 0))];
  }),
  // y = softmax(x): dx = y ⊙ (gy − Σ gy⊙y)
  Softmax: softmaxLike('Softmax', (g, { outputs: [y], gys: [gy], attrs: { axis } }) => {
    if (!gy) return [null];
    const vy = y as Value;
    return [g.Mul(vy, g.Sub(gy, g.ReduceSum(g.Mul(gy, vy), [axis], true)))];
  }),
  // y = log softmax(x): dx = gy − exp(y)·Σ gy
  LogSoftmax: softmaxLike('LogSoftmax', (g, { outputs: [y], gys: [gy], attrs: { axis } }) => {
    if (!gy) return [null];
    return [g.Sub(gy, g.Mul(g.Exp(y as Value), g.ReduceSum(gy, [axis], true)))];
  }),
} satisfies Partial<OpTable>;
