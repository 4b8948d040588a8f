/**
 * safetensors encoding and file I/O. Files we write are what the reference implementation
 * (Python `safetensors`) writes for the same tensors: header keys in data order, data sorted by
 * descending alignment then name, header padded with spaces to 8 bytes. Same input, same bytes.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { CheckpointError, DTypeError, fmtDims, ShapeError, ValueError } from '../tensor/errors.js';
import { numel, type Tensor } from '../tensor/tensor.js';
import { writeFileAtomic } from './atomic.js';
import { decodeIn } from './decode.js';
import { compareBytes, FORMATS, HOST_IS_LITTLE_ENDIAN, isCount, LAYOUT_ORDER, MAX_HEADER_BYTES, METADATA_KEY, show, swapBytes, utf8 } from './format.js';
import { isPlainObject } from './json.js';

/** What `writeSafetensors` wrote: the file, its size and the sha256 (hex) of its bytes. */
export interface SafetensorsFile {
  readonly path: string;
  readonly bytes: number;
  readonly sha256: string;
}

/** A validated file layout: header bytes (length prefix included) and each tensor's LE bytes. */
interface Layout {
  readonly head: Uint8Array;
  readonly chunks: readonly Uint8Array[];
  readonly byteLength: number;
}

/**
 * Serialises `tensors` (name → Tensor of float32/float64/int32/int64/uint8/bool, any rank
 * including 0-d and empty) and an optional string → string `metadata` map to safetensors bytes.
 * Deterministic: the same tensors and metadata always give the same bytes. Throws DTypeError,
 * ShapeError or ValueError (naming the tensor) for invalid input. For large models prefer
 * `writeSafetensors`, which streams instead of building one buffer.
 */
