import { compile, promiseCache, type Session, type SessionOptions } from '../graph/runtime.js';
import { DTypeError, fmtDims, ShapeError } from '../tensor/errors.js';
import { Rng } from '../tensor/rng.js';
import { clone, numel, type Tensor } from '../tensor/tensor.js';
import { resolveConfig, type VitConfig, type VitPreset } from './config.js';
import { inferenceGraph } from './model.js';
import { checkStateDict, type InitOptions, initParams } from './params.js';

/** A ViT: its config and its parameters, keyed as timm keys them. */
export interface VitModel {
  readonly config: VitConfig;
  readonly params: Record<string, Tensor<'float32'>>;
}

export interface CreateOptions extends InitOptions {
  readonly seed?: number;
}

/** A freshly initialised ViT (`vit.create('fmnist-vit-t', { seed: 0 })`). */
export function create(presetOrConfig: VitPreset | VitConfig, opts: CreateOptions = {}): VitModel {
  const config = resolveConfig(presetOrConfig, 'vit.create');
  return { config, params: initParams(config, new Rng(opts.seed ?? 0), opts) };
}

/** A ViT from a timm-keyed state dict (validated: missing/extra keys → CheckpointError, shapes → ShapeError, dtypes → DTypeError). */
export function fromStateDict(presetOrConfig: VitPreset | VitConfig, stateDict: Readonly<Record<string, Tensor>>): VitModel {
  const config = resolveConfig(presetOrConfig, 'vit.fromStateDict');
  checkStateDict('vit.fromStateDict', config, stateDict);
  const params: Record<string, Tensor<'float32'>> = {};
  for (const k of Object.keys(stateDict).sort()) params[k] = stateDict[k] as Tensor<'float32'>;
  return { config, params };
}

/** The parameters as a timm-keyed state dict (copies). */
export function toStateDict(model: VitModel): Record<string, Tensor<'float32'>> {
  return Object.fromEntries(Object.entries(model.params).map(([k, t]) => [k, clone(t)]));
}

/** Throws unless `images` is [B, C, H, W] float32 for `c`. */
export function checkImages(where: string, c: VitConfig, images: Tensor): void {
  const want = [c.inChans, c.imageSize, c.imageSize];
  if (images?.type !== 'float32' || !(images.data instanceof Float32Array)) {
    const got = images?.type === 'float32' ? `float32 with ${images.data?.constructor?.name} data` : String(images?.type);
    throw new DTypeError(where, `images must be float32 [B, ${want.join(', ')}] (data a Float32Array), got ${got}`);
  }
  if (!Array.isArray(images.dims) || images.dims.length !== 4 || !(images.dims[0] >= 1) || images.dims.slice(1).some((d, i) => d !== want[i])) {
    throw new ShapeError(
      where,
      `images must be [B, ${want.join(', ')}] float32, got ${Array.isArray(images.dims) ? fmtDims(images.dims) : String(images.dims)} ${images.type}`,
    );
  }
  if (images.data.length !== numel(images.dims)) {
    throw new ShapeError(where, `images ${fmtDims(images.dims)} need ${numel(images.dims)} values, data has ${images.data.length}`);
  }
}

const sessions = promiseCache<Session>();

/** The cached inference session of a config (weights fed as inputs, so one session serves every model). */
export function inferenceSession(c: VitConfig, opts: SessionOptions = {}): Promise<Session> {
  return sessions(JSON.stringify([c, opts]), () => compile(inferenceGraph(c), opts));
}

/** Logits [B, classes] for normalised images [B, C, H, W] float32; any batch size. */
export async function forward(model: VitModel, images: Tensor, opts: SessionOptions = {}): Promise<Tensor<'float32'>> {
  checkImages('vit.forward', model.config, images);
  const s = await inferenceSession(model.config, opts);
  const out = await s.run({ ...model.params, images });
  return out.logits as Tensor<'float32'>;
}
