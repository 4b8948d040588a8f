/**
 * The tiny ViT training setup shared by fit.test.ts and its child process kill-fit.ts: both must
 * build exactly the same run for a resumed run to be compared bit for bit with an uninterrupted one.
 */
import { type Dataset, fashionMnist } from '../../src/data/index.js';
import type { Trainable } from '../../src/train/fit.js';
import type { Recipe } from '../../src/train/index.js';
import { create, VIT_PRESETS, type VitConfig, type VitModel, vitTrainable } from '../../src/vit/index.js';

/** fmnist-vit-t's family at toy size: 28×28×1, patch 7 → 16 patches + CLS, dim 16, 1 block, 2 heads. */
export const TINY: VitConfig = { ...VIT_PRESETS['fmnist-vit-t'], name: 'tiny-vit', dim: 16, depth: 1, heads: 2, patchSize: 7 };

/** 40 train images (4 per class) → 5 updates per epoch; 2 epochs = 10 updates. */
export const PER_EPOCH = 5;
export const EPOCHS = 2;
export const TOTAL = PER_EPOCH * EPOCHS;

/** AdamW with warmup + cosine, clipping and augmentation: every piece of state a resume must restore. */
export function tinyRecipe(seed = 1): Recipe {
  return {
    epochs: EPOCHS,
    batchSize: 8,
    optimizer: { kind: 'adamw', lr: 3e-3, weightDecay: 0.05 },
    warmupFraction: 0.2,
    clipNorm: 1,
    augment: true,
    seed,
  };
}

export async function tinyData(): Promise<{ train: Dataset; test: Dataset }> {
  const { train, test } = await fashionMnist({ limitPerClass: 4 });
  return { train, test };
}

/** A fresh tiny ViT (init seed `seed`) as `fit` trains it, on one ORT thread (deterministic). */
export function tinyTrainable(seed = 0): Promise<Trainable & { readonly model: VitModel }> {
  return vitTrainable(create(TINY, { seed }), { labelSmoothing: 0.1, session: { intraOpThreads: 1 } });
}

/** All parameters' bytes in key order, for bitwise comparison. */
export function paramBytes(t: Pick<Trainable, 'params'>): Buffer {
  return Buffer.concat(
    [...t.params.keys()].sort().map((k) => {
      const d = t.params.get(k)?.data as Float32Array;
      return Buffer.from(d.buffer, d.byteOffset, d.byteLength);
    }),
  );
}
