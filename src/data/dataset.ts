import { fmtDims, ShapeError, ValueError } from '../tensor/errors.js';

/** Channels, height, width of every image of a data set. */
export interface ImageShape {
  readonly c: number;
  readonly h: number;
  readonly w: number;
}

/**
 * Per-channel statistics: a pixel p (0…255) becomes y = (p/255 − mean[ch]) / std[ch]. A number
 * applies to every channel; an array has one entry per channel.
 */
export interface Normalize {
  readonly mean: number | readonly number[];
  readonly std: number | readonly number[];
}

/** Fashion-MNIST train-set statistics (design §4); the default of `batches`. */
export const FASHION_MNIST_NORM: Normalize = { mean: 0.286, std: 0.353 };
/** The usual MNIST statistics (official 60k train set). */
export const MNIST_NORM: Normalize = { mean: 0.1307, std: 0.3081 };
/** The APT source's CIFAR choice, for parity runs. */
export const APT_NORM: Normalize = { mean: 0.5, std: 0.5 };

/** Fashion-MNIST class names, index = label (the package's file `src/clothes/<c>.json`). */
export const FASHION_MNIST_CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'] as const;

/**
 * Images and labels held as bytes; everything else (normalisation, augmentation, batching) happens
 * per batch in `batches`.
 *
 * - `images`: uint8 pixels 0…255, shape [n, c, h, w] row-major (CHW per image, like ONNX/PyTorch).
 * - `labels`: [n], each in [0, classes).
 * - `norm`: the statistics `batches` uses when not told otherwise.
 */
export interface Dataset {
  readonly images: Uint8Array;
  readonly labels: Uint8Array;
  readonly n: number;
  readonly shape: ImageShape;
  readonly classes: number;
  readonly classNames?: readonly string[];
  readonly norm?: Normalize;
}

export interface FromArraysOptions {
  /** Number of classes; default max(label) + 1. */
  readonly classes?: number;
  readonly classNames?: readonly string[];
  readonly norm?: Normalize;
  /** Pixel order of the input per image: 'chw' (default) or 'hwc' (converted to CHW). */
  readonly layout?: 'chw' | 'hwc';
}

type Pixels = Uint8Array | ArrayLike<number> | readonly ArrayLike<number>[];

/**
 * A Dataset from plain arrays. `images` is either flat ([n·c·h·w] values) or one array of c·h·w
 * values per image; values must be integers 0…255 (scale [0, 1] data by 255 first). `labels`
 * holds n integers in [0, classes). A `Uint8Array` in CHW layout is used as is (no copy).
 * `fromArrays([[0, 255, 0, 255]], [1], { c: 1, h: 2, w: 2 })`.
 */
export function fromArrays(images: Pixels, labels: ArrayLike<number>, shape: ImageShape, opts: FromArraysOptions = {}): Dataset {
  const where = 'fromArrays';
  checkShape(where, shape);
  const chw = shape.c * shape.h * shape.w;
  const n = labels.length;
  let flat: Uint8Array;
  if (images instanceof Uint8Array) flat = images;
  else if (isNested(images)) {
    if (images.length !== n) throw new ShapeError(where, `images has ${images.length} entries but labels has ${n}`);
    flat = new Uint8Array(n * chw);
    images.forEach((img, i) => {
      if (img.length !== chw) throw new ShapeError(where, `image ${i} has ${img.length} values, expected c·h·w = ${chw}`);
      copyPixels(where, img, flat, i * chw);
    });
  } else {
    flat = new Uint8Array(images.length);
    copyPixels(where, images, flat, 0);
  }
  if (flat.length !== n * chw) {
    throw new ShapeError(where, `images has ${flat.length} values but ${n} labels × ${fmtDims([shape.c, shape.h, shape.w])} need ${n * chw}`);
  }
  if (opts.layout === 'hwc' && shape.c > 1) flat = hwcToChw(flat, n, shape);
  const lab = new Uint8Array(n);
  let max = -1;
  for (let i = 0; i < n; i++) {
    const v = labels[i] as number;
    if (!Number.isInteger(v) || v < 0 || v > 255) throw new ValueError(where, `labels[${i}] must be an integer in [0, 255], got ${v}`);
    lab[i] = v;
    if (v > max) max = v;
  }
  const classes = opts.classes ?? max + 1;
  const ds: Dataset = { images: flat, labels: lab, n, shape: { ...shape }, classes, ...meta(opts) };
  assertDataset(where, ds);
  return ds;
}

