import { fmtDims } from '../../tensor/errors.js';
import { scalar } from '../../tensor/tensor.js';
import { dimFactors, dimProduct, fail, normAxis } from '../shape.js';
import type { Dim, OpRule, OpTable, TypeInfo, Value } from '../types.js';
import { noGrad } from '../types.js';
import { bad, constInts, emitWithInts, int, ints, range, readInt, readInts, simpleEmit } from './helpers.js';

/** Resolves a Reshape target (0 = copy, −1 = infer, symbols kept) against the input shape. */
export function reshapeTarget(input: readonly Dim[], target: readonly Dim[]): Dim[] {
  const out = target.map((d, i) => {
    if (d === 0) return i < input.length ? (input[i] as Dim) : fail(`0 at position ${i} copies a dim the input ${fmtDims(input)} lacks`);
    if (typeof d === 'number' && (!Number.isInteger(d) || d < -1)) fail(`target dims must be >= -1, got ${fmtDims(target)}`);
    return d;
  });
  const holes = out.filter((d) => d === -1).length;
  if (holes > 1) fail(`at most one -1 allowed, got ${fmtDims(target)}`);
  const known = out.filter((d) => d !== -1);
  // Cancel symbols and sizes the two sides share, factor by factor: [B,50,96] → [-1,96] leaves
  // (B*50), and [(B*50),96] → [-1,50,96] leaves B.
  const rest = input.flatMap(dimFactors);
  const unmatched: Dim[] = [];
  for (const d of known.flatMap(dimFactors)) {
    const at = rest.indexOf(d);
    if (at >= 0) rest.splice(at, 1);
    else unmatched.push(d);
  }
  const restNum = rest.filter((d): d is number => typeof d === 'number').reduce((p, d) => p * d, 1);
  const unNum = unmatched.filter((d): d is number => typeof d === 'number').reduce((p, d) => p * d, 1);
  const restSym = rest.filter((d) => typeof d === 'string');
  const unSym = unmatched.filter((d) => typeof d === 'string');
  if (holes === 1) {
    let inferred: Dim;
    if (unSym.length === 0 && restNum % unNum === 0) inferred = dimProduct([...restSym, restNum / unNum]);
    else inferred = `(${fmtDims(input)}/${fmtDims(known)})`;
    return out.map((d) => (d === -1 ? inferred : d));
  }
  if (unSym.length === 0 && restSym.length === 0 && restNum !== unNum) {
    fail(`cannot reshape ${fmtDims(input)} (${dimProduct(input)} elements) to ${fmtDims(target)}`);
  }
  return out;
}

