/**
 * THE one implementation of "remove output channel j of a layer and input channel j of every
 * consumer". Three levels, each built on the one below:
 *
 * 1. tensors — `sliceOutputChannels` (a conv/linear's filters and bias), `sliceBatchNorm` (its four
 *    per-channel tensors), `sliceInputChannels` (a consumer's input channels, with the NCHW column
 *    blocks of a Flatten → linear consumer);
 * 2. parameter records — `sliceChannelGroup` applies one keep list to every tensor of a
 *    `ChannelGroup` (producer, BN, consumers) found by `analyzeChannels` (./deps.ts);
 * 3. models — `removeCnnChannels` prunes a `cnn` model by a `{ layer: keep }` plan and returns the
 *    same architecture with narrower layers.
 *
 * Kept indices are always sorted, unique and in range (`checkKeep`); the order of kept channels is
 * the original order, so `keep = [0..D)` is the identity.
 */
import type { CnnModel } from '../cnn/api.js';
import type { CnnConfig, Layer } from '../cnn/config.js';
import { checkCnnStateDict } from '../cnn/params.js';
import { fmtDims, ShapeError } from '../tensor/errors.js';
import { takeAlong } from '../tensor/ndarray.js';
import type { Tensor } from '../tensor/tensor.js';
import { type ChannelGroup, cnnChannelAnalysis } from './deps.js';
import { PruneError } from './errors.js';
import type { LayerTensors } from './fold-bn.js';
import { type FloatTensor, floatTensor } from './tensors.js';

/** Kept channel indices: sorted ascending, unique, each in [0, width). */
export type Keep = Int32Array | readonly number[];

/**
 * Validates `keep` for a layer of `width` channels and returns it as an Int32Array. Throws
 * PruneError (rule 'plan-indices') naming the layer and the first bad index.
 */
export function checkKeep(where: string, layer: string, keep: Keep, width: number): Int32Array {
  if (!keep || typeof (keep as ArrayLike<number>).length !== 'number')
    throw new PruneError(where, layer, 'plan-indices', `keep must be an array of indices, got ${String(keep)}`);
  if (keep.length === 0) throw new PruneError(where, layer, 'plan-indices', `keep must hold at least one of the ${width} channels, got none`);
  for (let i = 0; i < keep.length; i++) {
    const j = keep[i] as number;
    if (!Number.isInteger(j) || j < 0 || j >= width) throw new PruneError(where, layer, 'plan-indices', `index ${j} at position ${i} is outside [0, ${width})`);
    if (i > 0 && j <= (keep[i - 1] as number)) {
      throw new PruneError(where, layer, 'plan-indices', `indices must be strictly increasing, got ${keep[i - 1]} then ${j} at position ${i}`);
    }
  }
  return Int32Array.from(keep);
}

/**
 * Keeps output channels `keep` of a conv [D, C, kh, kw] or linear [D, C] (axis 0; `axis: 1` for a
 * MatMul weight [C, D]) and of its bias [D]. → { weight [D', …], bias? [D'] }.
 */
export function sliceOutputChannels(layer: LayerTensors, keep: Keep, opts: { readonly axis?: number; readonly layer?: string } = {}): LayerTensors {
  const where = 'prune.sliceOutputChannels';
  const w = floatTensor(where, 'weight', layer?.weight);
  const axis = opts.axis ?? 0;
  const k = checkKeep(where, opts.layer ?? 'layer', keep, w.dims[axis] ?? 0);
  const out: { weight: FloatTensor; bias?: FloatTensor } = { weight: takeAlong(w, axis, k) as FloatTensor };
  if (layer.bias !== undefined) {
    const b = floatTensor(where, 'bias', layer.bias);
    if (b.dims.length !== 1 || b.dims[0] !== w.dims[axis]) throw new ShapeError(where, `bias must be [${w.dims[axis]}], got ${fmtDims(b.dims)}`);
    out.bias = takeAlong(b, 0, k) as FloatTensor;
  }
  return out;
}

/** BatchNorm tensors by role, each [D]. */
export interface BatchNormParams {
  readonly weight: FloatTensor;
  readonly bias: FloatTensor;
  readonly running_mean: FloatTensor;
  readonly running_var: FloatTensor;
}

/** Keeps channels `keep` of a BatchNorm's γ, β, running mean and running variance ([D] → [D']). */
export function sliceBatchNorm(bn: BatchNormParams, keep: Keep, opts: { readonly layer?: string } = {}): BatchNormParams {
  const where = 'prune.sliceBatchNorm';
  const d = floatTensor(where, 'weight', bn?.weight).dims[0] ?? 0;
  const k = checkKeep(where, opts.layer ?? 'bn', keep, d);
  const one = (key: keyof BatchNormParams) => {
    const t = floatTensor(where, key, bn[key]);
    if (t.dims.length !== 1 || t.dims[0] !== d) throw new ShapeError(where, `${key} must be [${d}], got ${fmtDims(t.dims)}`);
    return takeAlong(t, 0, k) as FloatTensor;
  };
  return { weight: one('weight'), bias: one('bias'), running_mean: one('running_mean'), running_var: one('running_var') };
}

