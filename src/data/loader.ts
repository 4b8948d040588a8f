import { ValueError } from '../tensor/errors.js';
import type { Rng } from '../tensor/rng.js';
import type { Tensor } from '../tensor/tensor.js';
import { type Augment, drawAugment, normalizeTable, resolveAugment, writeSample } from './augment.js';
import { assertDataset, type Dataset, FASHION_MNIST_NORM, type Normalize } from './dataset.js';

export interface BatchOptions {
  /** Images per batch (the last one may be smaller unless `dropLast`). */
  readonly batchSize: number;
  /** Visit the images in a fresh seeded permutation (default false: stored order). */
  readonly shuffle?: boolean;
  /** Required when shuffling or augmenting. */
  readonly rng?: Rng;
  /** Skip the last partial batch (default false). */
  readonly dropLast?: boolean;
  /** `true` = RandomCrop(h, padding 2) + RandomHorizontalFlip(0.5); default false. */
  readonly augment?: boolean | Partial<Augment>;
  /** Default: `ds.norm`, else FASHION_MNIST_NORM. */
  readonly normalize?: Normalize;
  /**
   * Default true: every batch of one epoch is written into the same preallocated buffers, so a
   * yielded batch is only valid until the next one is requested (finish `session.run` on it first).
   * false: fresh buffers per batch, safe to keep.
   */
  readonly reuseBuffers?: boolean;
}

/** One batch: `images` [B, c, h, w] float32 normalised, `labels` [B] int64 (ONNX takes int64 indices), `indices` the dataset rows [B]. */
export interface Batch {
  readonly images: Tensor<'float32'>;
  readonly labels: Tensor<'int64'>;
  readonly indices: Int32Array;
}

/** Batches an epoch of `n` images yields: ⌊n/B⌋ with dropLast, else ⌈n/B⌉. */
export function numBatches(n: number, batchSize: number, dropLast = false): number {
  return dropLast ? Math.floor(n / batchSize) : Math.ceil(n / batchSize);
}

const LABEL64 = Array.from({ length: 256 }, (_, i) => BigInt(i));

/**
 * One epoch over `ds` as normalised batches; call it again for the next epoch. Only the current
 * batch is materialised (B·c·h·w floats); the data set itself is never copied.
 *
 * Randomness, in this order, per call: `rng.split()` → shuffle stream, `rng.split()` → augment
 * stream (both taken whenever `rng` is given, so the parent advances identically for any options
 * and turning augmentation on never changes the order). The permutation (`Rng.permutation`, Fisher–
 * Yates) is drawn up front; then each sample, in batch order, makes the three draws of
 * `drawAugment` (top, left, flip). Dropped tail samples draw nothing.
 *
 * Validation happens at the call (not at the first `next()`).
 */
export function batches(ds: Dataset, opts: BatchOptions): Generator<Batch, void, undefined> {
  const where = 'batches';
  assertDataset(where, ds);
  const { batchSize } = opts;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new ValueError(where, `batchSize must be a positive integer, got ${batchSize}`);
  const aug = resolveAugment(where, opts.augment);
  const shuffle = opts.shuffle ?? false;
  if ((shuffle || aug) && !opts.rng) {
    throw new ValueError(where, `${shuffle ? 'shuffle' : 'augment'} needs a seeded rng: pass { rng: new Rng(seed) }`);
  }
  const lut = normalizeTable(where, opts.normalize ?? ds.norm ?? FASHION_MNIST_NORM, ds.shape.c);
  const shuffleRng = opts.rng?.split();
  const augRng = opts.rng?.split();
  const order = shuffle && shuffleRng ? shuffleRng.permutation(ds.n) : null;
  const count = numBatches(ds.n, batchSize, opts.dropLast ?? false);
  return run(ds, batchSize, count, order, lut, aug && augRng ? { aug, rng: augRng } : null, opts.reuseBuffers ?? true);
}

function* run(
  ds: Dataset,
  batchSize: number,
  count: number,
  order: Int32Array | null,
  lut: Float32Array,
  aug: { aug: Augment; rng: Rng } | null,
  reuse: boolean,
): Generator<Batch, void, undefined> {
  const { c, h, w } = ds.shape;
  const chw = c * h * w;
  const alloc = (size: number) => ({ x: new Float32Array(size * chw), y: new BigInt64Array(size), idx: new Int32Array(size) });
  const shared = reuse ? alloc(Math.min(batchSize, ds.n)) : null;
  for (let b = 0; b < count; b++) {
    const start = b * batchSize;
    const size = Math.min(batchSize, ds.n - start);
    const buf = shared ?? alloc(size);
    const x = buf.x.subarray(0, size * chw);
    const y = buf.y.subarray(0, size);
    const idx = buf.idx.subarray(0, size);
    for (let k = 0; k < size; k++) {
      const i = order ? (order[start + k] as number) : start + k;
      idx[k] = i;
      y[k] = LABEL64[ds.labels[i] as number] as bigint;
      const draw = aug ? drawAugment(aug.rng, aug.aug) : null;
      writeSample(ds.images, i * chw, ds.shape, lut, x, k * chw, draw, aug ? aug.aug.padding : 0);
    }
    yield { images: { type: 'float32', dims: [size, c, h, w], data: x }, labels: { type: 'int64', dims: [size], data: y }, indices: idx };
  }
}

/** Evaluation pass: stored order, no augmentation, last partial batch kept. Same buffer rules as `batches`. */
export function evalBatches(ds: Dataset, opts: Pick<BatchOptions, 'batchSize' | 'normalize' | 'reuseBuffers'>): Generator<Batch, void, undefined> {
  return batches(ds, { batchSize: opts.batchSize, normalize: opts.normalize, reuseBuffers: opts.reuseBuffers });
}
