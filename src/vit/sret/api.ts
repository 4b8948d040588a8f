import { compile, promiseCache, type Session, type SessionOptions } from '../../graph/runtime.js';
import { DTypeError, fmtDims, ShapeError } from '../../tensor/errors.js';
import { Rng } from '../../tensor/rng.js';
import type { Tensor } from '../../tensor/tensor.js';
import { resolveSretConfig, type SretConfig, type SretPreset } from './config.js';
import { inferenceGraph } from './model.js';
import { initParams } from './params.js';
import { drawPermutations } from './schedule.js';

/** An SReT: config, trainable parameters (de-duplicated reference keys) and the stem's BN buffers. */
export interface SretModel {
  readonly config: SretConfig;
  readonly params: Record<string, Tensor<'float32'>>;
  /** `patch_embed.bn<i>.running_mean` / `running_var`, updated in TS when training with `bn: 'train'`. */
  readonly buffers: Record<string, Tensor<'float32'>>;
  /** BN updates so far (the reference's `num_batches_tracked`, written back on export). */
  readonly stats: { numBatchesTracked: number };
}

export interface SretCreateOptions {
  readonly seed?: number;
}

/** A freshly initialised SReT (`sret.create('fmnist-sret', { seed: 0 })`); PyTorch-default init (spec §3). */
export function create(presetOrConfig: SretPreset | SretConfig, opts: SretCreateOptions = {}): SretModel {
  const config = resolveSretConfig(presetOrConfig, 'sret.create');
  return { config, ...initParams(config, new Rng(opts.seed ?? 0)), stats: { numBatchesTracked: 0 } };
}

/** Throws unless `images` is [B, C, H, W] float32 for `c` (no resolution change: pos_embed is tied to imageSize). */
export function checkImages(where: string, c: SretConfig, images: Tensor): void {
  const want = [c.inChans, c.imageSize, c.imageSize];
  if (images?.type !== 'float32') throw new DTypeError(where, `images must be float32 [B, ${want.join(', ')}], got ${images?.type}`);
  if (images.dims.length !== 4 || images.dims[0] === 0 || images.dims.slice(1).some((d, i) => d !== want[i])) {
    throw new ShapeError(
      where,
      `images must be [B, ${want.join(', ')}] float32 (${c.name} has no position interpolation), got ${fmtDims(images.dims)} ${images.type}`,
    );
  }
}

const sessions = promiseCache<Session>();

/** The cached inference session of a config (weights, buffers and permutations fed as inputs). */
export function inferenceSession(c: SretConfig, opts: SessionOptions = {}): Promise<Session> {
  return sessions(JSON.stringify([c, opts]), () => compile(inferenceGraph(c), opts));
}

export interface SretForwardOptions {
  /**
   * Draws this forward's permutations (config `'random'`; the reference draws a fresh π on every
   * forward, in eval too). Default `new Rng(0)`: the same π every call, for reproducible eval.
   */
  readonly rng?: Rng;
  /** Explicit permutation feeds (`perm.<s>.<a>`), overriding the draw. */
  readonly perms?: Readonly<Record<string, Tensor<'int64'>>>;
  readonly session?: SessionOptions;
}

/** Logits [B, K] for normalised images [B, C, H, W] float32 (eval: BN running stats, no DropPath). */
export async function forward(model: SretModel, images: Tensor, opts: SretForwardOptions = {}): Promise<Tensor<'float32'>> {
  checkImages('sret.forward', model.config, images);
  const s = await inferenceSession(model.config, opts.session);
  const perms = opts.perms ?? drawPermutations(model.config, opts.rng ?? new Rng(0));
  const out = await s.run({ ...model.params, ...model.buffers, ...perms, images });
  return out.logits as Tensor<'float32'>;
}