export function encodeSafetensors(tensors: Readonly<Record<string, Tensor>>, metadata?: Readonly<Record<string, string>>): Uint8Array {
  const layout = plan('encodeSafetensors', tensors, metadata);
  const out = new Uint8Array(layout.byteLength);
  out.set(layout.head);
  let at = layout.head.byteLength;
  for (const c of layout.chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/**
 * Reads safetensors from a path, a `file:` URL or bytes, into `{ name: Tensor }` (storage owned
 * by each tensor). Unreadable files and malformed content throw CheckpointError naming the file;
 * see `decodeSafetensors` for what is checked. Use `decodeSafetensors` to also get the metadata.
 */
export async function readSafetensors(source: string | URL | Uint8Array): Promise<Record<string, Tensor>> {
  const where = 'readSafetensors';
  if (source instanceof Uint8Array) return decodeIn(source, { where }).tensors;
  if (typeof source !== 'string' && !(source instanceof URL)) throw new ValueError(where, `source must be a path, URL or Uint8Array, got ${show(source)}`);
  return decodeIn(await readBytes(where, source), { where, file: String(source) }).tensors;
}

/**
 * Writes `tensors` (+ optional string metadata) to `path` as safetensors, atomically: the bytes
 * stream into `${path}.tmp-<pid>-<hex>`, which is fsynced and renamed over `path`. If anything fails
 * the temp file is removed and `path` keeps its previous content. The tensors' storage is read
 * while the promise is pending: do not mutate it until it resolves.
 */
export async function writeSafetensors(
  path: string,
  tensors: Readonly<Record<string, Tensor>>,
  metadata?: Readonly<Record<string, string>>,
): Promise<SafetensorsFile> {
  const where = 'writeSafetensors';
  if (typeof path !== 'string' || path === '') throw new ValueError(where, `path must be a non-empty string, got ${show(path)}`);
  const layout = plan(where, tensors, metadata);
  const hash = createHash('sha256');
  const lengths = layout.chunks.map((c) => c.byteLength);
  function* stream(): Generator<Uint8Array> {
    hash.update(layout.head);
    yield layout.head;
    for (const [i, c] of layout.chunks.entries()) {
      // A buffer detached or resized since validation would silently shorten the file.
      // writeFileAtomic wraps this into a CheckpointError naming the path.
      if (c.byteLength !== lengths[i]) throw new Error('tensor storage changed size during the write');
      hash.update(c);
      yield c;
    }
  }
  const bytes = await writeFileAtomic(path, stream(), where);
  return { path, bytes, sha256: hash.digest('hex') };
}

/** `readFile`, with failures as CheckpointError naming the file. */
export async function readBytes(where: string, file: string | URL): Promise<Uint8Array> {
  try {
    return await readFile(file);
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw Object.assign(new CheckpointError(where, `cannot read ${String(file)}: ${reason}`), { cause });
  }
}

function plan(where: string, tensors: Readonly<Record<string, Tensor>>, metadata: Readonly<Record<string, string>> | undefined): Layout {
  if (!isPlainObject(tensors)) throw new ValueError(where, `tensors must be a plain object { name: Tensor }, got ${show(tensors)}`);
  const entries = Object.keys(tensors).map((name) => ({ name, key: utf8.encode(name), ...checkTensor(where, name, tensors[name]) }));
  entries.sort((a, b) => LAYOUT_ORDER.indexOf(a.type) - LAYOUT_ORDER.indexOf(b.type) || compareBytes(a.key, b.key));
  const parts: string[] = [];
  const meta = checkMetadata(where, metadata);
  if (meta.length > 0) parts.push(`"${METADATA_KEY}":{${meta.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`);
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const { name, type, dims, data } of entries) {
    const bytes = littleEndianBytes(data, FORMATS[type].size);
    parts.push(`${JSON.stringify(name)}:{"dtype":"${FORMATS[type].code}","shape":[${dims.join(',')}],"data_offsets":[${offset},${offset + bytes.byteLength}]}`);
    offset += bytes.byteLength;
    chunks.push(bytes);
  }
  const json = utf8.encode(`{${parts.join(',')}}`);
  const n = Math.ceil(json.byteLength / 8) * 8; // pad so the data buffer starts 8-byte aligned
  if (n > MAX_HEADER_BYTES) throw new ValueError(where, `header would be ${n} bytes, above the ${MAX_HEADER_BYTES}-byte limit readers accept`);
  const head = new Uint8Array(8 + n).fill(0x20, 8 + json.byteLength);
  new DataView(head.buffer).setBigUint64(0, BigInt(n), true);
  head.set(json, 8);
  return { head, chunks, byteLength: head.byteLength + offset };
}

/** Validates one input tensor, reading each field once (getters may not be stable). */
function checkTensor(where: string, name: string, t: Tensor | undefined): Tensor {
  const at = `tensors[${JSON.stringify(name)}]`;
  if (name === METADATA_KEY) throw new ValueError(where, `${at}: the name ${METADATA_KEY} is reserved by the format`);
  if (/\p{Cs}/u.test(name)) throw new ValueError(where, `${at}: name contains a lone UTF-16 surrogate, which UTF-8 cannot encode`);
  if (typeof t !== 'object' || t === null) throw new ValueError(where, `${at}: expected a Tensor { type, dims, data }, got ${show(t)}`);
  const { type, dims, data } = t;
  if (typeof type !== 'string' || !Object.hasOwn(FORMATS, type))
    throw new DTypeError(where, `${at}: type must be one of ${LAYOUT_ORDER.join(', ')}, got ${show(type)}`);
  const { ctor } = FORMATS[type];
  if (!(data instanceof ctor))
    throw new DTypeError(where, `${at}: ${type} data must be a ${ctor.name}, got ${(data as object)?.constructor?.name ?? show(data)}`);
  if (!Array.isArray(dims) || !dims.every(isCount)) throw new ShapeError(where, `${at}: dims must be non-negative integers, got ${show(dims)}`);
  if (data.length !== numel(dims)) throw new ShapeError(where, `${at}: dims ${fmtDims(dims)} need ${numel(dims)} elements, data has ${data.length}`);
  if (type === 'bool') {
    const i = (data as Uint8Array).findIndex((b) => b > 1);
    if (i >= 0) throw new ValueError(where, `${at}: bool element ${i} is ${data[i]} (must be 0 or 1)`);
  }
  return { type, dims: [...dims], data };
}

function checkMetadata(where: string, metadata: Readonly<Record<string, string>> | undefined): [string, string][] {
  if (metadata === undefined) return [];
  if (!isPlainObject(metadata)) throw new ValueError(where, `metadata must be a plain object of strings, got ${show(metadata)}`);
  const entries = Object.entries(metadata);
  for (const [k, v] of entries) {
    if (typeof v !== 'string') throw new ValueError(where, `metadata[${JSON.stringify(k)}] must be a string, got ${show(v)}`);
    if (/\p{Cs}/u.test(k + v)) throw new ValueError(where, `metadata[${JSON.stringify(k)}] contains a lone UTF-16 surrogate`);
  }
  return entries.sort(([a], [b]) => compareBytes(utf8.encode(a), utf8.encode(b)));
}

/** A byte view of `data` in file order: no copy on little-endian hosts. */
function littleEndianBytes(data: Tensor['data'], size: number): Uint8Array {
  const view = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (HOST_IS_LITTLE_ENDIAN) return view;
  const copy = view.slice();
  swapBytes(copy, size);
  return copy;
}
