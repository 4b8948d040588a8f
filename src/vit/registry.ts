import type { SessionOptions } from '../graph/runtime.js';
import { blockMacs, stemHeadMacs } from '../reward/cost.js';
import { ValueError } from '../tensor/errors.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Trainable } from '../train/fit.js';
import { create as createVit, forward as forwardVit, type VitModel, fromStateDict as vitFromStateDict } from './api.js';
import { numTokens, resolveConfig, VIT_PRESETS, type VitConfig, type VitPreset } from './config.js';
import { countParams as countVitParams } from './params.js';
import { create as createSret, forward as forwardSret, type SretModel } from './sret/api.js';
import { fromStateDict as sretFromStateDict } from './sret/checkpoint.js';
import { isSretPreset, resolveSretConfig, SRET_PRESETS, type SretConfig, type SretPreset } from './sret/config.js';
import { sretMacs } from './sret/flops.js';
import { countParams as countSretParams } from './sret/params.js';
import { sretTrainable } from './sret/trainer.js';
import { vitTrainable } from './trainer.js';

/**
 * One entry point over the model families, for the CLI and benchmarks: configs are a tagged union
 * on `kind`, and every dispatch below is an exhaustive switch over it.
 */

export type ModelConfig = VitConfig | SretConfig;

/** Exhaustiveness guard of the switches below; reached only with an unknown kind at run time. */
function assertNeverKind(where: string, c: never): never {
  throw new ValueError(where, `unknown model kind '${String((c as { kind?: unknown })?.kind)}'`);
}
export type ModelPreset = VitPreset | SretPreset;
export type Model = VitModel | SretModel;

/** Every preset name, ViT then SReT. */
export const MODEL_PRESETS: readonly ModelPreset[] = [...(Object.keys(VIT_PRESETS) as VitPreset[]), ...(Object.keys(SRET_PRESETS) as SretPreset[])];

export function isModelPreset(name: string): name is ModelPreset {
  return (MODEL_PRESETS as readonly string[]).includes(name);
}

/** The config of a preset name, or a validated config. */
export function resolveModelConfig(presetOrConfig: ModelPreset | ModelConfig): ModelConfig {
  if (typeof presetOrConfig === 'string') {
    if (isSretPreset(presetOrConfig)) return resolveSretConfig(presetOrConfig, 'createModel');
    if (!isModelPreset(presetOrConfig)) throw new ValueError('createModel', `unknown preset '${presetOrConfig}'; presets are ${MODEL_PRESETS.join(', ')}`);
    return resolveConfig(presetOrConfig);
  }
  const c = presetOrConfig;
  switch (c.kind) {
    case 'vit':
      return resolveConfig(c);
    case 'sret':
      return resolveSretConfig(c, 'createModel');
    default:
      return assertNeverKind('createModel', c);
  }
}

/** A freshly initialised model of any family: `createModel('fmnist-sret', { seed: 0 })`. */
export function createModel(presetOrConfig: ModelPreset | ModelConfig, opts: { readonly seed?: number } = {}): Model {
  const c = resolveModelConfig(presetOrConfig);
  switch (c.kind) {
    case 'vit':
      return createVit(c, opts);
    case 'sret':
      return createSret(c, opts);
    default:
      return assertNeverKind('createModel', c);
  }
}

/**
 * A model from a config (e.g. a checkpoint sidecar's) and a state dict: timm keys for a ViT; for an
 * SReT the reference layout or the compact one `train.fit` checkpoints (parameters + BN buffers).
 */
export function modelFromStateDict(config: ModelConfig, sd: Readonly<Record<string, Tensor>>): Model {
  const c = resolveModelConfig(config);
  switch (c.kind) {
    case 'vit':
      return vitFromStateDict(c, sd);
    case 'sret':
      return sretFromStateDict(c, sd);
    default:
      return assertNeverKind('modelFromStateDict', c);
  }
}

export interface ModelTrainableOptions {
  readonly labelSmoothing?: number;
  /** SReT only: seeds the permutation and DropPath draws. */
  readonly seed?: number;
  readonly session?: SessionOptions;
}

/** The `train.fit` adapter of any model (`vitTrainable` / `sretTrainable`). */
export function modelTrainable(model: Model, opts: ModelTrainableOptions = {}): Promise<Trainable & { readonly model: Model }> {
  const c = model.config;
  switch (c.kind) {
    case 'vit':
      return vitTrainable(model as VitModel, { labelSmoothing: opts.labelSmoothing, session: opts.session });
    case 'sret':
      return sretTrainable(model as SretModel, opts);
    default:
      return assertNeverKind('modelTrainable', c);
  }
}

/** Eval logits [B, K] of any model for normalised images [B, C, H, W]. */
export function modelForward(model: Model, images: Tensor, opts: { readonly session?: SessionOptions } = {}): Promise<Tensor<'float32'>> {
  const c = model.config;
  switch (c.kind) {
    case 'vit':
      return forwardVit(model as VitModel, images, opts.session);
    case 'sret':
      return forwardSret(model as SretModel, images, { session: opts.session });
    default:
      return assertNeverKind('modelForward', c);
  }
}

/** Trainable parameters and analytic MACs per image (batch 1, no factor 2) of a config. */
export function modelSummary(c: ModelConfig): { readonly kind: ModelConfig['kind']; readonly params: number; readonly macs: number } {
  switch (c.kind) {
    case 'vit':
      return { kind: c.kind, params: countVitParams(c), macs: stemHeadMacs(c) + c.depth * blockMacs(c, numTokens(c)) };
    case 'sret':
      return { kind: c.kind, params: countSretParams(c), macs: sretMacs(c).total };
    default:
      return assertNeverKind('modelSummary', c);
  }
}
