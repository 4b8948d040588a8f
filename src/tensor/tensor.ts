import { DTypeError, fmtDims, ShapeError, ValueError } from './errors.js';

/** Element types the library uses; names and TypedArrays follow onnxruntime-common. */
export interface DataTypeMap {
  float32: Float32Array;
  float64: Float64Array;
  int32: Int32Array;
  int64: BigInt64Array;
  uint8: Uint8Array;
  bool: Uint8Array;
}
export type DType = keyof DataTypeMap;
export type FloatDType = 'float32' | 'float64';

/**
 * A dense row-major tensor, structurally compatible with onnxruntime-common's `Tensor`
 * (`{ type, dims, data }`), so values pass to and from ORT without conversion or copy.
 */
export interface Tensor<T extends DType = DType> {
  readonly type: T;
  readonly dims: readonly number[];
  readonly data: DataTypeMap[T];
}

const CTORS = {
  float32: Float32Array,
  float64: Float64Array,
  int32: Int32Array,
  int64: BigInt64Array,
  uint8: Uint8Array,
  bool: Uint8Array,
} as const;

export const DTYPES = Object.keys(CTORS) as DType[];

export function isDType(x: unknown): x is DType {
  return typeof x === 'string' && Object.hasOwn(CTORS, x);
}

/** Number of elements of a shape (1 for a scalar). */
export function numel(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

function checkDims(where: string, dims: readonly number[]): void {
  for (const d of dims) {
    if (!Number.isInteger(d) || d < 0) {
      throw new ShapeError(where, `dims must be non-negative integers, got ${fmtDims(dims)}`);
    }
  }
}

function checkDType(where: string, type: unknown): void {
  if (!isDType(type)) throw new DTypeError(where, `type must be one of ${DTYPES.join(', ')}, got ${String(type)}`);
}

/** A number as an int64 element: truncated toward zero (as numpy's astype); NaN/±Inf refused. */
function toInt64(where: string, v: number): bigint {
  if (!Number.isFinite(v)) throw new ValueError(where, `cannot store ${v} in an int64 tensor`);
  return BigInt(Math.trunc(v));
}

/** Allocates zero-filled storage for `n` elements of `type`. */
export function allocate<T extends DType>(type: T, n: number): DataTypeMap[T] {
  return new CTORS[type](n) as DataTypeMap[T];
}

/** Which dtype a TypedArray stores (`Uint8Array` reads as `uint8`). */
export function dtypeOf(data: DataTypeMap[DType]): DType {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Float64Array) return 'float64';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof BigInt64Array) return 'int64';
  if (data instanceof Uint8Array) return 'uint8';
  throw new DTypeError('dtypeOf', `unsupported storage ${(data as object).constructor?.name}`);
}

/**
 * Wraps existing storage (no copy). `data.length` must equal the product of `dims`.
 * `tensor(new Float32Array([1, 2, 3, 4]), [2, 2])`.
 */
export function tensor<T extends DType>(data: DataTypeMap[T], dims: readonly number[], type?: T): Tensor<T> {
  checkDims('tensor', dims);
  const t = (type ?? dtypeOf(data)) as T;
  if (!(data instanceof CTORS[t])) {
    throw new DTypeError('tensor', `data for type ${t} must be ${CTORS[t].name}, got ${data.constructor.name}`);
  }
  if (data.length !== numel(dims)) {
    throw new ShapeError('tensor', `data has ${data.length} elements but dims ${fmtDims(dims)} need ${numel(dims)}`);
  }
  return { type: t, dims: [...dims], data };
}

/** `[...dims]` of `value`; bigint for int64. */
export function full<T extends DType>(dims: readonly number[], value: number, type: T): Tensor<T> {
  checkDims('full', dims);
  checkDType('full', type);
  const data = allocate(type, numel(dims));
  if (data instanceof BigInt64Array) data.fill(toInt64('full', value));
  else (data as Float32Array).fill(type === 'bool' ? Number(value !== 0) : value);
  return { type, dims: [...dims], data };
}

export function zeros<T extends DType = 'float32'>(dims: readonly number[], type: T = 'float32' as T): Tensor<T> {
  return full(dims, 0, type);
}

