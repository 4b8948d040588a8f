import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { classCounts, DataFormatError, fromArrays, idxDataset, readIdx, subset, writeIdx } from '../../src/data/index.js';
import { DTypeError, ShapeError, ValueError } from '../../src/tensor/errors.js';

const shape = { c: 1, h: 2, w: 2 };

describe('fromArrays', () => {
  it('accepts flat values, one array per image, or a Uint8Array (used without copy)', () => {
    const flat = fromArrays([0, 1, 2, 3, 4, 5, 6, 7], [1, 0], shape);
    const nested = fromArrays(
      [
        [0, 1, 2, 3],
        [4, 5, 6, 7],
      ],
      [1, 0],
      shape,
    );
    const bytes = Uint8Array.from([0, 1, 2, 3, 4, 5, 6, 7]);
    const wrapped = fromArrays(bytes, [1, 0], shape);
    for (const ds of [flat, nested, wrapped]) {
      expect(Array.from(ds.images)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
      expect(Array.from(ds.labels)).toEqual([1, 0]);
      expect([ds.n, ds.classes]).toEqual([2, 2]);
    }
    expect(wrapped.images).toBe(bytes);
  });

  it('converts HWC input to CHW', () => {
    // one 1×2 image with 3 channels: pixels (r,g,b) = (1,2,3), (4,5,6)
    const ds = fromArrays([1, 2, 3, 4, 5, 6], [0], { c: 3, h: 1, w: 2 }, { layout: 'hwc' });
    expect(Array.from(ds.images)).toEqual([1, 4, 2, 5, 3, 6]);
  });

  it('rejects counts, pixel values and labels that do not fit, naming the function', () => {
    expect(() => fromArrays([0, 1, 2], [0], shape)).toThrow(ShapeError);
    expect(() => fromArrays([[0, 1, 2]], [0], shape)).toThrow(/image 0 has 3 values/);
    expect(() => fromArrays([0, 1, 2, 256], [0], shape)).toThrow(ValueError);
    expect(() => fromArrays([0, 1, 2, 0.5], [0], shape)).toThrow(/fromArrays: pixel values must be integers/);
    expect(() => fromArrays([0, 1, 2, 3], [3], shape, { classes: 3 })).toThrow(/not below classes = 3/);
    expect(() => fromArrays([0, 1, 2, 3], [-1], shape)).toThrow(ValueError);
    expect(() => fromArrays([0], [0], { c: 1, h: 1, w: 0 })).toThrow(ShapeError);
  });
});

describe('subset and classCounts', () => {
  it('copies the chosen images in the given order', () => {
    const ds = fromArrays([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2], [0, 1, 1], shape);
    const s = subset(ds, [2, 0, 2]);
    expect(Array.from(s.images)).toEqual([2, 2, 2, 2, 0, 0, 0, 0, 2, 2, 2, 2]);
    expect(Array.from(s.labels)).toEqual([1, 0, 1]);
    expect(classCounts(ds)).toEqual([1, 2]);
    expect(() => subset(ds, [3])).toThrow(ValueError);
  });
});

describe('IDX', () => {
  const images = Uint8Array.from({ length: 3 * 2 * 2 }, (_, i) => i * 20);
  const labels = Uint8Array.from([2, 0, 1]);

  it('round trips: writeIdx → readIdx gives the same dims and bytes (plain and gzipped)', () => {
    const bytes = writeIdx(images, [3, 2, 2]);
    expect(Array.from(bytes.subarray(0, 8))).toEqual([0, 0, 8, 3, 0, 0, 0, 3]);
    for (const src of [bytes, gzipSync(bytes)]) {
      const got = readIdx(src);
      expect(got.dims).toEqual([3, 2, 2]);
      expect(got.data).toEqual(images);
    }
  });

  it('idxDataset reads image and label files from paths into a Dataset', () => {
    const dir = mkdtempSync(join(tmpdir(), 'apt-idx-'));
    writeFileSync(join(dir, 'images-idx3-ubyte.gz'), gzipSync(writeIdx(images, [3, 2, 2])));
    writeFileSync(join(dir, 'labels-idx1-ubyte'), writeIdx(labels, [3]));
    const ds = idxDataset(join(dir, 'images-idx3-ubyte.gz'), join(dir, 'labels-idx1-ubyte'));
    expect(ds.shape).toEqual({ c: 1, h: 2, w: 2 });
    expect([ds.n, ds.classes]).toEqual([3, 3]);
    expect(ds.images).toEqual(images);
    expect(ds.images.constructor).toBe(Uint8Array); // a copy, not a Buffer view
    expect(Array.from(ds.labels)).toEqual([2, 0, 1]);
    const chw = idxDataset(writeIdx(images, [1, 3, 2, 2]), writeIdx(Uint8Array.from([4]), [1]), { classes: 10 });
    expect([chw.shape.c, chw.n, chw.classes]).toEqual([3, 1, 10]);
  });

  it('malformed files give typed errors, never a crash', () => {
    const good = writeIdx(images, [3, 2, 2]);
    expect(() => readIdx(Uint8Array.from([1, 2, 3, 4, 5]))).toThrow(DataFormatError);
    expect(() => readIdx(new Uint8Array(0))).toThrow(/not IDX.*no bytes/);
    expect(() => readIdx(good.subarray(0, good.length - 1))).toThrow(/truncated/);
    expect(() => readIdx(Uint8Array.from([...good, 0]))).toThrow(/trailing bytes/);
    expect(() => readIdx(good.subarray(0, 6))).toThrow(/header of rank 3 needs 16 bytes/);
    const float = good.slice();
    float[2] = 0x0d;
    expect(() => readIdx(float)).toThrow(DTypeError);
    expect(() => readIdx(Uint8Array.from([0x1f, 0x8b, 1, 2, 3]))).toThrow(/does not inflate/);
    expect(() => idxDataset(good, writeIdx(labels.subarray(0, 2), [2]))).toThrow(ShapeError);
    expect(() => idxDataset(writeIdx(labels, [3]), writeIdx(labels, [3]))).toThrow(/images must be \[n, h, w\]/);
    expect(() => writeIdx(images, [3, 2])).toThrow(ShapeError);
  });
});
