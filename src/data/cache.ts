import { createHash } from 'node:crypto';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Dataset } from './dataset.js';

/** What a loader parsed from a package: images and labels only (splits are cut from it). */
export type RawSet = Pick<Dataset, 'images' | 'labels' | 'n' | 'shape' | 'classes'>;

/**
 * How a load went: `hit` (read the binary cache), `built` (no cache yet: parsed and wrote it),
 * `rebuilt` (the cache was invalid, see `reason`: parsed and rewrote it), `disabled` (`cache: false`).
 * `writeError` says why the cache could not be written (the data is still returned).
 */
export interface CacheInfo {
  readonly path: string | null;
  readonly status: 'hit' | 'built' | 'rebuilt' | 'disabled';
  readonly reason?: string;
  readonly writeError?: string;
  /** Wall time of the load (read or parse + write), milliseconds. */
  readonly ms: number;
}

/*
 * File layout (little-endian), 96-byte header then payload:
 *   0  'APTDATA1'       8 bytes, magic + format version
 *   8  n, c, h, w, classes, reserved   6 × uint32
 *  32  sha256(source key)             32 bytes: package, version, file sizes, layout
 *  64  sha256(payload)                32 bytes
 *  96  images [n, c, h, w] uint8, then labels [n] uint8
 */
const MAGIC = 'APTDATA1';
const HEADER = 96;

const sha256 = (...parts: Uint8Array[]): Uint8Array => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};

function header(key: string, raw: RawSet, payloadHash: Uint8Array): Uint8Array {
  const out = new Uint8Array(HEADER);
  out.set(new TextEncoder().encode(MAGIC), 0);
  const view = new DataView(out.buffer);
  const fields = [raw.n, raw.shape.c, raw.shape.h, raw.shape.w, raw.classes, 0];
  for (const [k, v] of fields.entries()) view.setUint32(8 + 4 * k, v, true);
  out.set(sha256(new TextEncoder().encode(key)), 32);
  out.set(payloadHash, 64);
  return out;
}

const equal = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((v, i) => v === b[i]);

/** Parses and checks a cache file; returns the set (views into `bytes`) or why it is unusable. */
export function decodeCache(bytes: Uint8Array, key: string): RawSet | string {
  if (bytes.length < HEADER) return `truncated header (${bytes.length} bytes)`;
  if (new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC) return 'bad magic';
  if (!equal(bytes.subarray(32, 64), sha256(new TextEncoder().encode(key)))) return 'written from another source or layout';
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const [n, c, h, w, classes] = [0, 1, 2, 3, 4].map((k) => view.getUint32(8 + 4 * k, true)) as [number, number, number, number, number];
  const chw = c * h * w;
  if (bytes.length !== HEADER + n * (chw + 1)) return `size ${bytes.length} does not match n = ${n}, c·h·w = ${chw}`;
  const payload = bytes.subarray(HEADER);
  if (!equal(bytes.subarray(64, 96), sha256(payload))) return 'checksum mismatch';
  const labels = payload.subarray(n * chw);
  if (labels.some((l) => l >= classes)) return 'label out of range';
  return { images: payload.subarray(0, n * chw), labels, n, shape: { c, h, w }, classes };
}

/** The whole file in one preallocated buffer (fs.promises.readFile grows 512 KiB chunks: ~2x slower on 55 MB). */
async function readWhole(path: string): Promise<Uint8Array> {
  const fh = await open(path, 'r');
  try {
    const size = (await fh.stat()).size;
    const out = new Uint8Array(size);
    for (let got = 0; got < size; ) {
      const { bytesRead } = await fh.read(out, got, size - got, got);
      if (bytesRead === 0) return out.subarray(0, got);
      got += bytesRead;
    }
    return out;
  } finally {
    await fh.close();
  }
}

let tmpCounter = 0;

/** Writes the cache to a temporary file, then renames it over `path` (readers never see half a file). */
export async function writeCache(path: string, key: string, raw: RawSet): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.${tmpCounter++}.tmp`;
  const fh = await open(tmp, 'w');
  try {
    await fh.write(header(key, raw, sha256(raw.images, raw.labels)));
    await fh.write(raw.images);
    await fh.write(raw.labels);
    await fh.close();
    await rename(tmp, path);
  } catch (e) {
    await fh.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
}

/**
 * Returns the set from the cache at `path` when it is valid for `key`, else from `build()` (then
 * writes the cache). A missing, truncated, corrupt or stale file is rebuilt, never an error; a cache
 * that cannot be written is reported in `writeError`. `path: null` disables the cache.
 */
export async function cachedLoad(path: string | null, key: string, build: () => Promise<RawSet>): Promise<{ raw: RawSet; cache: CacheInfo }> {
  const t0 = performance.now();
  const ms = () => Math.round(performance.now() - t0);
  if (path === null) return { raw: await build(), cache: { path, status: 'disabled', ms: ms() } };
  let reason: string | undefined;
  try {
    const got = decodeCache(await readWhole(path), key);
    if (typeof got !== 'string') return { raw: got, cache: { path, status: 'hit', ms: ms() } };
    reason = got;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') reason = `unreadable (${code ?? (e as Error).message})`;
  }
  const raw = await build();
  let writeError: string | undefined;
  try {
    await writeCache(path, key, raw);
  } catch (e) {
    writeError = (e as Error).message;
  }
  const status = reason === undefined ? 'built' : 'rebuilt';
  return { raw, cache: { path, status, ...(reason ? { reason } : {}), ...(writeError ? { writeError } : {}), ms: ms() } };
}
