import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Tensor } from '../../src/tensor/tensor.js';

export const FIXTURES = new URL('../fixtures/io/', import.meta.url);

/** A safetensors file from a header (object or raw JSON text) and data bytes; header unpadded. */
export function rawFile(header: unknown, data: ArrayLike<number> = [], headerLength?: bigint): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, headerLength ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

/** The bytes of a tensor's storage: bit-exact comparison (-0, NaN payloads, int64 extremes). */
export function bytesOf(t: Tensor): Uint8Array {
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

/** A value from a fixture JSON (`"nan"`, `"-0.0"`, int64 as decimal strings, bools) as stored. */
export function fromJson(v: number | string | boolean, dtype: string): number | bigint {
  if (dtype === 'I64') return BigInt(v as string);
  if (typeof v === 'boolean') return v ? 1 : 0;
  return typeof v === 'string' ? Number.parseFloat(v.replace('inf', 'Infinity')) : v;
}

/** A fresh temp directory for one test, removed by `cleanup`. */
export async function tempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'apt-prune-io-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Sorted file names in `dir`. */
export async function ls(dir: string): Promise<string[]> {
  return (await readdir(dir)).sort();
}
