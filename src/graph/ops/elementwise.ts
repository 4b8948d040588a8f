import type { DType } from '../../tensor/tensor.js';
import type { Graph } from '../builder.js';
import { broadcastShapes, F32_ONLY, FLOATS, requireDType, sameDType } from '../shape.js';
import type { OpRule, OpTable, TypeInfo, Value, Vjp } from '../types.js';
import { noGrad } from '../types.js';
import { bad, int, plainDecode, readInt, simpleEmit } from './helpers.js';

type UnaryName = 'Neg' | 'Abs' | 'Sqrt' | 'Exp' | 'Log' | 'Tanh' | 'Sigmoid' | 'Relu' | 'Erf' | 'Sign' | 'Reciprocal' | 'Identity';
type BinaryName = 'Add' | 'Sub' | 'Mul' | 'Div' | 'Max' | 'Min';
type CompareName = 'Equal' | 'Greater' | 'Less';

const same = ([x]: readonly TypeInfo[]): TypeInfo[] => [{ dtype: (x as TypeInfo).dtype, shape: (x as TypeInfo).shape }];

/** A float-valued unary op emitted as the ONNX op of the same name; `d(g, x, y, gy)` is the VJP. */
function unary<K extends UnaryName>(op: K, d: ((g: Graph, x: Value, y: Value, gy: Value) => Value) | null, dtypes = FLOATS): OpRule<K> {
  return {
    arity: 1,
    shape: (ins) => {
      requireDType(ins[0] as TypeInfo, dtypes);
      return same(ins);
    },
    emit: simpleEmit(op),
    decode: plainDecode(op, {}),
    vjp: d === null ? noGrad : (g, { inputs: [x], outputs: [y], gys: [gy] }) => [gy ? d(g, x as Value, y as Value, gy) : null],
  };
}

const NUMERIC: readonly DType[] = ['float32', 'float64', 'int32', 'int64'];

function binary<K extends BinaryName>(op: K, vjp: Vjp<K>): OpRule<K> {
  return {
    arity: 2,
    shape: ([a, b]) => {
      sameDType(a as TypeInfo, b as TypeInfo);
      requireDType(a as TypeInfo, NUMERIC);
      return [{ dtype: (a as TypeInfo).dtype, shape: broadcastShapes((a as TypeInfo).shape, (b as TypeInfo).shape) }];
    },
    emit: simpleEmit(op),
    decode: plainDecode(op, {}),
    vjp,
  };
}

function compare<K extends CompareName>(op: K): OpRule<K> {
  return {
    arity: 2,
    shape: ([a, b]) => {
      sameDType(a as TypeInfo, b as TypeInfo);
      return [{ dtype: 'bool', shape: broadcastShapes((a as TypeInfo).shape, (b as TypeInfo).shape) }];
    },
    emit: simpleEmit(op),
    decode: plainDecode(op, {}),
    vjp: noGrad,
  };
}

function boolOp<K extends 'Not' | 'And'>(op: K, arity: 1 | 2): OpRule<K> {
  return {
    arity,
    shape: (ins) => {
      for (const t of ins) requireDType(t, ['bool']);
      return [{ dtype: 'bool', shape: broadcastShapes(...ins.map((t) => t.shape)) }];
    },
    emit: simpleEmit(op),
    decode: plainDecode(op, {}),
    vjp: noGrad,
  };
}

/** Gradient share of `a` in max/min: all of gy where `a` wins, half where the two tie (as PyTorch). */
function winnerShare(g: Graph, wins: Value, ties: Value, gy: Value): Value {
  const zero = g.constLike(gy, 0);
  return g.Where(wins, gy, g.Where(ties, g.scale(gy, 0.5), zero));
}

