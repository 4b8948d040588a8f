import { fmtDims } from '../../tensor/errors.js';
import { dimProduct, dimsAgree, FLOATS, fail, INTS, normAxis, requireDType, sameDType } from '../shape.js';
import type { Dim, OpRule, OpTable, TypeInfo, Value } from '../types.js';
import { noGrad } from '../types.js';
import { bad, int, int64s, readInt, readStr, simpleEmit } from './helpers.js';

export const indexingOps = {
  Gather: {
    arity: 2,
    shape: ([x, idx], { axis }) => {
      const s = (x as TypeInfo).shape;
      requireDType(idx as TypeInfo, INTS, 'indices');
      const a = normAxis(axis, s.length);
      return [{ dtype: (x as TypeInfo).dtype, shape: [...s.slice(0, a), ...(idx as TypeInfo).shape, ...s.slice(a + 1)] }];
    },
    emit: simpleEmit('Gather', (a) => ({ axis: int(a.axis) })),
    decode: { onnx: 'Gather', read: (n) => ({ attrs: { axis: readInt(n, 'axis', 0) }, inputs: [0, 1] }) },
    // Scatter-add gy back: flatten the index dims into one axis, broadcast the indices over the
    // other axes, and ScatterElements(add) into zeros (repeated indices accumulate).
    vjp: (g, { inputs: [x, idx], gys: [gy], attrs: { axis } }) => {
      if (!gy) return [null, null];
      const vx = x as Value;
      const vi = idx as Value;
      const a = normAxis(axis, vx.shape.length);
      const flatShape = [...vx.shape.slice(0, a), dimProduct(vi.shape), ...vx.shape.slice(a + 1)];
      const gyFlat = g.Reshape(gy, flatShape);
      const idxShape = flatShape.map((_, i) => (i === a ? -1 : 1));
      const idxB = g.Expand(g.Reshape(vi, idxShape), flatShape);
      return [g.ScatterElements(g.zerosLike(vx), idxB, gyFlat, a, 'add'), null];
    },
  } satisfies OpRule<'Gather'>,

  GatherElements: {
    arity: 2,
    shape: ([x, idx], { axis }) => {
      const [tx, ti] = [x as TypeInfo, idx as TypeInfo];
      requireDType(ti, INTS, 'indices');
      if (tx.shape.length !== ti.shape.length) fail(`data ${fmtDims(tx.shape)} and indices ${fmtDims(ti.shape)} must have the same rank`);
      normAxis(axis, tx.shape.length);
      return [{ dtype: tx.dtype, shape: ti.shape }];
    },
    emit: simpleEmit('GatherElements', (a) => ({ axis: int(a.axis) })),
    decode: { onnx: 'GatherElements', read: (n) => ({ attrs: { axis: readInt(n, 'axis', 0) }, inputs: [0, 1] }) },
    vjp: (g, { inputs: [x, idx], gys: [gy], attrs: { axis } }) => [gy ? g.ScatterElements(g.zerosLike(x as Value), idx as Value, gy, axis, 'add') : null, null],
  } satisfies OpRule<'GatherElements'>,

  ScatterElements: {
    arity: 3,
    shape: ([data, idx, upd], { axis }) => {
      const [td, ti, tu] = [data as TypeInfo, idx as TypeInfo, upd as TypeInfo];
      requireDType(ti, INTS, 'indices');
      sameDType(td, tu);
      if (ti.shape.length !== td.shape.length || !ti.shape.every((d, i) => dimsAgree(d, tu.shape[i] as Dim))) {
        fail(`indices ${fmtDims(ti.shape)} and updates ${fmtDims(tu.shape)} must match, with the rank of data ${fmtDims(td.shape)}`);
      }
      normAxis(axis, td.shape.length);
      return [{ dtype: td.dtype, shape: td.shape }];
    },
    emit: simpleEmit('ScatterElements', (a) => ({ axis: int(a.axis), reduction: { str: a.reduction } })),
    decode: {
      onnx: 'ScatterElements',
      read: (n) => {
        const reduction = readStr(n, 'reduction', 'none');
        if (reduction !== 'none' && reduction !== 'add') bad(n, `reduction '${reduction}' is not supported`);
        return { attrs: { axis: readInt(n, 'axis', 0), reduction }, inputs: [0, 1, 2] };
      },
    },
    // Overwrite: positions written by `updates` take no gradient from `data`. Add: gy passes whole.
    vjp: (g, { inputs: [, idx, upd], gys: [gy], attrs: { axis, reduction } }) => {
      if (!gy) return [null, null, null];
      const vi = idx as Value;
      const dData = reduction === 'add' ? gy : g.ScatterElements(gy, vi, g.zerosLike(upd as Value), axis, 'none');
      return [dData, null, g.GatherElements(gy, vi, axis)];
    },
  } satisfies OpRule<'ScatterElements'>,

  TopK: {
    arity: [1, 2],
    shape: ([x, kIn], { k, axis }) => {
      const s = (x as TypeInfo).shape;
      requireDType(x as TypeInfo, [...FLOATS, ...INTS]);
      const a = normAxis(axis, s.length);
      const d = s[a] as Dim;
      if (typeof k === 'string') {
        if (kIn?.dtype !== 'int64' || kIn.shape.length !== 1 || kIn.shape[0] !== 1) fail('a symbolic k needs its value as an int64 [1] second input');
        if (k.length === 0) fail('the symbol naming the output size must be non-empty');
      } else {
        if (kIn) fail('a static k takes no second input');
        if (!Number.isInteger(k) || k < 1 || (typeof d === 'number' && k > d)) fail(`k must be in [1, ${d}], got ${k}`);
      }
      const out = s.map((v, i) => (i === a ? k : v));
      return [
        { dtype: (x as TypeInfo).dtype, shape: out },
        { dtype: 'int64', shape: out },
      ];
    },
    emit: (ctx, { inputs, outputs, attrs }) => {
      const kName = typeof attrs.k === 'number' ? ctx.constant(int64s([attrs.k])) : (inputs[1] as string);
      ctx.node('TopK', [inputs[0] as string, kName], outputs, { axis: int(attrs.axis), largest: int(attrs.largest), sorted: int(1) });
    },
    decode: {
      onnx: 'TopK',
      read: (n) => {
        const attrs = { axis: readInt(n, 'axis', -1), largest: readInt(n, 'largest', 1) === 1 };
        if (readInt(n, 'sorted', 1) !== 1) bad(n, 'sorted=0 is not supported');
        const k = n.constantInput(1);
        return k ? { attrs: { k: Number(k.data[0]), ...attrs }, inputs: [0] } : { attrs: { k: `${n.name || 'topk'}_k`, ...attrs }, inputs: [0, 1] };
      },
    },
    // The values are differentiable (scattered back to where they came from); the indices are not.
    vjp: (g, { inputs: [x], outputs: [, indices], gys: [gv], attrs: { axis } }) => [
      gv ? g.ScatterElements(g.zerosLike(x as Value), indices as Value, gv, axis, 'add') : null,
      null,
    ],
  } satisfies OpRule<'TopK'>,

  ArgMax: {
    arity: 1,
    shape: ([x], { axis, keepdims }) => {
      const s = (x as TypeInfo).shape;
      const a = normAxis(axis, s.length);
      return [{ dtype: 'int64', shape: keepdims ? s.map((d, i) => (i === a ? 1 : d)) : s.filter((_, i) => i !== a) }];
    },
    emit: simpleEmit('ArgMax', (a) => ({ axis: int(a.axis), keepdims: int(a.keepdims), select_last_index: int(0) })),
    decode: {
      onnx: 'ArgMax',
      read: (n) => {
        if (readInt(n, 'select_last_index', 0) !== 0) bad(n, 'select_last_index=1 is not supported');
        return { attrs: { axis: readInt(n, 'axis', 0), keepdims: readInt(n, 'keepdims', 1) === 1 }, inputs: [0] };
      },
    },
    vjp: noGrad,
  } satisfies OpRule<'ArgMax'>,
} satisfies Partial<OpTable>;
