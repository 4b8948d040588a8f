/**
 * The safetensors format (https://github.com/huggingface/safetensors, README "Format"):
 *
 *   [8 bytes: N, u64 little-endian] [N bytes: UTF-8 JSON header, starts with "{", may be padded
 *   with spaces] [data buffer]
 *
 * header = { "<name>": { "dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end] }, …,
 *            "__metadata__"?: { "<key>": "<string>" } }
 *
 * Offsets are relative to the data buffer; the tensors must cover it exactly (no holes, no
 * overlap, nothing after). Data is row-major and little-endian. This file holds what the encoder
 * and the decoder share.
 */
import type { DType } from '../tensor/tensor.js';

/**
 * Our dtypes with their safetensors codes. Listed in the order the reference writer lays the data
 * buffer out (descending alignment, then name), so that after an 8-byte-padded header every tensor
 * in a file we write starts at a multiple of its element size, and our bytes match the reference's.
 */
export const FORMATS = {
  int64: { code: 'I64', size: 8, ctor: BigInt64Array },
  float64: { code: 'F64', size: 8, ctor: Float64Array },
  float32: { code: 'F32', size: 4, ctor: Float32Array },
  int32: { code: 'I32', size: 4, ctor: Int32Array },
  uint8: { code: 'U8', size: 1, ctor: Uint8Array },
  bool: { code: 'BOOL', size: 1, ctor: Uint8Array },
} as const satisfies Record<DType, { code: string; size: number; ctor: unknown }>;

/** Data-buffer order: index in this list, then the UTF-8 bytes of the name. */
export const LAYOUT_ORDER = Object.keys(FORMATS) as DType[];

export const DTYPE_BY_CODE: ReadonlyMap<string, DType> = new Map(LAYOUT_ORDER.map((t) => [FORMATS[t].code, t]));

export const SUPPORTED_CODES = LAYOUT_ORDER.map((t) => FORMATS[t].code).join(', ');

/** The reference implementation refuses larger headers; so do we, before allocating anything. */
export const MAX_HEADER_BYTES = 100_000_000;

/** The reserved header key for the string → string metadata map. */
export const METADATA_KEY = '__metadata__';

/** Files are little-endian; TypedArrays use the host's order. Only big-endian hosts pay a swap. */
export const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Reverses the bytes of each `size`-byte element in place (little ↔ big endian). */
export function swapBytes(bytes: Uint8Array, size: number): void {
  if (size === 1) return;
  for (let i = 0; i + size <= bytes.length; i += size) bytes.subarray(i, i + size).reverse();
}

/** A dimension or offset: a safe non-negative integer (not -0, which JSON can spell). */
export function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && !Object.is(v, -0);
}

/** Defines an own enumerable property, so a tensor named `__proto__` is data, not a prototype. */
export function setOwn<V>(target: Record<string, V>, key: string, value: V): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** A short JSON rendering of an offending header value for error messages. */
export function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

export const utf8 = new TextEncoder();

/** Byte-wise comparison of UTF-8 encodings: Rust's `String` order, which the reference sorts by. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return (a[i] as number) - (b[i] as number);
  return a.length - b.length;
}
