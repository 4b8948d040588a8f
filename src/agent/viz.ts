import { ShapeError } from '../tensor/errors.js';
import type { VitConfig } from '../vit/config.js';
import type { KeepPlan } from './keep-plan.js';

export interface TokenMapImage {
  readonly width: number;
  readonly height: number;
  /** 8-bit RGB, row-major. */
  readonly rgb: Uint8Array;
}

/**
 * Token maps: one row per image, one column for the image and one after each cut layer, where the
 * patches dropped so far are greyed out (dimmed and tinted blue). `pixels` are the raw images
 * [n, H, W] (uint8, single channel); `plan.kept[k][i]` are image i's kept token indices.
 */
export function renderTokenMaps(pixels: Uint8Array, count: number, c: VitConfig, plan: KeepPlan, scale = 4): TokenMapImage {
  const side = c.imageSize;
  if (c.inChans !== 1 || pixels.length !== count * side * side) {
    throw new ShapeError(
      'renderTokenMaps',
      `pixels must be ${count} single-channel ${side}×${side} images (${count * side * side} bytes), got ${pixels.length}`,
    );
  }
  const grid = side / c.patchSize;
  const cell = side * scale;
  const gap = 6;
  const cols = 1 + plan.cutLayers.length;
  const width = cols * cell + (cols + 1) * gap;
  const height = count * cell + (count + 1) * gap;
  const rgb = new Uint8Array(width * height * 3).fill(255);
  for (let i = 0; i < count; i++) {
    for (let col = 0; col < cols; col++) {
      const alive = new Uint8Array(grid * grid + 1).fill(1);
      if (col > 0) {
        alive.fill(0);
        for (const t of plan.kept[col - 1]?.[i] ?? []) alive[t] = 1;
      }
      const x0 = gap + col * (cell + gap);
      const y0 = gap + i * (cell + gap);
      for (let y = 0; y < cell; y++) {
        for (let x = 0; x < cell; x++) {
          const [py, px] = [Math.floor(y / scale), Math.floor(x / scale)];
          const p = pixels[i * side * side + py * side + px] as number;
          const token = 1 + Math.floor(py / c.patchSize) * grid + Math.floor(px / c.patchSize);
          const o = ((y0 + y) * width + x0 + x) * 3;
          if (alive[token]) rgb.set([p, p, p], o);
          else rgb.set([40 + p * 0.15, 45 + p * 0.15, 90 + p * 0.2], o);
        }
      }
    }
  }
  return { width, height, rgb };
}
