/**
 * The only module that imports `ndarray` / `ndarray-ops` (CommonJS, loosely typed). Host-side
 * bookkeeping — picking channels for a merge, permuting axes, per-channel scaling — goes through
 * these typed helpers; heavy math runs in ONNX Runtime.
 */
import ndarray from 'ndarray';
import ops from 'ndarray-ops';
import { fmtDims, ShapeError } from './errors.js';
import { allocate, type DType, numel, type Tensor } from './tensor.js';

type NumericDType = Exclude<DType, 'int64'>;
type View = ndarray.NdArray<ndarray.TypedArray>;

function view(t: Tensor<NumericDType>): View {
  return ndarray(t.data as ndarray.TypedArray, [...t.dims]);
}

function fresh<T extends NumericDType>(type: T, dims: readonly number[]): { t: Tensor<T>; v: View } {
  const t: Tensor<T> = { type, dims: [...dims], data: allocate(type, numel(dims)) };
  return { t, v: view(t) };
}

function checkAxis(where: string, t: Tensor, axis: number): number {
  const a = axis < 0 ? axis + t.dims.length : axis;
  if (!Number.isInteger(a) || a < 0 || a >= t.dims.length) {
    throw new ShapeError(where, `axis ${axis} out of range for rank ${t.dims.length} ${fmtDims(t.dims)}`);
  }
  return a;
}

/**
 * Keeps the given indices along `axis`, in the given order: `[…, n, …] → […, idx.length, …]`.
 * The core of channel slicing (`sliceOut` / `sliceIn`).
 */
export function takeAlong<T extends NumericDType>(t: Tensor<T>, axis: number, idx: ArrayLike<number>): Tensor<T> {
  const a = checkAxis('takeAlong', t, axis);
  const n = t.dims[a] as number;
  for (let i = 0; i < idx.length; i++) {
    const j = idx[i] as number;
    if (!Number.isInteger(j) || j < 0 || j >= n) {
      throw new ShapeError('takeAlong', `index ${j} at position ${i} out of range [0, ${n}) on axis ${a} of ${fmtDims(t.dims)}`);
    }
  }
  const dims = t.dims.map((d, i) => (i === a ? idx.length : d));
  const src = view(t);
  const { t: out, v: dst } = fresh(t.type, dims);
  const pick = (arr: View, i: number): View => arr.pick(...t.dims.map((_, k) => (k === a ? i : null)));
  for (let i = 0; i < idx.length; i++) ops.assign(pick(dst, i), pick(src, idx[i] as number));
  return out;
}

/** Permutes axes (copy): `out.dims[i] = t.dims[perm[i]]`. */
export function permute<T extends NumericDType>(t: Tensor<T>, perm: readonly number[]): Tensor<T> {
  const ok = perm.length === t.dims.length && [...perm].sort((x, y) => x - y).every((p, i) => p === i);
  if (!ok) throw new ShapeError('permute', `perm ${fmtDims(perm)} is not a permutation of rank ${t.dims.length}`);
  const { t: out, v } = fresh(
    t.type,
    perm.map((p) => t.dims[p] as number),
  );
  ops.assign(v, view(t).transpose(...perm));
  return out;
}

/** Multiplies every slice `i` along `axis` by `s[i]` (copy); e.g. folding BN scale into conv filters. */
export function scaleAlong<T extends 'float32' | 'float64'>(t: Tensor<T>, axis: number, s: ArrayLike<number>): Tensor<T> {
  const a = checkAxis('scaleAlong', t, axis);
  if (s.length !== t.dims[a]) {
    throw new ShapeError('scaleAlong', `scale has ${s.length} entries, axis ${a} of ${fmtDims(t.dims)} has ${t.dims[a]}`);
  }
  const { t: out, v: dst } = fresh(t.type, t.dims);
  const src = view(t);
  for (let i = 0; i < s.length; i++) {
    const sel = t.dims.map((_, k) => (k === a ? i : null));
    ops.muls(dst.pick(...sel), src.pick(...sel), s[i] as number);
  }
  return out;
}

/** Sum of |x| over every slice along `axis` (e.g. L1 norm of each conv filter). Float64 result. */
export function l1Along(t: Tensor<NumericDType>, axis: number): Float64Array {
  const a = checkAxis('l1Along', t, axis);
  const src = view(t);
  const out = new Float64Array(t.dims[a] as number);
  for (let i = 0; i < out.length; i++) {
    out[i] = ops.norm1(src.pick(...t.dims.map((_, k) => (k === a ? i : null))));
  }
  return out;
}

/** Euclidean norm of every slice along `axis` (ResRep's compactor row norms). Float64 result. */
export function l2Along(t: Tensor<NumericDType>, axis: number): Float64Array {
  const a = checkAxis('l2Along', t, axis);
  const src = view(t);
  const out = new Float64Array(t.dims[a] as number);
  for (let i = 0; i < out.length; i++) {
    out[i] = ops.norm2(src.pick(...t.dims.map((_, k) => (k === a ? i : null))));
  }
  return out;
}