export function ones<T extends DType = 'float32'>(dims: readonly number[], type: T = 'float32' as T): Tensor<T> {
  return full(dims, 1, type);
}

/** 1-D `[start, start+step, …)` below `stop`, like `numpy.arange`. */
export function arange<T extends DType = 'float32'>(start: number, stop: number, step = 1, type: T = 'float32' as T): Tensor<T> {
  if (step === 0 || !Number.isFinite(step)) throw new ShapeError('arange', `step must be finite and non-zero, got ${step}`);
  if (!Number.isFinite(start) || !Number.isFinite(stop)) throw new ShapeError('arange', `start and stop must be finite, got ${start} and ${stop}`);
  checkDType('arange', type);
  const n = Math.max(0, Math.ceil((stop - start) / step));
  const data = allocate(type, n);
  for (let i = 0; i < n; i++) {
    const v = start + i * step;
    if (data instanceof BigInt64Array) data[i] = toInt64('arange', v);
    else (data as Float32Array)[i] = v;
  }
  return { type, dims: [n], data };
}

/** Scalar tensor (`dims: []`). */
export function scalar<T extends DType = 'float32'>(value: number, type: T = 'float32' as T): Tensor<T> {
  return full([], value, type);
}

/** Deep copy (storage included). */
export function clone<T extends DType>(t: Tensor<T>): Tensor<T> {
  return { type: t.type, dims: [...t.dims], data: t.data.slice() as DataTypeMap[T] };
}

/** Same storage, new dims; the element count must not change. */
export function reshape<T extends DType>(t: Tensor<T>, dims: readonly number[]): Tensor<T> {
  checkDims('reshape', dims);
  if (numel(dims) !== t.data.length) {
    throw new ShapeError('reshape', `cannot view ${fmtDims(t.dims)} (${t.data.length} elements) as ${fmtDims(dims)}`);
  }
  return { type: t.type, dims: [...dims], data: t.data };
}

/**
 * Converts storage to another dtype (copy). int64 ↔ float goes through Number; to bool, nonzero
 * becomes 1 (as ONNX Cast); other integer targets truncate and wrap as TypedArrays do.
 */
export function cast<T extends DType>(t: Tensor, type: T): Tensor<T> {
  checkDType('cast', type);
  const out = allocate(type, t.data.length);
  const src = t.data;
  if (out instanceof BigInt64Array) {
    for (let i = 0; i < src.length; i++) out[i] = typeof src[i] === 'bigint' ? (src[i] as bigint) : toInt64('cast', src[i] as number);
  } else if (type === 'bool') {
    for (let i = 0; i < src.length; i++) (out as Uint8Array)[i] = Number(src[i] !== 0 && src[i] !== 0n);
  } else if (src instanceof BigInt64Array) {
    for (let i = 0; i < src.length; i++) (out as Float64Array)[i] = Number(src[i]);
  } else {
    (out as Float64Array).set(src as Float64Array);
  }
  return { type, dims: [...t.dims], data: out };
}

/** Elements as plain numbers (int64 through Number). For tests and small host-side work. */
export function toNumbers(t: Tensor): number[] {
  return Array.from(t.data as ArrayLike<number | bigint>, Number);
}

/** Throws DTypeError unless `t` is one of `types`; `where`/`arg` name the caller. */
export function assertDType(where: string, arg: string, t: Tensor, ...types: DType[]): void {
  if (!types.includes(t.type)) {
    throw new DTypeError(where, `${arg} must be ${types.join(' or ')}, got ${t.type}`);
  }
}

/**
 * Throws ShapeError unless `t.dims` matches `expected`; `null` entries match any size.
 * `assertShape('patchEmbed', 'images', x, [null, 1, 28, 28])`.
 */
export function assertShape(where: string, arg: string, t: Tensor, expected: readonly (number | null)[]): void {
  const ok = t.dims.length === expected.length && expected.every((d, i) => d === null || d === t.dims[i]);
  if (!ok) {
    const want = expected.map((d) => (d === null ? '*' : d));
    throw new ShapeError(where, `${arg} must be ${fmtDims(want)} ${t.type}, got ${fmtDims(t.dims)} ${t.type}`);
  }
}
