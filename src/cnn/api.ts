import { compile, promiseCache, type Session, type SessionOptions } from '../graph/runtime.js';
import { DTypeError, fmtDims, ShapeError } from '../tensor/errors.js';
import { Rng } from '../tensor/rng.js';
import { clone, type Tensor } from '../tensor/tensor.js';
import type { Trainable } from '../train/fit.js';
import type { ParamStore } from '../train/optim.js';
import { updateRunningStats } from '../train/running-stats.js';
import { GradStep } from '../train/step.js';
import { type CnnConfig, type CnnPreset, resolveCnnConfig } from './config.js';
import { bnStatName, cnnInferenceGraph, cnnTrainGraph } from './model.js';
import { checkCnnStateDict, cnnParamShapes, initCnnParams, layerShapes } from './params.js';

/** A CNN: its config and its tensors (parameters and BN buffers), PyTorch-named. */
export interface CnnModel {
  readonly config: CnnConfig;
  readonly params: Record<string, Tensor<'float32'>>;
}

/** A freshly initialised CNN (`cnn.create('fmnist-resnet20', { seed: 0 })`). */
export function create(presetOrConfig: CnnPreset | CnnConfig, opts: { readonly seed?: number } = {}): CnnModel {
  const config = resolveCnnConfig(presetOrConfig);
  return { config, params: initCnnParams(config, new Rng(opts.seed ?? 0)) };
}

/** A CNN from a state dict (missing/unexpected keys → CheckpointError, shapes → ShapeError). */
export function fromStateDict(presetOrConfig: CnnPreset | CnnConfig, sd: Readonly<Record<string, Tensor>>): CnnModel {
  const config = resolveCnnConfig(presetOrConfig);
  checkCnnStateDict('cnn.fromStateDict', config, sd);
  return { config, params: Object.fromEntries(cnnParamShapes(config).map((s) => [s.name, sd[s.name] as Tensor<'float32'>])) };
}

export function toStateDict(model: CnnModel): Record<string, Tensor<'float32'>> {
  return Object.fromEntries(Object.entries(model.params).map(([k, t]) => [k, clone(t)]));
}

function checkImages(where: string, c: CnnConfig, images: Tensor): void {
  const want = [c.inChans, c.imageSize, c.imageSize];
  if (images?.type !== 'float32') throw new DTypeError(where, `images must be float32 [B, ${want.join(', ')}], got ${images?.type}`);
  if (images.dims.length !== 4 || images.dims[0] === 0 || images.dims.slice(1).some((d, i) => d !== want[i])) {
    throw new ShapeError(where, `images must be [B, ${want.join(', ')}] float32, got ${fmtDims(images.dims)} ${images.type}`);
  }
}

const sessions = promiseCache<Session>();
const steps = promiseCache<GradStep>();

/** Logits [B, classes] in eval mode (BN running statistics) for images [B, C, H, W]. */
export async function forward(model: CnnModel, images: Tensor, opts: SessionOptions = {}): Promise<Tensor<'float32'>> {
  checkImages('cnn.forward', model.config, images);
  const s = await sessions(JSON.stringify([model.config, opts]), () => compile(cnnInferenceGraph(model.config), opts));
  return (await s.run({ ...model.params, images })).logits as Tensor<'float32'>;
}

/**
 * A CNN as `fit` trains it: parameters shared with `model.params`, BN running statistics kept as
 * buffers and updated after every step as PyTorch does (momentum m: r ← (1 − m)·r + m·batch, with
 * the unbiased batch variance).
 */
export async function cnnTrainable(
  model: CnnModel,
  opts: { readonly labelSmoothing?: number; readonly session?: SessionOptions } = {},
): Promise<Trainable & { readonly model: CnnModel }> {
  const c = model.config;
  const shapes = cnnParamShapes(c);
  const trainable = shapes.filter((s) => !s.buffer).map((s) => s.name);
  const step = await steps(JSON.stringify([c, opts]), () => GradStep.compile(cnnTrainGraph(c, opts), trainable, opts.session));
  const params: ParamStore = new Map(trainable.map((n) => [n, model.params[n] as Tensor<'float32'>]));
  const buffers: ParamStore = new Map(shapes.filter((s) => s.buffer).map((s) => [s.name, model.params[s.name] as Tensor<'float32'>]));
  const bns = c.layers.filter((l) => l.kind === 'bn');
  // Values per channel each BN averages over, per sample: its map's H·W (1 for vectors).
  const shapesByLayer = layerShapes(c);
  const perSample = new Map(bns.map((l) => [l.name, (shapesByLayer.get(l.name) as number[]).slice(1).reduce((p, d) => p * d, 1)]));
  return {
    name: c.name,
    config: c,
    model,
    params,
    buffers,
    step: async (batch) => {
      // The training form of BN reads no running statistics, but they are inputs of its node.
      const res = await step.run(params, { ...Object.fromEntries(buffers), images: batch.images, labels: batch.labels });
      const b = batch.images.dims[0] as number;
      for (const l of bns) {
        const mean = res.outputs[bnStatName(l.name, 'mean')] as Tensor<'float32'>;
        const variance = res.outputs[bnStatName(l.name, 'var')] as Tensor<'float32'>;
        const n = b * (perSample.get(l.name) as number);
        const [rm, rv] = [buffers.get(`${l.name}.running_mean`) as Tensor<'float32'>, buffers.get(`${l.name}.running_var`) as Tensor<'float32'>];
        updateRunningStats(rm.data, rv.data, mean.data, variance.data, l.momentum, n);
      }
      return res;
    },
    predict: (images) => forward(model, images, opts.session),
  };
}