export interface SliceInputOptions {
  /**
   * For a linear consumer after Flatten of [D, H, W] (NCHW): H·W. Channel c owns columns
   * c·H·W … (c+1)·H·W − 1, so those blocks are kept (specs/resrep.md §6.3). Default 1.
   */
  readonly flattenSpatial?: number;
  /** Input-channel axis of the weight: 1 for conv [O, C, kh, kw] and linear [O, C] (default), 0 for a MatMul weight [C, O]. */
  readonly axis?: number;
  /** Layer name for error messages. */
  readonly layer?: string;
}

/**
 * Deletes a consumer's input channels that are not in `keep`: conv [O, C, kh, kw] → [O, C', kh, kw],
 * linear [O, C·S] → [O, C'·S] (S = `flattenSpatial`). The consumer's bias, outputs and own BN are
 * untouched (§6.3), so the bias is passed through.
 */
export function sliceInputChannels(consumer: LayerTensors, keep: Keep, opts: SliceInputOptions = {}): LayerTensors {
  const where = 'prune.sliceInputChannels';
  const w = floatTensor(where, 'weight', consumer?.weight);
  const axis = opts.axis ?? 1;
  const s = opts.flattenSpatial ?? 1;
  if (!Number.isInteger(s) || s < 1) throw new ShapeError(where, `flattenSpatial must be an integer >= 1, got ${s}`);
  const cols = w.dims[axis];
  if (cols === undefined || cols % s !== 0) {
    throw new ShapeError(where, `weight ${fmtDims(w.dims)} axis ${axis} must be channels × flattenSpatial (${s}), got ${cols}`);
  }
  const k = checkKeep(where, opts.layer ?? 'consumer', keep, cols / s);
  const idx = new Int32Array(k.length * s);
  k.forEach((c, i) => {
    for (let q = 0; q < s; q++) idx[i * s + q] = c * s + q;
  });
  const out: { weight: FloatTensor; bias?: FloatTensor } = { weight: takeAlong(w, axis, idx) as FloatTensor };
  if (consumer.bias !== undefined) out.bias = consumer.bias;
  return out;
}

/**
 * Applies one keep list to every tensor of a channel group, by parameter name: the producer's
 * weight rows and bias, its BN, and each consumer's input channels. Returns a new record (tensors
 * not in the group are shared, not copied).
 */
export function sliceChannelGroup<T extends Tensor>(params: Readonly<Record<string, T>>, group: ChannelGroup, keep: Keep): Record<string, T> {
  const where = 'prune.sliceChannelGroup';
  const k = checkKeep(where, group.layer, keep, group.width);
  const out: Record<string, Tensor> = { ...params };
  const get = (name: string): FloatTensor => {
    const t = params[name];
    if (!t) throw new PruneError(where, group.layer, 'plan-shapes', `parameter '${name}' is missing`);
    return floatTensor(where, name, t);
  };
  const p = group.producer;
  const sliced = sliceOutputChannels({ weight: get(p.weight), bias: p.bias ? get(p.bias) : undefined }, k, { axis: p.outAxis, layer: group.layer });
  out[p.weight] = sliced.weight;
  if (p.bias && sliced.bias) out[p.bias] = sliced.bias;
  if (group.bn) {
    const b = group.bn;
    const s = sliceBatchNorm({ weight: get(b.weight), bias: get(b.bias), running_mean: get(b.mean), running_var: get(b.var) }, k, { layer: b.layer });
    [out[b.weight], out[b.bias], out[b.mean], out[b.var]] = [s.weight, s.bias, s.running_mean, s.running_var];
  }
  for (const c of group.consumers) {
    out[c.weight] = sliceInputChannels({ weight: get(c.weight) }, k, { axis: c.inAxis, flattenSpatial: c.flattenSpatial, layer: c.layer }).weight;
  }
  return out as Record<string, T>;
}

/**
 * Structured pruning of a `cnn` model: for each `layer` of `plan`, keeps output channels
 * `plan[layer]` and deletes the matching input channels of every consumer (BN sliced alongside).
 * Layers are the prunable groups of `cnnChannelAnalysis` (conv/linear names); naming a refused
 * layer throws PruneError with the rule that refused it. → the same layer list with narrower
 * `out` widths and sliced tensors (checked against the new config).
 */
export function removeCnnChannels(model: CnnModel, plan: Readonly<Record<string, Keep>>): CnnModel {
  const where = 'prune.removeCnnChannels';
  const analysis = cnnChannelAnalysis(model.config);
  let params: Record<string, Tensor<'float32'>> = { ...model.params };
  const widths = new Map<string, number>();
  for (const [layer, keep] of Object.entries(plan)) {
    const group = analysis.groups.find((g) => g.layer === layer);
    if (!group) {
      const refused = analysis.refused.find((r) => r.layer === layer);
      if (refused) throw new PruneError(where, layer, refused.rule, `cannot be pruned: ${refused.reason}`);
      throw new PruneError(where, layer, 'plan-shapes', `is not a conv or linear layer of ${model.config.name}`);
    }
    params = sliceChannelGroup(params, group, keep) as Record<string, Tensor<'float32'>>;
    widths.set(layer, keep.length);
  }
  const config = withWidths(model.config, widths);
  checkCnnStateDict(where, config, params);
  return { config, params };
}

/** `c` with the `out` of the named conv/linear layers replaced. */
export function withWidths(c: CnnConfig, widths: ReadonlyMap<string, number>): CnnConfig {
  const layers = c.layers.map((l): Layer => {
    const w = widths.get(l.name);
    return w !== undefined && (l.kind === 'conv' || l.kind === 'linear') ? { ...l, out: w } : l;
  });
  return { ...c, layers };
}
