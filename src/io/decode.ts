/**
 * safetensors decoding with full validation. Every check runs on the header before any tensor
 * storage is allocated, and every allocation is bounded by the input's length, so hostile input
 * costs at most a copy of itself and never hangs.
 */
import { CheckpointError, fmtDims, ValueError } from '../tensor/errors.js';
import type { DataTypeMap, DType, Tensor } from '../tensor/tensor.js';
import { DTYPE_BY_CODE, FORMATS, HOST_IS_LITTLE_ENDIAN, isCount, MAX_HEADER_BYTES, METADATA_KEY, SUPPORTED_CODES, setOwn, show, swapBytes } from './format.js';
import { findDuplicateKey, isPlainObject } from './json.js';

/** A decoded safetensors file: tensors by name and the `__metadata__` map (`{}` when absent). */
export interface Safetensors {
  readonly tensors: Record<string, Tensor>;
  readonly metadata: Record<string, string>;
}

interface Entry {
  readonly name: string;
  readonly type: DType;
  readonly dims: number[];
  readonly begin: number;
  readonly end: number;
}

/** Where an error is reported: the public function and, when reading a file, its path. */
interface Ctx {
  readonly where: string;
  readonly file?: string | undefined;
}

function bad(ctx: Ctx, what: string): CheckpointError {
  return new CheckpointError(ctx.where, ctx.file === undefined ? what : `${ctx.file}: ${what}`);
}

/**
 * Parses safetensors bytes into tensors that own their storage (copied out, so a tensor at an
 * unaligned offset still gets an aligned Float32Array/BigInt64Array, and `bytes` can be reused).
 * Accepts F64, F32, I64, I32, U8 and BOOL; any other dtype, and any malformed input — truncated,
 * header length past the end or above 100 MB, invalid UTF-8 or JSON, duplicate keys, non-integer
 * dims, shape × dtype size ≠ offset span, offsets out of bounds, overlapping or leaving bytes
 * unused, BOOL bytes other than 0/1 — throws CheckpointError naming the tensor and the problem.
 */
export function decodeSafetensors(bytes: Uint8Array): Safetensors {
  return decodeIn(bytes, { where: 'decodeSafetensors' });
}

/** `decodeSafetensors` reporting errors as `where` (and `file`, when given). */
export function decodeIn(bytes: Uint8Array, ctx: Ctx): Safetensors {
  if (!(bytes instanceof Uint8Array)) throw new ValueError(ctx.where, `bytes must be a Uint8Array, got ${show(bytes)}`);
  const { header, dataStart } = readHeader(bytes, ctx);
  const dataLength = bytes.byteLength - dataStart;
  const metadata = readMetadata(header[METADATA_KEY], ctx);
  const entries: Entry[] = [];
  for (const [name, info] of Object.entries(header)) if (name !== METADATA_KEY) entries.push(readEntry(name, info, dataLength, ctx));
  checkCoverage(entries, dataLength, ctx);
  const tensors: Record<string, Tensor> = {};
  for (const e of entries) setOwn(tensors, e.name, materialize(bytes.subarray(dataStart + e.begin, dataStart + e.end), e, ctx));
  return { tensors, metadata };
}

