/**
 * ResRep on `cnn` models: compactors become 1×1 conv layers (no bias, Q = I) right after each
 * prunable layer's BN, so the model with compactors is an ordinary `CnnModel` that `cnnTrainable`,
 * `cnn.forward` and `fit` handle unchanged; `convertResRep` folds every BN, merges the compactors
 * and slices the consumers, giving the original architecture with narrower layers (deploy form).
 */
import type { CnnModel } from '../../cnn/api.js';
import type { CnnConfig, Layer } from '../../cnn/config.js';
import { checkCnnStateDict } from '../../cnn/params.js';
import type { Tensor } from '../../tensor/tensor.js';
import { type Keep, sliceInputChannels } from '../channels.js';
import { type ChannelGroup, type ConsumerRef, cnnChannelAnalysis } from '../deps.js';
import { PruneError } from '../errors.js';
import { foldBatchNorm } from '../fold-bn.js';
import { type FloatTensor, fromF64 } from '../tensors.js';
import { insertCompactor } from './compactor.js';
import { mergeCompactor } from './merge.js';

/** One compactor of a ResRep model. */
export interface CompactorSite {
  /** The pruned conv/linear layer. */
  readonly layer: string;
  /** The compactor's layer name; its parameter is `<compactor>.weight`: [D, D, 1, 1] (a 1×1 conv) or [D, D] (a linear). */
  readonly compactor: string;
  readonly width: number;
  readonly consumers: readonly ConsumerRef[];
}

/** A `cnn` model with compactors inserted: `config` has the compactor layers, `base` is the original. */
export interface ResRepModel extends CnnModel {
  readonly base: CnnConfig;
  readonly compactors: readonly CompactorSite[];
}

/** Compactor layer name for a target layer. */
export const compactorName = (layer: string): string => `${layer}.compactor`;

/**
 * Inserts an identity compactor after every prunable layer of `model` (§3; `opts.layers` picks
 * some — naming a refused layer throws PruneError with its rule). The network function is
 * unchanged. Parameters are shared with `model` except the new compactors.
 */
export function insertCompactors(model: CnnModel, opts: { readonly layers?: readonly string[] } = {}): ResRepModel {
  const where = 'resrep.insertCompactors';
  const analysis = cnnChannelAnalysis(model.config);
  let groups: readonly ChannelGroup[] = analysis.groups;
  if (opts.layers) {
    groups = opts.layers.map((name) => {
      const g = analysis.groups.find((x) => x.layer === name);
      if (g) return g;
      const r = analysis.refused.find((x) => x.layer === name);
      if (r) throw new PruneError(where, name, r.rule, `cannot take a compactor: ${r.reason}`);
      throw new PruneError(where, name, 'plan-shapes', `is not a conv or linear layer of ${model.config.name}`);
    });
  }
  const after = new Map(groups.map((g) => [g.bn?.layer ?? g.layer, g]));
  const layers: Layer[] = [];
  const renamed = new Map<string, string>();
  for (const l of model.config.layers) {
    const rewired = rewire(l, renamed);
    layers.push(rewired);
    const g = after.get(l.name);
    if (!g) continue;
    const name = compactorName(g.layer);
    const linear = g.producer.kind === 'linear';
    layers.push(
      linear
        ? { kind: 'linear', name, input: l.name, out: g.width, bias: false }
        : { kind: 'conv', name, input: l.name, out: g.width, kernel: 1, stride: 1, pad: 0, bias: false },
    );
    renamed.set(l.name, name);
  }
  const config: CnnConfig = { ...model.config, layers, output: renamed.get(model.config.output) ?? model.config.output };
  const params: Record<string, Tensor<'float32'>> = { ...model.params };
  const compactors = groups.map((g) => {
    params[`${compactorName(g.layer)}.weight`] = insertCompactor(g.width, { layout: g.producer.kind === 'linear' ? 'matrix' : 'conv' });
    return { layer: g.layer, compactor: compactorName(g.layer), width: g.width, consumers: g.consumers };
  });
  return { config, params, base: model.config, compactors };
}

function rewire(l: Layer, renamed: ReadonlyMap<string, string>): Layer {
  const r = (n: string) => renamed.get(n) ?? n;
  return l.kind === 'add' ? { ...l, inputs: [r(l.inputs[0]), r(l.inputs[1])] } : { ...l, input: r(l.input) };
}

export interface ConvertOptions {
  /** Row-norm threshold (default 1e-5). */
  readonly threshold?: number;
  /** Kept rows per layer (a plan) instead of thresholding. */
  readonly keep?: Readonly<Record<string, Keep>>;
  /** Round kept widths up to a multiple of this (e.g. 4 or 8 for faster kernels). */
  readonly multipleOf?: number;
}

export interface ConvertedLayer {
  readonly layer: string;
  readonly width: number;
  readonly keep: Int32Array;
  /** ‖Q[j, :]‖₂ of every row. */
  readonly norms: Float64Array;
}

/**
 * Folds every BN into the conv before it (§6.1), then every compactor into its layer, dropping
 * rows below the threshold (§6.2), then deletes the consumers' input channels (§6.3); float64
 * arithmetic, float32 result. → the deploy model (`base`'s layer list without BN layers, convs with
 * biases, narrower widths) and the kept rows per layer.
 */
