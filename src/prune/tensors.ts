/** Host-side helpers shared by the pruning functions: dtype checks and float64 work copies. */
import { DTypeError, fmtDims, ShapeError } from '../tensor/errors.js';
import type { Tensor } from '../tensor/tensor.js';

export type FloatTensor = Tensor<'float32'> | Tensor<'float64'>;

/** Throws DTypeError unless `t` is a float32/float64 Tensor; returns it typed. */
export function floatTensor(where: string, arg: string, t: unknown): FloatTensor {
  const x = t as Tensor;
  if (!x || typeof x !== 'object' || !Array.isArray(x.dims) || !(x.data instanceof Float32Array || x.data instanceof Float64Array)) {
    throw new DTypeError(where, `${arg} must be a float32 or float64 Tensor, got ${x && typeof x === 'object' ? String(x.type) : typeof x}`);
  }
  if (x.type !== 'float32' && x.type !== 'float64') throw new DTypeError(where, `${arg} must be float32 or float64, got ${x.type}`);
  let n = 1;
  for (const d of x.dims) n *= d;
  if (n !== x.data.length) throw new ShapeError(where, `${arg} has ${x.data.length} values but dims ${fmtDims(x.dims)}`);
  return x as FloatTensor;
}

/** Throws ShapeError unless `t` is 1-D of length `n`. */
export function vectorOf(where: string, arg: string, t: unknown, n: number): FloatTensor {
  const v = floatTensor(where, arg, t);
  if (v.dims.length !== 1 || v.dims[0] !== n) throw new ShapeError(where, `${arg} must be [${n}], got ${fmtDims(v.dims)}`);
  return v;
}

/** A tensor of `like`'s dtype holding `data` (float64 values rounded to float32 when `like` is float32). */
export function fromF64(like: { readonly type: 'float32' | 'float64' }, dims: readonly number[], data: Float64Array): FloatTensor {
  return like.type === 'float64' ? { type: 'float64', dims: [...dims], data } : { type: 'float32', dims: [...dims], data: Float32Array.from(data) };
}

/** Float64 copy of the values. */
export function f64(t: { readonly data: Float32Array | Float64Array }): Float64Array {
  return Float64Array.from(t.data);
}

/** Product of dims after the first: the row length of a [D, …] weight. */
export function rowLength(dims: readonly number[]): number {
  let n = 1;
  for (let i = 1; i < dims.length; i++) n *= dims[i] as number;
  return n;
}

/** Throws ShapeError if any value is NaN or ±Inf; names the first bad index. */
export function assertFinite(where: string, arg: string, data: ArrayLike<number>): void {
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i] as number)) throw new ShapeError(where, `${arg} must be finite, got ${data[i]} at index ${i}`);
  }
}
