import { describe, expect, it } from 'vitest';
import {
  augmentImage,
  type Batch,
  batches,
  DEFAULT_AUGMENT,
  drawAugment,
  evalBatches,
  FASHION_MNIST_NORM,
  fromArrays,
  MNIST_NORM,
  normalizeImages,
  numBatches,
} from '../../src/data/index.js';
import { ShapeError, ValueError } from '../../src/tensor/errors.js';
import { Rng } from '../../src/tensor/rng.js';

const shape = { c: 1, h: 5, w: 6 };
const chw = 30;
/** 10 images with distinct random pixels; label = i % 3. */
function toy(n = 10) {
  const rng = new Rng(42);
  const images = Uint8Array.from({ length: n * chw }, () => rng.int(256));
  return fromArrays(
    images,
    Array.from({ length: n }, (_, i) => i % 3),
    shape,
  );
}

/** Copies of every batch of an epoch (batches reuse their buffers). */
const collect = (it: Iterable<Batch>) =>
  Array.from(it, (b) => ({ x: Array.from(b.images.data), y: Array.from(b.labels.data, Number), idx: Array.from(b.indices), dims: [...b.images.dims] }));

describe('batches', () => {
  it('yields float32 [B,c,h,w] images and int64 [B] labels, normalised, in stored order by default', () => {
    const ds = toy();
    const [b] = batches(ds, { batchSize: 4 });
    expect(b!.images.type).toBe('float32');
    expect(b!.images.dims).toEqual([4, 1, 5, 6]);
    expect(b!.labels.type).toBe('int64');
    expect(b!.labels.data).toBeInstanceOf(BigInt64Array);
    expect(Array.from(b!.labels.data)).toEqual([0n, 1n, 2n, 0n]);
    expect(Array.from(b!.indices)).toEqual([0, 1, 2, 3]);
    expect(b!.images.data).toEqual(normalizeImages(ds.images.subarray(0, 4 * chw), shape, FASHION_MNIST_NORM));
  });

  it('uses the dataset norm unless given one', () => {
    const ds = { ...toy(), norm: MNIST_NORM };
    const [a] = batches(ds, { batchSize: 2 });
    expect(a!.images.data).toEqual(normalizeImages(ds.images.subarray(0, 2 * chw), shape, MNIST_NORM));
    const [b] = batches(ds, { batchSize: 2, normalize: { mean: 0.5, std: 0.5 } });
    expect(b!.images.data[0]).toBeCloseTo((ds.images[0]! / 255 - 0.5) / 0.5, 6);
  });

  it('keeps the last partial batch unless dropLast', () => {
    const ds = toy(10);
    expect(collect(batches(ds, { batchSize: 4 })).map((b) => b.dims[0])).toEqual([4, 4, 2]);
    expect(collect(batches(ds, { batchSize: 4, dropLast: true })).map((b) => b.dims[0])).toEqual([4, 4]);
    expect([numBatches(10, 4), numBatches(10, 4, true), numBatches(8, 4, true)]).toEqual([3, 2, 2]);
  });

  it('a shuffled epoch visits every image exactly once, labels follow their images', () => {
    const ds = toy(10);
    const got = collect(batches(ds, { batchSize: 3, shuffle: true, rng: new Rng(0) }));
    const idx = got.flatMap((b) => b.idx);
    expect([...idx].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(idx).not.toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(got.flatMap((b) => b.y)).toEqual(idx.map((i) => i % 3));
  });

  it('is deterministic: same seed, same batches; different seeds differ; the next epoch differs', () => {
    const ds = toy(10);
    const opts = { batchSize: 4, shuffle: true, augment: true } as const;
    const a = collect(batches(ds, { ...opts, rng: new Rng(7) }));
    expect(collect(batches(ds, { ...opts, rng: new Rng(7) }))).toEqual(a);
    expect(collect(batches(ds, { ...opts, rng: new Rng(8) }))).not.toEqual(a);
    const rng = new Rng(7);
    const e1 = collect(batches(ds, { ...opts, rng }));
    const e2 = collect(batches(ds, { ...opts, rng }));
    expect(e1).toEqual(a);
    expect(e2.flatMap((b) => b.idx)).not.toEqual(e1.flatMap((b) => b.idx));
  });

  it('turning augmentation on does not change the order (separate split streams)', () => {
    const ds = toy(10);
    const plain = collect(batches(ds, { batchSize: 4, shuffle: true, rng: new Rng(5) }));
    const aug = collect(batches(ds, { batchSize: 4, shuffle: true, augment: true, rng: new Rng(5) }));
    expect(aug.map((b) => b.idx)).toEqual(plain.map((b) => b.idx));
    expect(aug.map((b) => b.x)).not.toEqual(plain.map((b) => b.x));
  });

  it('augments each sample with the documented draw order: split (shuffle), split (augment), then top/left/flip per sample', () => {
    const ds = toy(10);
    const got = collect(batches(ds, { batchSize: 4, shuffle: true, augment: true, rng: new Rng(9) }));
    const parent = new Rng(9);
    const order = parent.split().permutation(10);
    const augRng = parent.split();
    const expected: number[] = [];
    for (const i of order) {
      const pixels = augmentImage(ds.images.subarray(i * chw, (i + 1) * chw), shape, drawAugment(augRng, DEFAULT_AUGMENT), 2);
      expected.push(...normalizeImages(pixels, shape, FASHION_MNIST_NORM));
    }
    expect(got.flatMap((b) => b.idx)).toEqual(Array.from(order));
    expect(got.flatMap((b) => b.x)).toEqual(expected);
  });

  it('pads with zero pixels: the border reads (0 − mean)/std after normalisation', () => {
    const ds = fromArrays([new Array(chw).fill(255)], [0], shape);
    const zero = Math.fround(Math.fround(0 - Math.fround(0.286)) / Math.fround(0.353));
    const one = Math.fround(Math.fround(1 - Math.fround(0.286)) / Math.fround(0.353));
    let shifted = 0;
    for (let seed = 0; seed < 20; seed++) {
      const [b] = batches(ds, { batchSize: 1, augment: { padding: 2, flip: 0 }, rng: new Rng(seed) });
      const values = new Set(b!.images.data);
      for (const v of values) expect([zero, one]).toContain(v);
      if (values.has(zero)) shifted++;
    }
    expect(shifted).toBeGreaterThan(10); // 24 of 25 offsets shift the white image
  });

  it('reuses one buffer per epoch by default; reuseBuffers: false gives batches you can keep', () => {
    const ds = toy(10);
    const kept = [...batches(ds, { batchSize: 4 })];
    expect(kept[0]!.images.data.buffer).toBe(kept[1]!.images.data.buffer);
    expect(kept[2]!.images.data.length).toBe(2 * chw); // partial batch: a view of the same buffer
    const fresh = [...batches(ds, { batchSize: 4, reuseBuffers: false })];
    expect(fresh[0]!.images.data.buffer).not.toBe(fresh[1]!.images.data.buffer);
    expect(fresh.map((b) => Array.from(b.indices))).toEqual([
      [0, 1, 2, 3],
      [4, 5, 6, 7],
      [8, 9],
    ]);
    expect(fresh[0]!.images.data).toEqual(normalizeImages(ds.images.subarray(0, 4 * chw), shape, FASHION_MNIST_NORM));
  });

  it('validates at the call, not at the first next()', () => {
    const ds = toy(4);
    expect(() => batches(ds, { batchSize: 0 })).toThrow(ValueError);
    expect(() => batches(ds, { batchSize: 2, shuffle: true })).toThrow(/seeded rng/);
    expect(() => batches(ds, { batchSize: 2, augment: true })).toThrow(/augment needs a seeded rng/);
    expect(() => batches(ds, { batchSize: 2, augment: { flip: 2 }, rng: new Rng(0) })).toThrow(ValueError);
    expect(() => batches(ds, { batchSize: 2, normalize: { mean: [0, 0], std: 1 } })).toThrow(ValueError);
    expect(() => batches({ ...ds, n: 5 }, { batchSize: 2 })).toThrow(ShapeError);
  });

  it('an empty data set yields no batches', () => {
    const ds = fromArrays(new Uint8Array(0), [], shape, { classes: 10 });
    expect([...batches(ds, { batchSize: 4 })]).toEqual([]);
  });
});

describe('evalBatches', () => {
  it('stored order, no augmentation, last partial batch kept', () => {
    const ds = toy(10);
    const got = collect(evalBatches(ds, { batchSize: 4 }));
    expect(got.map((b) => b.idx)).toEqual([
      [0, 1, 2, 3],
      [4, 5, 6, 7],
      [8, 9],
    ]);
    expect(got.flatMap((b) => b.x)).toEqual(Array.from(normalizeImages(ds.images, shape, FASHION_MNIST_NORM)));
  });
});
