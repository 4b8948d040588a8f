import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { DTypeError, fmtDims, ShapeError } from '../tensor/errors.js';
import { assertDataset, type Dataset, type FromArraysOptions } from './dataset.js';
import { DataFormatError } from './errors.js';

/**
 * IDX (LeCun's MNIST format): bytes 0–1 are zero, byte 2 the element type, byte 3 the rank r, then
 * r big-endian uint32 dims, then the elements row-major. Only type 0x08 (unsigned byte) is read or
 * written: that is what image and label files use. Gzipped files (`*.gz`, magic 1f 8b) are
 * inflated first.
 */
export interface IdxArray {
  readonly dims: readonly number[];
  readonly data: Uint8Array;
}

const TYPE_NAMES: Record<number, string> = { 8: 'ubyte', 9: 'byte', 11: 'int16', 12: 'int32', 13: 'float32', 14: 'float64' };

/**
 * Parses an IDX file given as bytes or as a path (read synchronously). The returned `data` is a
 * Uint8Array view of the (inflated) bytes, `dims.reduce(×)` elements long.
 * Throws DataFormatError (magic, truncation, trailing bytes, bad gzip) or DTypeError (not ubyte).
 */
export function readIdx(source: Uint8Array | string): IdxArray {
  const where = 'readIdx';
  const name = typeof source === 'string' ? ` '${source}'` : '';
  let bytes = typeof source === 'string' ? readFileSync(source) : source;
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = gunzipSync(bytes);
    } catch (e) {
      throw new DataFormatError(where, `file${name} looks gzipped but does not inflate: ${(e as Error).message}`);
    }
  }
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0) {
    const head = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
    throw new DataFormatError(where, `file${name} is not IDX: expected magic 00 00 <type> <rank>, got ${head || 'no bytes'}`);
  }
  const type = bytes[2] as number;
  const rank = bytes[3] as number;
  if (type !== 0x08) {
    throw new DTypeError(where, `file${name} holds ${TYPE_NAMES[type] ?? `unknown type 0x${type.toString(16)}`} elements; only ubyte (0x08) is supported`);
  }
  const header = 4 + 4 * rank;
  if (rank === 0 || bytes.length < header) throw new DataFormatError(where, `file${name}: header of rank ${rank} needs ${header} bytes, got ${bytes.length}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  let count = 1;
  for (let k = 0; k < rank; k++) {
    const d = view.getUint32(4 + 4 * k, false);
    dims.push(d);
    count *= d;
  }
  if (bytes.length !== header + count) {
    const what = bytes.length < header + count ? 'truncated' : 'has trailing bytes';
    throw new DataFormatError(where, `file${name} ${what}: dims ${fmtDims(dims)} need ${header + count} bytes, got ${bytes.length}`);
  }
  return { dims, data: new Uint8Array(bytes.buffer, bytes.byteOffset + header, count) }; // a plain Uint8Array even over a Buffer
}

/** Encodes ubyte elements with `dims` as IDX bytes (the inverse of `readIdx`). */
export function writeIdx(data: Uint8Array, dims: readonly number[]): Uint8Array {
  if (dims.length === 0 || dims.length > 255 || dims.some((d) => !Number.isInteger(d) || d < 0 || d > 0xffffffff)) {
    throw new ShapeError('writeIdx', `dims must be 1…255 uint32 values, got ${fmtDims(dims)}`);
  }
  const count = dims.reduce((a, b) => a * b, 1);
  if (data.length !== count) throw new ShapeError('writeIdx', `data has ${data.length} bytes but dims ${fmtDims(dims)} need ${count}`);
  const out = new Uint8Array(4 + 4 * dims.length + count);
  const view = new DataView(out.buffer);
  out[2] = 0x08;
  out[3] = dims.length;
  for (const [k, d] of dims.entries()) view.setUint32(4 + 4 * k, d, false);
  out.set(data, 4 + 4 * dims.length);
  return out;
}

/**
 * A Dataset from an IDX image file ([n, h, w] → c = 1, or [n, c, h, w]) and an IDX label file ([n]),
 * each given as bytes or a path (e.g. the official `train-images-idx3-ubyte.gz`). Images are copied
 * once; `classes` defaults to max(label) + 1.
 */
export function idxDataset(images: Uint8Array | string, labels: Uint8Array | string, opts: Omit<FromArraysOptions, 'layout'> = {}): Dataset {
  const where = 'idxDataset';
  const im = readIdx(images);
  const lb = readIdx(labels);
  if (im.dims.length !== 3 && im.dims.length !== 4) throw new ShapeError(where, `images must be [n, h, w] or [n, c, h, w], got ${fmtDims(im.dims)}`);
  if (lb.dims.length !== 1) throw new ShapeError(where, `labels must be [n], got ${fmtDims(lb.dims)}`);
  const [n, ...rest] = im.dims as [number, ...number[]];
  if (lb.dims[0] !== n) throw new ShapeError(where, `images hold ${n} items but labels hold ${lb.dims[0]}`);
  const [c, h, w] = (rest.length === 2 ? [1, ...rest] : rest) as [number, number, number];
  let max = -1;
  for (const v of lb.data) if (v > max) max = v;
  const ds: Dataset = {
    images: im.data.slice(), // copies: the Dataset never aliases the caller's bytes
    labels: lb.data.slice(),
    n,
    shape: { c, h, w },
    classes: opts.classes ?? max + 1,
    ...(opts.classNames ? { classNames: opts.classNames } : {}),
    ...(opts.norm ? { norm: opts.norm } : {}),
  };
  assertDataset(where, ds);
  return ds;
}
