import { describe, expect, it } from 'vitest';
import { APT_NORM, augmentImage, DEFAULT_AUGMENT, drawAugment, FASHION_MNIST_NORM, normalizeImages } from '../../src/data/index.js';
import { ShapeError, ValueError } from '../../src/tensor/errors.js';
import { Rng } from '../../src/tensor/rng.js';

const shape = { c: 1, h: 4, w: 4 };
const img = Uint8Array.from({ length: 16 }, (_, i) => i + 1); // row y = [4y+1 … 4y+4]
const at = (a: Uint8Array, y: number, x: number, w = 4) => a[y * w + x];

/** Reference: torchvision's RandomCrop(padding) then hflip, written the slow obvious way. */
function reference(src: Uint8Array, s: { c: number; h: number; w: number }, top: number, left: number, flip: boolean, p: number): Uint8Array {
  const { c, h, w } = s;
  const ph = h + 2 * p;
  const pw = w + 2 * p;
  const padded = new Uint8Array(c * ph * pw);
  for (let ch = 0; ch < c; ch++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) padded[(ch * ph + y + p) * pw + x + p] = src[(ch * h + y) * w + x]!;
  const out = new Uint8Array(c * h * w);
  for (let ch = 0; ch < c; ch++)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        const crop = padded[(ch * ph + y + top) * pw + x + left]!;
        out[(ch * h + y) * w + (flip ? w - 1 - x : x)] = crop;
      }
  return out;
}

describe('augmentImage (pixel space)', () => {
  it('centre crop without flip is the identity', () => {
    expect(augmentImage(img, shape, { top: 2, left: 2, flip: false })).toEqual(img);
  });

  it('top = left = 0 shifts the image down-right by the padding, zero pixels enter', () => {
    const out = augmentImage(img, shape, { top: 0, left: 0, flip: false });
    expect(Array.from(out.subarray(0, 8))).toEqual(new Array(8).fill(0)); // two padded rows
    expect([at(out, 2, 0), at(out, 2, 1), at(out, 2, 2), at(out, 2, 3)]).toEqual([0, 0, 1, 2]);
    expect(at(out, 3, 3)).toBe(6); // img[1][1]
  });

  it('top = left = 2p shifts up-left', () => {
    const out = augmentImage(img, shape, { top: 4, left: 4, flip: false });
    expect(at(out, 0, 0)).toBe(11); // img[2][2]
    expect(at(out, 1, 1)).toBe(16); // img[3][3]
    expect([at(out, 0, 2), at(out, 2, 0)]).toEqual([0, 0]);
  });

  it('flip mirrors each row after the crop', () => {
    const out = augmentImage(img, shape, { top: 2, left: 2, flip: true });
    expect(Array.from(out.subarray(0, 4))).toEqual([4, 3, 2, 1]);
    const shifted = augmentImage(img, shape, { top: 2, left: 3, flip: true }); // crop moves right by 1, then mirror
    expect(Array.from(shifted.subarray(0, 4))).toEqual([0, 4, 3, 2]);
  });

  it('matches the pad → crop → flip reference for every draw (2 channels, non-square, p = 2 and 1)', () => {
    const s = { c: 2, h: 5, w: 6 };
    const rng = new Rng(3);
    const src = Uint8Array.from({ length: 60 }, () => 1 + rng.int(255));
    for (const p of [1, 2])
      for (let top = 0; top <= 2 * p; top++)
        for (let left = 0; left <= 2 * p; left++)
          for (const flip of [false, true]) expect(augmentImage(src, s, { top, left, flip }, p)).toEqual(reference(src, s, top, left, flip, p));
  });

  it('rejects offsets outside the padded image and wrong sizes', () => {
    expect(() => augmentImage(img, shape, { top: 5, left: 0, flip: false })).toThrow(ValueError);
    expect(() => augmentImage(img.subarray(1), shape, { top: 0, left: 0, flip: false })).toThrow(ShapeError);
  });
});

describe('drawAugment', () => {
  it('makes three draws in torchvision order: top, left, flip', () => {
    const a = new Rng(11);
    const b = new Rng(11);
    for (let k = 0; k < 20; k++) {
      const d = drawAugment(a, DEFAULT_AUGMENT);
      expect(d).toEqual({ top: b.int(5), left: b.int(5), flip: b.uniform() < 0.5 });
    }
  });

  it('covers every offset and flips about half the time', () => {
    const rng = new Rng(1);
    const tops = new Array(5).fill(0);
    let flips = 0;
    const N = 4000;
    for (let k = 0; k < N; k++) {
      const d = drawAugment(rng, DEFAULT_AUGMENT);
      tops[d.top] += 1;
      flips += d.flip ? 1 : 0;
    }
    for (const t of tops) expect(Math.abs(t / N - 0.2)).toBeLessThan(0.03);
    expect(Math.abs(flips / N - 0.5)).toBeLessThan(0.03);
  });

  it('padding 0 still draws three times (the stream does not shift)', () => {
    const a = new Rng(2);
    const b = new Rng(2);
    expect(drawAugment(a, { padding: 0, flip: 0.5 }).top).toBe(0);
    b.next32();
    b.next32();
    b.next32();
    expect(a.next32()).toBe(b.next32());
  });
});

describe('normalizeImages', () => {
  it('is (p/255 − mean)/std in float32, rounded as torchvision does', () => {
    const out = normalizeImages(Uint8Array.from([0, 255, 128, 73]), { c: 1, h: 2, w: 2 }, FASHION_MNIST_NORM);
    const f = Math.fround;
    const want = [0, 255, 128, 73].map((p) => f(f(f(p / 255) - f(0.286)) / f(0.353)));
    expect(Array.from(out)).toEqual(want);
    expect(out[0]).toBeCloseTo(-0.286 / 0.353, 6);
    expect(out[1]).toBeCloseTo((1 - 0.286) / 0.353, 6);
  });

  it('APT parity statistics map 0 → −1 and 255 → 1', () => {
    expect(Array.from(normalizeImages(Uint8Array.from([0, 255]), { c: 1, h: 1, w: 2 }, APT_NORM))).toEqual([-1, 1]);
  });

  it('applies per-channel statistics along the channel axis of each CHW image', () => {
    const px = Uint8Array.from([255, 255, 255, 255]); // 2 images × 2 channels × 1×1
    const out = normalizeImages(px, { c: 2, h: 1, w: 1 }, { mean: [0, 0.5], std: [1, 0.5] });
    expect(Array.from(out)).toEqual([1, 1, 1, 1]); // (1 − 0)/1 and (1 − 0.5)/0.5
    const zeros = normalizeImages(new Uint8Array(4), { c: 2, h: 1, w: 1 }, { mean: [0, 0.5], std: [1, 0.5] });
    expect(Array.from(zeros)).toEqual([0, -1, 0, -1]);
  });

  it('rejects bad statistics', () => {
    const s = { c: 1, h: 1, w: 1 };
    expect(() => normalizeImages(new Uint8Array(1), s, { mean: 0, std: 0 })).toThrow(ValueError);
    expect(() => normalizeImages(new Uint8Array(1), s, { mean: [0, 1], std: 1 })).toThrow(/needs 1 channel/);
    expect(() => normalizeImages(new Uint8Array(3), { c: 1, h: 1, w: 2 }, APT_NORM)).toThrow(ShapeError);
  });
});
