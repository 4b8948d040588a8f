import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encodeSafetensors, readSafetensors, writeFileAtomic, writeSafetensors } from '../../src/io/index.js';
import { CheckpointError } from '../../src/tensor/errors.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { ls, tempDir } from './helpers.js';

const t = (v: number, n = 4): Tensor => ({ type: 'float32', dims: [n], data: new Float32Array(n).fill(v) });

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => ({ dir, cleanup } = await tempDir()));
afterEach(() => cleanup());

describe('writeSafetensors', () => {
  it('writes what encodeSafetensors encodes, reports its sha256, and leaves no temp file', async () => {
    const path = join(dir, 'a.safetensors');
    const info = await writeSafetensors(path, { w: t(1), b: t(2, 2) }, { step: '3' });
    const bytes = await readFile(path);
    expect(new Uint8Array(bytes)).toEqual(encodeSafetensors({ w: t(1), b: t(2, 2) }, { step: '3' }));
    expect(info).toEqual({ path, bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') });
    expect(await ls(dir)).toEqual(['a.safetensors']);
    expect(Array.from((await readSafetensors(path))['w']!.data as Float32Array)).toEqual([1, 1, 1, 1]);
  });

  it('replaces an existing file', async () => {
    const path = join(dir, 'a.safetensors');
    await writeSafetensors(path, { w: t(1) });
    await writeSafetensors(path, { w: t(5, 8) });
    expect((await readSafetensors(path))['w']!.dims).toEqual([8]);
    expect(await ls(dir)).toEqual(['a.safetensors']);
  });

  it('keeps the previous file when a tensor getter throws (before any byte is written)', async () => {
    const path = join(dir, 'a.safetensors');
    await writeSafetensors(path, { w: t(1) });
    const before = await readFile(path);
    const throwing = {
      type: 'float32',
      dims: [1],
      get data(): Float32Array {
        throw new Error('storage gone');
      },
    } as Tensor;
    await expect(writeSafetensors(path, { w: t(2), x: throwing })).rejects.toThrow('storage gone');
    expect(await readFile(path)).toEqual(before);
    expect(await ls(dir)).toEqual(['a.safetensors']);
  });

  it('keeps the previous file when a tensor buffer is detached mid-write', async () => {
    const path = join(dir, 'a.safetensors');
    await writeSafetensors(path, { w: t(1) });
    const before = await readFile(path);
    const big = t(3, 1 << 16);
    const pending = writeSafetensors(path, { a: t(2), w: big });
    structuredClone(big.data.buffer, { transfer: [big.data.buffer as ArrayBuffer] }); // detaches `big` after validation
    await expect(pending).rejects.toThrow(
      /writeSafetensors: could not write .*a\.safetensors \(previous content kept\): tensor storage changed size during the write$/,
    );
    expect(await readFile(path)).toEqual(before);
    expect(await ls(dir)).toEqual(['a.safetensors']);
  });

  it('throws CheckpointError and cleans up when the rename fails (target is a directory)', async () => {
    const path = join(dir, 'taken');
    await mkdir(path);
    await writeFile(join(path, 'keep'), 'x');
    const error = await writeSafetensors(path, { w: t(1) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CheckpointError);
    expect((error as Error).cause).toBeInstanceOf(Error);
    expect(await ls(dir)).toEqual(['taken']);
    expect(await ls(path)).toEqual(['keep']);
  });

  it('throws CheckpointError when the directory does not exist', async () => {
    await expect(writeSafetensors(join(dir, 'missing', 'a.safetensors'), { w: t(1) })).rejects.toThrow(CheckpointError);
  });
});

describe('writeFileAtomic', () => {
  it('keeps the previous content when the data source fails after a partial write', async () => {
    const path = join(dir, 'model.onnx');
    await writeFileAtomic(path, new Uint8Array([1, 2, 3]));
    function* failing(): Generator<Uint8Array> {
      yield new Uint8Array(4096).fill(7); // already on disk in the temp file
      throw new Error('producer crashed');
    }
    const error = await writeFileAtomic(path, failing()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CheckpointError);
    expect((error as Error).message).toMatch(/writeFileAtomic: could not write .*model\.onnx \(previous content kept\): producer crashed/);
    expect(new Uint8Array(await readFile(path))).toEqual(new Uint8Array([1, 2, 3]));
    expect(await ls(dir)).toEqual(['model.onnx']);
  });

  it('writes chunks in order and returns the byte count', async () => {
    const path = join(dir, 'x.bin');
    expect(await writeFileAtomic(path, [new Uint8Array([1]), new Uint8Array(0), new Uint8Array([2, 3])])).toBe(3);
    expect(new Uint8Array(await readFile(path))).toEqual(new Uint8Array([1, 2, 3]));
  });
});