export const elementwiseOps = {
  Neg: unary('Neg', (g, _x, _y, gy) => g.Neg(gy), NUMERIC),
  Abs: unary('Abs', (g, x, _y, gy) => g.Mul(gy, g.Sign(x)), NUMERIC),
  Sqrt: unary('Sqrt', (g, _x, y, gy) => g.Div(gy, g.scale(y, 2))),
  Exp: unary('Exp', (g, _x, y, gy) => g.Mul(gy, y)),
  Log: unary('Log', (g, x, _y, gy) => g.Div(gy, x)),
  Tanh: unary('Tanh', (g, _x, y, gy) => g.Mul(gy, g.Sub(g.constLike(y, 1), g.Mul(y, y)))),
  Sigmoid: unary('Sigmoid', (g, _x, y, gy) => g.Mul(gy, g.Mul(y, g.Sub(g.constLike(y, 1), y)))),
  // Subgradient 0 at x = 0, as PyTorch.
  Relu: unary('Relu', (g, x, _y, gy) => g.Where(g.Greater(x, g.constLike(x, 0)), gy, g.constLike(gy, 0))),
  // d/dx erf(x) = 2/√π · exp(−x²)
  Erf: unary('Erf', (g, x, _y, gy) => g.Mul(gy, g.scale(g.Exp(g.Neg(g.Mul(x, x))), 2 / Math.sqrt(Math.PI))), F32_ONLY),
  // Piecewise constant: the derivative is zero almost everywhere, so no gradient flows.
  Sign: unary('Sign', null, NUMERIC),
  Reciprocal: unary('Reciprocal', (g, _x, y, gy) => g.Neg(g.Mul(gy, g.Mul(y, y)))),
  Identity: unary('Identity', (_g, _x, _y, gy) => gy, ['float32', 'float64', 'int32', 'int64', 'bool', 'uint8']),

  Pow: {
    arity: 1,
    shape: (ins) => {
      requireDType(ins[0] as TypeInfo, FLOATS);
      return same(ins);
    },
    emit: (ctx, { inputs, outputs, attrs, inputTypes }) => {
      const dtype = (inputTypes[0] as TypeInfo).dtype;
      const e = ctx.constant({ type: dtype, dims: [], data: dtype === 'float64' ? new Float64Array([attrs.exponent]) : new Float32Array([attrs.exponent]) });
      ctx.node('Pow', [inputs[0] as string, e], outputs);
    },
    decode: {
      onnx: 'Pow',
      read: (node) => {
        const e = node.constantInput(1);
        if (e?.data.length !== 1) bad(node, 'only a constant scalar exponent is supported');
        return { attrs: { exponent: Number(e.data[0]) }, inputs: [0] };
      },
    },
    // d/dx x^p = p·x^(p−1)
    vjp: (g, { inputs: [x], gys: [gy], attrs: { exponent: p } }) => [gy ? g.Mul(gy, g.scale(g.Pow(x as Value, p - 1), p)) : null],
  } satisfies OpRule<'Pow'>,

  StopGradient: {
    arity: 1,
    shape: same,
    emit: simpleEmit('Identity'),
    decode: null, // encodes as Identity, which decodes as Identity
    vjp: noGrad,
  } satisfies OpRule<'StopGradient'>,

  Cast: {
    arity: 1,
    shape: ([x], { to }) => [{ dtype: to, shape: (x as TypeInfo).shape }],
    emit: simpleEmit('Cast', ({ to }) => ({ to: int(ONNX_TYPE[to]) })),
    decode: {
      onnx: 'Cast',
      read: (node) => {
        const to = DTYPE_OF_ONNX[readInt(node, 'to', -1)];
        if (!to) bad(node, `target type ${readInt(node, 'to', -1)} is not supported`);
        return { attrs: { to }, inputs: [0] };
      },
    },
    // Gradients pass between float types; nothing flows into or out of integers.
    vjp: (g, { inputs: [x], gys: [gy] }) => [gy && FLOATS.includes((x as Value).dtype) && FLOATS.includes(gy.dtype) ? g.Cast(gy, (x as Value).dtype) : null],
  } satisfies OpRule<'Cast'>,

  Add: binary('Add', (g, { inputs: [a, b], gys: [gy] }) => (gy ? [g.sumTo(gy, (a as Value).shape), g.sumTo(gy, (b as Value).shape)] : [null, null])),
  Sub: binary('Sub', (g, { inputs: [a, b], gys: [gy] }) => (gy ? [g.sumTo(gy, (a as Value).shape), g.sumTo(g.Neg(gy), (b as Value).shape)] : [null, null])),
  Mul: binary('Mul', (g, { inputs: [a, b], gys: [gy] }) =>
    gy ? [g.sumTo(g.Mul(gy, b as Value), (a as Value).shape), g.sumTo(g.Mul(gy, a as Value), (b as Value).shape)] : [null, null],
  ),
  // y = a/b: da = gy/b, db = −gy·y/b
  Div: binary('Div', (g, { inputs: [a, b], outputs: [y], gys: [gy] }) =>
    gy ? [g.sumTo(g.Div(gy, b as Value), (a as Value).shape), g.sumTo(g.Neg(g.Div(g.Mul(gy, y as Value), b as Value)), (b as Value).shape)] : [null, null],
  ),
  Max: binary('Max', (g, { inputs: [a, b], gys: [gy] }) => {
    if (!gy) return [null, null];
    const [va, vb] = [a as Value, b as Value];
    const ties = g.Equal(va, vb);
    return [g.sumTo(winnerShare(g, g.Greater(va, vb), ties, gy), va.shape), g.sumTo(winnerShare(g, g.Less(va, vb), ties, gy), vb.shape)];
  }),
  Min: binary('Min', (g, { inputs: [a, b], gys: [gy] }) => {
    if (!gy) return [null, null];
    const [va, vb] = [a as Value, b as Value];
    const ties = g.Equal(va, vb);
    return [g.sumTo(winnerShare(g, g.Less(va, vb), ties, gy), va.shape), g.sumTo(winnerShare(g, g.Greater(va, vb), ties, gy), vb.shape)];
  }),

  Where: {
    arity: 3,
    shape: ([c, a, b]) => {
      requireDType(c as TypeInfo, ['bool'], 'condition');
      sameDType(a as TypeInfo, b as TypeInfo);
      return [{ dtype: (a as TypeInfo).dtype, shape: broadcastShapes((c as TypeInfo).shape, (a as TypeInfo).shape, (b as TypeInfo).shape) }];
    },
    emit: simpleEmit('Where'),
    decode: plainDecode('Where', {}),
    vjp: (g, { inputs: [c, a, b], gys: [gy] }) => {
      if (!gy) return [null, null, null];
      const zero = g.constLike(gy, 0);
      return [null, g.sumTo(g.Where(c as Value, gy, zero), (a as Value).shape), g.sumTo(g.Where(c as Value, zero, gy), (b as Value).shape)];
    },
  } satisfies OpRule<'Where'>,

  Equal: compare('Equal'),
  Greater: compare('Greater'),
  Less: compare('Less'),
  Not: boolOp('Not', 1),
  And: boolOp('And', 2),
} satisfies Partial<OpTable>;

/** ONNX TensorProto.DataType codes. */
export const ONNX_TYPE: Record<DType, number> = { float32: 1, uint8: 2, int32: 6, int64: 7, bool: 9, float64: 11 };
export const DTYPE_OF_ONNX: Record<number, DType> = Object.fromEntries(Object.entries(ONNX_TYPE).map(([k, v]) => [v, k as DType]));