function meta(o: { classNames?: readonly string[]; norm?: Normalize }): Pick<Dataset, 'classNames' | 'norm'> {
  return { ...(o.classNames ? { classNames: o.classNames } : {}), ...(o.norm ? { norm: o.norm } : {}) };
}

/** The images at `indices` (in that order, repeats allowed), copied into a new Dataset. */
export function subset(ds: Dataset, indices: ArrayLike<number>): Dataset {
  assertDataset('subset', ds);
  const chw = ds.shape.c * ds.shape.h * ds.shape.w;
  const images = new Uint8Array(indices.length * chw);
  const labels = new Uint8Array(indices.length);
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k] as number;
    if (!Number.isInteger(i) || i < 0 || i >= ds.n) throw new ValueError('subset', `indices[${k}] must be an integer in [0, ${ds.n}), got ${i}`);
    images.set(ds.images.subarray(i * chw, (i + 1) * chw), k * chw);
    labels[k] = ds.labels[i] as number;
  }
  return { images, labels, n: indices.length, shape: ds.shape, classes: ds.classes, ...meta(ds) };
}

/** Number of images per class, [classes]. */
export function classCounts(ds: Dataset): number[] {
  const counts = new Array<number>(ds.classes).fill(0);
  for (let i = 0; i < ds.n; i++) counts[ds.labels[i] as number]! += 1;
  return counts;
}

/** Throws ShapeError/ValueError unless `ds` is self-consistent (sizes, label range). */
export function assertDataset(where: string, ds: Dataset): void {
  checkShape(where, ds.shape);
  const chw = ds.shape.c * ds.shape.h * ds.shape.w;
  if (!Number.isInteger(ds.n) || ds.n < 0) throw new ValueError(where, `dataset n must be a non-negative integer, got ${ds.n}`);
  if (!(ds.images instanceof Uint8Array) || ds.images.length !== ds.n * chw) {
    throw new ShapeError(where, `dataset images must be a Uint8Array of n·c·h·w = ${ds.n * chw} values, got ${ds.images?.length}`);
  }
  if (!(ds.labels instanceof Uint8Array) || ds.labels.length !== ds.n) {
    throw new ShapeError(where, `dataset labels must be a Uint8Array of n = ${ds.n} values, got ${ds.labels?.length}`);
  }
  if (!Number.isInteger(ds.classes) || ds.classes < 1 || ds.classes > 256) {
    throw new ValueError(where, `dataset classes must be an integer in [1, 256], got ${ds.classes}`);
  }
  for (let i = 0; i < ds.n; i++) {
    if ((ds.labels[i] as number) >= ds.classes) throw new ValueError(where, `labels[${i}] = ${ds.labels[i]} is not below classes = ${ds.classes}`);
  }
}

function checkShape(where: string, s: ImageShape): void {
  const ok = [s?.c, s?.h, s?.w].every((d) => Number.isInteger(d) && (d as number) > 0);
  if (!ok) throw new ShapeError(where, `shape must be { c, h, w } of positive integers, got ${JSON.stringify(s)}`);
}

function isNested(x: Pixels): x is readonly ArrayLike<number>[] {
  return Array.isArray(x) && x.length > 0 && typeof x[0] === 'object' && x[0] !== null;
}

function copyPixels(where: string, src: ArrayLike<number>, out: Uint8Array, offset: number): void {
  for (let i = 0; i < src.length; i++) {
    const v = src[i] as number;
    if (!Number.isInteger(v) || v < 0 || v > 255) throw new ValueError(where, `pixel values must be integers in [0, 255], got ${v} at index ${offset + i}`);
    out[offset + i] = v;
  }
}

function hwcToChw(src: Uint8Array, n: number, { c, h, w }: ImageShape): Uint8Array {
  const out = new Uint8Array(src.length);
  const hw = h * w;
  for (let i = 0; i < n; i++) {
    const base = i * c * hw;
    for (let p = 0; p < hw; p++) for (let ch = 0; ch < c; ch++) out[base + ch * hw + p] = src[base + p * c + ch] as number;
  }
  return out;
}
