import { fmtDims } from '../../tensor/errors.js';
import type { Graph } from '../builder.js';
import { broadcastShapes, dimsAgree, FLOATS, fail, requireDType, sameDType, shapesEqual } from '../shape.js';
import type { Dim, OpRule, OpTable, TypeInfo, Value } from '../types.js';
import { bad, float, int, readFloat, readInt, simpleEmit } from './helpers.js';

/** Swaps the last two axes. */
function transposeLast(g: Graph, x: Value): Value {
  const r = x.shape.length;
  const perm = Array.from({ length: r }, (_, i) => i);
  [perm[r - 2], perm[r - 1]] = [r - 1, r - 2];
  return g.Transpose(x, perm);
}

/** `x` itself when `v` = Transpose(x) swapping the last two axes (as attention's kᵀ is), else undefined. */
function swappedFrom(v: Value): Value | undefined {
  const src = v.source;
  if (src.kind !== 'node' || src.node.op !== 'Transpose') return undefined;
  const { perm } = src.node.attrs as { perm: readonly number[] };
  const r = perm.length;
  return r >= 2 && perm.every((p, i) => p === (i === r - 2 ? r - 1 : i === r - 1 ? r - 2 : i)) ? src.node.inputs[0] : undefined;
}

/**
 * Gradient of a rank-2 right operand `b` [K, N] when `a` is [..., M, K]: one GEMM over all leading
 * rows (aᵀ·gy with the batch flattened) instead of a batched product followed by a sum.
 */
function flatWeightGrad(g: Graph, a: Value, gy: Value): Value {
  const k = a.shape[a.shape.length - 1] as Dim;
  const n = gy.shape[gy.shape.length - 1] as Dim;
  return g.MatMul(g.Transpose(g.Reshape(a, [-1, k]), [1, 0]), g.Reshape(gy, [-1, n]));
}

export const linalgOps = {
  MatMul: {
    arity: 2,
    shape: ([a, b]) => {
      const [ta, tb] = [a as TypeInfo, b as TypeInfo];
      sameDType(ta, tb);
      requireDType(ta, FLOATS);
      if (ta.shape.length < 2 || tb.shape.length < 2) fail(`operands must have rank >= 2, got ${fmtDims(ta.shape)} x ${fmtDims(tb.shape)}`);
      const [m, k1] = ta.shape.slice(-2) as [Dim, Dim];
      const [k2, n] = tb.shape.slice(-2) as [Dim, Dim];
      if (!dimsAgree(k1, k2)) fail(`${fmtDims(ta.shape)} x ${fmtDims(tb.shape)}: inner dims ${k1} vs ${k2}`);
      const batch = broadcastShapes(ta.shape.slice(0, -2), tb.shape.slice(0, -2));
      return [{ dtype: ta.dtype, shape: [...batch, m, n] }];
    },
    emit: simpleEmit('MatMul'),
    decode: { onnx: 'MatMul', read: () => ({ attrs: {}, inputs: [0, 1] }) },
    vjp: (g, { inputs: [a, b], gys: [gy] }) => {
      if (!gy) return [null, null];
      const [va, vb] = [a as Value, b as Value];
      // An operand that is itself a transposed value (q·kᵀ) gets its gradient as (gyᵀ·a)ᵀ rather than
      // aᵀ·gy: the Transpose's own VJP then cancels the outer transpose (see shapeOps.Transpose), so
      // the transposed operand's source gets gyᵀ·a directly — one GEMM, no layout copies.
      const unbatched = (v: Value) => shapesEqual(v.shape.slice(0, -2), gy.shape.slice(0, -2));
      const da =
        swappedFrom(va) && unbatched(va) ? transposeLast(g, g.MatMul(vb, transposeLast(g, gy))) : g.sumTo(g.MatMul(gy, transposeLast(g, vb)), va.shape);
      const db =
        vb.shape.length === 2 && va.shape.length > 2
          ? flatWeightGrad(g, va, gy)
          : swappedFrom(vb) && unbatched(vb)
            ? transposeLast(g, g.MatMul(transposeLast(g, gy), va))
            : g.sumTo(g.MatMul(transposeLast(g, va), gy), vb.shape);
      return [da, db];
    },
  } satisfies OpRule<'MatMul'>,

  Gemm: {
    arity: [2, 3],
    shape: ([a, b, c], { transA, transB }) => {
      const [ta, tb] = [a as TypeInfo, b as TypeInfo];
      sameDType(ta, tb);
      requireDType(ta, FLOATS);
      if (ta.shape.length !== 2 || tb.shape.length !== 2) fail(`A and B must be 2-D, got ${fmtDims(ta.shape)} and ${fmtDims(tb.shape)}`);
      const [m, k1] = (transA ? [ta.shape[1], ta.shape[0]] : ta.shape) as [Dim, Dim];
      const [k2, n] = (transB ? [tb.shape[1], tb.shape[0]] : tb.shape) as [Dim, Dim];
      if (!dimsAgree(k1, k2)) fail(`op(A) ${fmtDims([m, k1])} x op(B) ${fmtDims([k2, n])}: inner dims ${k1} vs ${k2}`);
      if (c) {
        sameDType(ta, c);
        const out = broadcastShapes([m, n], c.shape);
        if (out.length !== 2 || !dimsAgree(out[0] as Dim, m) || !dimsAgree(out[1] as Dim, n))
          fail(`C ${fmtDims(c.shape)} does not broadcast to ${fmtDims([m, n])}`);
      }
      return [{ dtype: ta.dtype, shape: [m, n] }];
    },
    emit: simpleEmit('Gemm', (a) => ({ transA: int(a.transA), transB: int(a.transB), alpha: float(a.alpha), beta: float(a.beta) })),
    decode: {
      onnx: 'Gemm',
      read: (node) => {
        if (node.inputs.length > 3) bad(node, 'expects at most 3 inputs');
        const inputs = node.inputs.length === 3 && node.inputs[2] !== '' ? [0, 1, 2] : [0, 1];
        return {
          attrs: {
            transA: readInt(node, 'transA', 0) === 1,
            transB: readInt(node, 'transB', 0) === 1,
            alpha: readFloat(node, 'alpha', 1),
            beta: readFloat(node, 'beta', 1),
          },
          inputs,
        };
      },
    },
    // Y = α·op(A)·op(B) + β·C, every gradient again one Gemm:
    // dA = α·gy·op(B)ᵀ (transposed back when transA), dB = α·op(A)ᵀ·gy (likewise), dC = β·Σ gy.
    vjp: (g, { inputs: [a, b, c], gys: [gy], attrs: { transA, transB, alpha, beta } }) => {
      if (!gy) return [null, null, null];
      const [va, vb] = [a as Value, b as Value];
      const da = transA ? g.Gemm(vb, gy, undefined, { transA: transB, transB: true, alpha }) : g.Gemm(gy, vb, undefined, { transB: !transB, alpha });
      const db = transB ? g.Gemm(gy, va, undefined, { transA: true, transB: transA, alpha }) : g.Gemm(va, gy, undefined, { transA: !transA, alpha });
      return [da, db, c ? g.sumTo(beta === 1 ? gy : g.scale(gy, beta), c.shape) : null];
    },
  } satisfies OpRule<'Gemm'>,
} satisfies Partial<OpTable>;
