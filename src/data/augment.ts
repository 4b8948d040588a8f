import { ShapeError, ValueError } from '../tensor/errors.js';
import type { Rng } from '../tensor/rng.js';
import type { ImageShape, Normalize } from './dataset.js';

/**
 * Training augmentation, torchvision's `Compose([RandomCrop(h, padding), RandomHorizontalFlip(flip)])`
 * on the uint8 image: zero-pad `padding` pixels on every side (zero *pixels*, so after normalisation
 * the border reads (0 − mean)/std), take a random h×w crop, then mirror left–right with
 * probability `flip`.
 */
export interface Augment {
  readonly padding: number;
  readonly flip: number;
}

/** `RandomCrop(28, padding=2)` + `RandomHorizontalFlip(p=0.5)`: what `augment: true` means. */
export const DEFAULT_AUGMENT: Augment = { padding: 2, flip: 0.5 };

/** One sample's draws: crop offsets into the padded image (0…2·padding) and the flip decision. */
export interface AugmentDraw {
  readonly top: number;
  readonly left: number;
  readonly flip: boolean;
}

/**
 * Draws one sample's augmentation, always three draws in torchvision's order:
 * `top = rng.int(2p + 1)`, `left = rng.int(2p + 1)`, `flip = rng.uniform() < aug.flip`
 * (RandomCrop.get_params draws i then j; RandomHorizontalFlip draws `torch.rand(1) < p`).
 */
export function drawAugment(rng: Rng, aug: Augment): AugmentDraw {
  const span = 2 * aug.padding + 1;
  const top = rng.int(span);
  const left = rng.int(span);
  return { top, left, flip: rng.uniform() < aug.flip };
}

/** Normalises sugar: `true` → DEFAULT_AUGMENT, partial records filled from it; validates. */
export function resolveAugment(where: string, a: boolean | Partial<Augment> | undefined): Augment | null {
  if (a === undefined || a === false) return null;
  const aug = a === true ? DEFAULT_AUGMENT : { ...DEFAULT_AUGMENT, ...a };
  if (!Number.isInteger(aug.padding) || aug.padding < 0) throw new ValueError(where, `augment.padding must be a non-negative integer, got ${aug.padding}`);
  if (!(aug.flip >= 0 && aug.flip <= 1)) throw new ValueError(where, `augment.flip must be a probability in [0, 1], got ${aug.flip}`);
  return aug;
}

/**
 * Lookup table [c·256]: entry ch·256 + p is torchvision's float32 result for pixel p of channel ch,
 * `ToTensor` (p/255 in float32) then `Normalize` ((x − mean)/std in float32), rounded step by step
 * with Math.fround to mirror PyTorch's float32 arithmetic (IEEE, correctly rounded) step by step.
 */
export function normalizeTable(where: string, norm: Normalize, c: number): Float32Array {
  const perChannel = (v: number | readonly number[], what: string): number[] => {
    const arr = typeof v === 'number' ? new Array<number>(c).fill(v) : [...v];
    if (arr.length !== c) throw new ValueError(where, `normalize.${what} needs ${c} channel values, got ${arr.length}`);
    return arr;
  };
  const mean = perChannel(norm.mean, 'mean');
  const std = perChannel(norm.std, 'std');
  const lut = new Float32Array(c * 256);
  for (let ch = 0; ch < c; ch++) {
    const m = mean[ch] as number;
    const s = std[ch] as number;
    if (!Number.isFinite(m)) throw new ValueError(where, `normalize.mean[${ch}] must be finite, got ${m}`);
    if (!(s > 0) || !Number.isFinite(s)) throw new ValueError(where, `normalize.std[${ch}] must be finite and > 0, got ${s}`);
    const m32 = Math.fround(m);
    const s32 = Math.fround(s);
    for (let p = 0; p < 256; p++) lut[ch * 256 + p] = Math.fround(Math.fround(Math.fround(p / 255) - m32) / s32);
  }
  return lut;
}