export const shapeOps = {
  Transpose: {
    arity: 1,
    shape: ([x], { perm }) => {
      const s = (x as TypeInfo).shape;
      const ok = perm.length === s.length && [...perm].sort((a, b) => a - b).every((p, i) => p === i);
      if (!ok) fail(`perm ${fmtDims(perm)} is not a permutation of rank ${s.length}`);
      return [{ dtype: (x as TypeInfo).dtype, shape: perm.map((p) => s[p] as Dim) }];
    },
    emit: simpleEmit('Transpose', (a) => ({ perm: ints(a.perm) })),
    decode: { onnx: 'Transpose', read: (n) => ({ attrs: { perm: readInts(n, 'perm', range(n.inputType(0)?.shape.length ?? 0).reverse()) }, inputs: [0] }) },
    vjp: (g, { gys: [gy], attrs: { perm } }) => {
      if (!gy) return [null];
      const inv = new Array<number>(perm.length);
      perm.forEach((p, i) => {
        inv[p] = i;
      });
      // gy = Transpose(s, perm) (MatMul's VJP makes these): transposing back is s itself.
      const src = gy.source;
      if (src.kind === 'node' && src.node.op === 'Transpose' && (src.node.attrs as { perm: readonly number[] }).perm.every((p, i) => p === perm[i])) {
        return [src.node.inputs[0] as Value];
      }
      return [g.Transpose(gy, inv)];
    },
  } satisfies OpRule<'Transpose'>,

  Reshape: {
    arity: 1,
    shape: ([x], { shape }) => [{ dtype: (x as TypeInfo).dtype, shape: reshapeTarget((x as TypeInfo).shape, shape) }],
    emit: (ctx, { inputs, outputs, attrs, inputTypes }) => {
      const [x] = inputs as [string];
      ctx.node('Reshape', [x, ctx.shape(attrs.shape, 'reshape', { name: x, shape: (inputTypes[0] as TypeInfo).shape })], outputs);
    },
    decode: {
      onnx: 'Reshape',
      read: (n) => {
        if (readInt(n, 'allowzero', 0) !== 0) bad(n, 'allowzero=1 is not supported');
        return { attrs: { shape: constInts(n, 1, 'shape') }, inputs: [0] };
      },
    },
    vjp: (g, { inputs: [x], gys: [gy] }) => [gy ? g.Reshape(gy, (x as Value).shape) : null],
  } satisfies OpRule<'Reshape'>,

  Flatten: {
    arity: 1,
    shape: ([x], { axis }) => {
      const s = (x as TypeInfo).shape;
      const a = axis < 0 ? axis + s.length : axis;
      if (a < 0 || a > s.length) fail(`axis ${axis} out of range [0, ${s.length}]`);
      return [{ dtype: (x as TypeInfo).dtype, shape: [dimProduct(s.slice(0, a)), dimProduct(s.slice(a))] }];
    },
    emit: simpleEmit('Flatten', (a) => ({ axis: int(a.axis) })),
    decode: { onnx: 'Flatten', read: (n) => ({ attrs: { axis: readInt(n, 'axis', 1) }, inputs: [0] }) },
    vjp: (g, { inputs: [x], gys: [gy] }) => [gy ? g.Reshape(gy, (x as Value).shape) : null],
  } satisfies OpRule<'Flatten'>,

  Unsqueeze: {
    arity: 1,
    shape: ([x], { axes }) => {
      const s = (x as TypeInfo).shape;
      const rank = s.length + axes.length;
      const at = new Set(axes.map((a) => normAxis(a, rank)));
      if (at.size !== axes.length) fail(`axes ${fmtDims(axes)} repeat`);
      const out: Dim[] = [];
      let k = 0;
      for (let i = 0; i < rank; i++) out.push(at.has(i) ? 1 : (s[k++] as Dim));
      return [{ dtype: (x as TypeInfo).dtype, shape: out }];
    },
    emit: emitWithInts('Unsqueeze', (a) => [a.axes]),
    decode: { onnx: 'Unsqueeze', read: (n) => ({ attrs: { axes: constInts(n, 1, 'axes') }, inputs: [0] }) },
    vjp: (g, { outputs: [y], gys: [gy], attrs: { axes } }) => [
      gy
        ? g.Squeeze(
            gy,
            axes.map((a) => normAxis(a, (y as Value).shape.length)),
          )
        : null,
    ],
  } satisfies OpRule<'Unsqueeze'>,

  Squeeze: {
    arity: 1,
    shape: ([x], { axes }) => {
      const s = (x as TypeInfo).shape;
      if (axes.length === 0) fail('axes must be given (implicit squeeze of all 1-dims is not supported)');
      const at = new Set(axes.map((a) => normAxis(a, s.length)));
      for (const a of at) if (s[a] !== 1 && typeof s[a] === 'number') fail(`axis ${a} of ${fmtDims(s)} has size ${s[a]}, not 1`);
      return [{ dtype: (x as TypeInfo).dtype, shape: s.filter((_, i) => !at.has(i)) }];
    },
    emit: emitWithInts('Squeeze', (a) => [a.axes]),
    decode: { onnx: 'Squeeze', read: (n) => ({ attrs: { axes: constInts(n, 1, 'axes') }, inputs: [0] }) },
    vjp: (g, { inputs: [x], gys: [gy], attrs: { axes } }) => [
      gy
        ? g.Unsqueeze(
            gy,
            axes.map((a) => normAxis(a, (x as Value).shape.length)),
          )
        : null,
    ],
  } satisfies OpRule<'Squeeze'>,

  Expand: {
    arity: 1,
    shape: ([x], { shape }) => {
      const s = (x as TypeInfo).shape;
      const rank = Math.max(s.length, shape.length);
      const out: Dim[] = [];
      for (let i = 0; i < rank; i++) {
        const a = s[i - (rank - s.length)] ?? 1;
        const b = shape[i - (rank - shape.length)] ?? 1;
        if (a === b || b === 1) out.push(a);
        else if (a === 1 || typeof a === 'string') out.push(b);
        else if (typeof b === 'string') out.push(a);
        else fail(`cannot expand ${fmtDims(s)} to ${fmtDims(shape)}`);
      }
      return [{ dtype: (x as TypeInfo).dtype, shape: out }];
    },
    emit: (ctx, { inputs, outputs, outputTypes, inputTypes }) => {
      const [x] = inputs as [string];
      ctx.node('Expand', [x, ctx.shape((outputTypes[0] as TypeInfo).shape, 'expand', { name: x, shape: (inputTypes[0] as TypeInfo).shape })], outputs);
    },
    decode: { onnx: 'Expand', read: (n) => ({ attrs: { shape: constInts(n, 1, 'shape') }, inputs: [0] }) },
    vjp: (g, { inputs: [x], gys: [gy] }) => [gy ? g.sumTo(gy, (x as Value).shape) : null],
  } satisfies OpRule<'Expand'>,

  Shape: {
    arity: 1,
    shape: ([x]) => [{ dtype: 'int64', shape: [(x as TypeInfo).shape.length] }],
    emit: simpleEmit('Shape'),
    decode: {
      onnx: 'Shape',
      read: (n) => {
        if (n.attr('start') || n.attr('end')) bad(n, 'start/end are not supported');
        return { attrs: {}, inputs: [0] };
      },
    },
    vjp: noGrad,
  } satisfies OpRule<'Shape'>,

  ConstantOfShape: {
    arity: 0,
    shape: (_, { shape, dtype }) => [{ dtype, shape }],
    emit: (ctx, { outputs, attrs }) => {
      const v = { type: attrs.dtype, dims: [1], data: scalar(attrs.value, attrs.dtype).data } as const;
      ctx.node('ConstantOfShape', [ctx.shape(attrs.shape, 'exact')], outputs, { value: { tensor: v } });
    },
    decode: null, // decoded ONNX ConstantOfShape needs a constant shape: folded into a constant by the decoder
    vjp: noGrad,
  } satisfies OpRule<'ConstantOfShape'>,
} satisfies Partial<OpTable>;