function readHeader(bytes: Uint8Array, ctx: Ctx): { header: Record<string, unknown>; dataStart: number } {
  if (bytes.byteLength < 8) throw bad(ctx, `input is ${bytes.byteLength} bytes; a safetensors file starts with an 8-byte header length`);
  const n64 = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (n64 > BigInt(MAX_HEADER_BYTES)) throw bad(ctx, `header length ${n64} is above the ${MAX_HEADER_BYTES}-byte limit`);
  const n = Number(n64);
  if (8 + n > bytes.byteLength) throw bad(ctx, `header length ${n} runs past the end of the ${bytes.byteLength}-byte input`);
  if (n === 0 || bytes[8] !== 0x7b) throw bad(ctx, 'header must be a JSON object starting with "{"');
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n));
  } catch {
    throw bad(ctx, 'header is not valid UTF-8');
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    throw bad(ctx, `header is not valid JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  if (!isPlainObject(header)) throw bad(ctx, `header must be a JSON object, got ${show(header)}`);
  const dup = findDuplicateKey(text);
  if (dup !== undefined) throw bad(ctx, `header has the key ${JSON.stringify(dup)} twice`);
  return { header, dataStart: 8 + n };
}

function readMetadata(v: unknown, ctx: Ctx): Record<string, string> {
  const out: Record<string, string> = {};
  if (v === undefined) return out;
  if (!isPlainObject(v)) throw bad(ctx, `${METADATA_KEY} must be an object of strings, got ${show(v)}`);
  for (const [k, x] of Object.entries(v)) {
    if (typeof x !== 'string') throw bad(ctx, `${METADATA_KEY}[${JSON.stringify(k)}] must be a string, got ${show(x)}`);
    setOwn(out, k, x);
  }
  return out;
}

function readEntry(name: string, info: unknown, dataLength: number, ctx: Ctx): Entry {
  const at = `tensor ${JSON.stringify(name)}`;
  if (!isPlainObject(info)) throw bad(ctx, `${at}: entry must be {"dtype", "shape", "data_offsets"}, got ${show(info)}`);
  const extra = Object.keys(info).find((k) => k !== 'dtype' && k !== 'shape' && k !== 'data_offsets');
  if (extra !== undefined) throw bad(ctx, `${at}: unexpected field ${JSON.stringify(extra)}`);
  const { dtype, shape, data_offsets: offsets } = info;
  const type = typeof dtype === 'string' ? DTYPE_BY_CODE.get(dtype) : undefined;
  if (type === undefined) throw bad(ctx, `${at}: dtype ${show(dtype)} is not supported (supported: ${SUPPORTED_CODES})`);
  if (!Array.isArray(shape) || !shape.every(isCount)) throw bad(ctx, `${at}: shape must be an array of non-negative integers, got ${show(shape)}`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
    throw bad(ctx, `${at}: data_offsets must be [begin, end] with non-negative integers, got ${show(offsets)}`);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end || end > dataLength) throw bad(ctx, `${at}: data_offsets [${begin}, ${end}] are outside the ${dataLength}-byte data buffer`);
  // A zero anywhere makes the tensor empty, however large (even inexact) the other dims are.
  const count = shape.includes(0) ? 0 : shape.reduce((a: number, d: number) => a * d, 1);
  const need = count * FORMATS[type].size;
  if (need !== end - begin) {
    throw bad(ctx, `${at}: shape ${fmtDims(shape)} ${dtype} needs ${need} bytes but data_offsets [${begin}, ${end}] span ${end - begin}`);
  }
  return { name, type, dims: shape.slice(), begin, end };
}

/** The tensors must tile the data buffer: sorted by offset, each starts where the last ended. */
function checkCoverage(entries: Entry[], dataLength: number, ctx: Ctx): void {
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  let prev: Entry | undefined;
  for (const e of entries) {
    if (prev !== undefined && e.begin < cursor) {
      throw bad(
        ctx,
        `tensor ${JSON.stringify(e.name)}: data_offsets [${e.begin}, ${e.end}] overlap tensor ${JSON.stringify(prev.name)} [${prev.begin}, ${prev.end}]`,
      );
    }
    if (e.begin > cursor) throw bad(ctx, `data bytes [${cursor}, ${e.begin}) belong to no tensor (a hole before tensor ${JSON.stringify(e.name)})`);
    cursor = e.end;
    prev = e;
  }
  if (cursor !== dataLength) throw bad(ctx, `data buffer is ${dataLength} bytes but the tensors cover only ${cursor}`);
}

function materialize(src: Uint8Array, e: Entry, ctx: Ctx): Tensor {
  const { ctor, size } = FORMATS[e.type];
  const raw = new Uint8Array(src.byteLength); // fresh buffer at offset 0: aligned for every dtype
  raw.set(src);
  if (!HOST_IS_LITTLE_ENDIAN) swapBytes(raw, size);
  if (e.type === 'bool') {
    const i = raw.findIndex((b) => b > 1);
    if (i >= 0) throw bad(ctx, `tensor ${JSON.stringify(e.name)}: BOOL element ${i} is ${raw[i]} (must be 0 or 1)`);
  }
  const data = new (ctor as Float32ArrayConstructor)(raw.buffer, 0, raw.byteLength / size) as unknown as DataTypeMap[DType];
  return { type: e.type, dims: e.dims, data };
}