/**
 * Writes one image, cropped/flipped by `draw` (or unchanged when null) and normalised through `lut`,
 * into `out[outOffset … + c·h·w)`. Source: `src[srcOffset …]`, uint8 CHW. Output pixel (ch, y, x)
 * reads source pixel (ch, top + y − p, left + x′ − p) with x′ = w − 1 − x when flipped, else x;
 * outside the image it is the zero pixel, lut[ch·256].
 */
export function writeSample(
  src: Uint8Array,
  srcOffset: number,
  shape: ImageShape,
  lut: Float32Array,
  out: Float32Array,
  outOffset: number,
  draw: AugmentDraw | null,
  padding: number,
): void {
  const { c, h, w } = shape;
  const hw = h * w;
  if (draw === null || (draw.top === padding && draw.left === padding && !draw.flip)) {
    for (let ch = 0; ch < c; ch++) {
      const base = ch * 256;
      const s0 = srcOffset + ch * hw;
      const o0 = outOffset + ch * hw;
      for (let k = 0; k < hw; k++) out[o0 + k] = lut[base + (src[s0 + k] as number)] as number;
    }
    return;
  }
  const dy = draw.top - padding;
  const dx = draw.left - padding;
  for (let ch = 0; ch < c; ch++) {
    const base = ch * 256;
    const zero = lut[base] as number;
    for (let y = 0; y < h; y++) {
      const o = outOffset + ch * hw + y * w;
      const sy = y + dy;
      if (sy < 0 || sy >= h) {
        out.fill(zero, o, o + w);
        continue;
      }
      const row = srcOffset + ch * hw + sy * w;
      for (let x = 0; x < w; x++) {
        const sx = (draw.flip ? w - 1 - x : x) + dx;
        out[o + x] = sx < 0 || sx >= w ? zero : (lut[base + (src[row + sx] as number)] as number);
      }
    }
  }
}

/**
 * One image in pixel space, cropped and flipped by `draw` (zero pixels where the crop leaves the
 * image): the uint8 twin of what `batches` feeds, for tests and visualisation. `image`: [c·h·w].
 */
export function augmentImage(image: Uint8Array, shape: ImageShape, draw: AugmentDraw, padding: number = DEFAULT_AUGMENT.padding): Uint8Array {
  const where = 'augmentImage';
  if (image.length !== shape.c * shape.h * shape.w) throw new ShapeError(where, `image has ${image.length} pixels, shape needs ${shape.c * shape.h * shape.w}`);
  resolveAugment(where, { padding });
  for (const k of ['top', 'left'] as const) {
    const v = draw[k];
    if (!Number.isInteger(v) || v < 0 || v > 2 * padding) throw new ValueError(where, `draw.${k} must be an integer in [0, ${2 * padding}], got ${v}`);
  }
  const lut = new Float32Array(shape.c * 256);
  for (let ch = 0; ch < shape.c; ch++) for (let p = 0; p < 256; p++) lut[ch * 256 + p] = p;
  const out = new Float32Array(image.length);
  writeSample(image, 0, shape, lut, out, 0, draw, padding);
  return Uint8Array.from(out);
}

/** Pixels 0…255 (any count, CHW per image, `c` channels) → normalised float32 through the same table as `batches`. */
export function normalizeImages(images: Uint8Array, shape: ImageShape, norm: Normalize): Float32Array {
  const lut = normalizeTable('normalizeImages', norm, shape.c);
  const hw = shape.h * shape.w;
  if (images.length % (shape.c * hw) !== 0) throw new ShapeError('normalizeImages', `${images.length} pixels is not a multiple of c·h·w = ${shape.c * hw}`);
  const out = new Float32Array(images.length);
  for (let i = 0; i < images.length; i++) out[i] = lut[(Math.floor(i / hw) % shape.c) * 256 + (images[i] as number)] as number;
  return out;
}