export function convertResRep(rr: ResRepModel, opts: ConvertOptions = {}): { model: CnnModel; layers: ConvertedLayer[] } {
  const where = 'resrep.convertResRep';
  const folded = foldCnnBatchNorms(rr);
  const p = folded.params;
  const out: ConvertedLayer[] = [];
  const widths = new Map<string, number>();
  for (const site of rr.compactors) {
    const q = rr.params[`${site.compactor}.weight`];
    if (!q) throw new PruneError(where, site.layer, 'plan-shapes', `compactor '${site.compactor}.weight' is missing`);
    const keep = opts.keep?.[site.layer];
    const m = mergeCompactor({ weight: p[`${site.layer}.weight`] as FloatTensor, bias: p[`${site.layer}.bias`] }, q, {
      threshold: opts.threshold,
      multipleOf: opts.multipleOf,
      keep,
      layer: site.layer,
    });
    p[`${site.layer}.weight`] = m.weight;
    p[`${site.layer}.bias`] = m.bias;
    for (const c of site.consumers) {
      p[c.weight] = sliceInputChannels({ weight: p[c.weight] as FloatTensor }, m.keep, {
        axis: c.inAxis,
        flattenSpatial: c.flattenSpatial,
        layer: c.layer,
      }).weight;
    }
    widths.set(site.layer, m.keep.length);
    out.push({ layer: site.layer, width: site.width, keep: m.keep, norms: m.norms });
  }
  const skip = new Set(rr.compactors.map((s) => s.compactor));
  const renamed = new Map(rr.compactors.map((s) => [s.compactor, s.layer]));
  const layers = folded.config.layers.flatMap((l): Layer[] => {
    if (skip.has(l.name)) return [];
    const w = widths.get(l.name);
    const r = rewire(l, renamed);
    return [w !== undefined && (r.kind === 'conv' || r.kind === 'linear') ? { ...r, out: w } : r];
  });
  const config: CnnConfig = { ...folded.config, layers, output: renamed.get(folded.config.output) ?? folded.config.output };
  const params: Record<string, Tensor<'float32'>> = {};
  for (const [k, t] of Object.entries(p)) {
    if (!skip.has(k.replace(/\.weight$/, '')))
      params[k] = t.type === 'float32' ? t : (fromF64({ type: 'float32' }, t.dims, t.data as Float64Array) as Tensor<'float32'>);
  }
  checkCnnStateDict(where, config, params);
  return { model: { config, params }, layers: out };
}

/**
 * Deploy form of a `cnn` model: each BN whose input is a conv or linear read by nothing else is
 * folded into it (the layer gains a bias, the BN layer disappears, its readers read the layer).
 * Parameters of folded layers are float64 (the caller rounds once at the end).
 */
export function foldCnnBatchNorms(model: CnnModel): { config: CnnConfig; params: Record<string, FloatTensor> } {
  const layers = model.config.layers;
  const readers = new Map<string, number>();
  for (const l of layers) for (const i of l.kind === 'add' ? l.inputs : [l.input]) readers.set(i, (readers.get(i) ?? 0) + 1);
  const params: Record<string, FloatTensor> = { ...model.params };
  const renamed = new Map<string, string>();
  const biased = new Set<string>();
  for (const l of layers) {
    if (l.kind !== 'bn') continue;
    const src = layers.find((x) => x.name === l.input);
    if (!src || (src.kind !== 'conv' && src.kind !== 'linear') || readers.get(src.name) !== 1) continue;
    const get = (k: string) => params[`${l.name}.${k}`] as FloatTensor;
    const toF64 = (t: FloatTensor | undefined) => t && { type: 'float64' as const, dims: t.dims, data: Float64Array.from(t.data) };
    const f = foldBatchNorm(
      { weight: toF64(params[`${src.name}.weight`]) as FloatTensor, bias: toF64(params[`${src.name}.bias`]) },
      { gamma: get('weight'), beta: get('bias'), mean: get('running_mean'), var: get('running_var'), eps: l.eps },
    );
    params[`${src.name}.weight`] = f.weight;
    params[`${src.name}.bias`] = f.bias;
    for (const k of ['weight', 'bias', 'running_mean', 'running_var']) delete params[`${l.name}.${k}`];
    renamed.set(l.name, src.name);
    biased.add(src.name);
  }
  const out = layers.flatMap((l): Layer[] => {
    if (renamed.has(l.name)) return [];
    const r = rewire(l, renamed);
    return [biased.has(r.name) && (r.kind === 'conv' || r.kind === 'linear') ? { ...r, bias: true } : r];
  });
  return { config: { ...model.config, layers: out, output: renamed.get(model.config.output) ?? model.config.output }, params };
}

/**
 * The ResRep model a compactor config describes (as a training checkpoint's sidecar stores it):
 * compactor layers are those named `<layer>.compactor`; the base config is the layer list without
 * them. `params` must hold every tensor of `config` (base tensors and compactors).
 */
export function resrepModelFrom(config: CnnConfig, params: Record<string, Tensor<'float32'>>): ResRepModel {
  const comp = config.layers.filter((l) => l.name.endsWith('.compactor'));
  const back = new Map(comp.map((l) => [l.name, (l as { input: string }).input]));
  const layers = config.layers.filter((l) => !back.has(l.name)).map((l) => rewire(l, back));
  const base: CnnConfig = { ...config, layers, output: back.get(config.output) ?? config.output };
  const groups = cnnChannelAnalysis(base).groups;
  const compactors = comp.map((l) => {
    const layer = l.name.slice(0, -'.compactor'.length);
    const g = groups.find((x) => x.layer === layer);
    if (!g) throw new PruneError('resrep.resrepModelFrom', layer, 'plan-shapes', 'has a compactor but is not a prunable layer of the base model');
    return { layer, compactor: l.name, width: g.width, consumers: g.consumers };
  });
  checkCnnStateDict('resrep.resrepModelFrom', config, params);
  return { config, params, base, compactors };
}
