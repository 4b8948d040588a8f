/**
 * Unstructured masks on a CNN's prunable weights: apply (weights × mask), keep pruned weights at
 * exactly zero while training, and report sparsity per layer.
 */
import type { CnnModel } from '../../cnn/api.js';
import { ShapeError, ValueError } from '../../tensor/errors.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { Trainable } from '../../train/fit.js';
import { type LayerRecord, prunableLayout } from './layout.js';

/** 1 = keep, 0 = prune, per prunable weight (`unflatten(result.mask, prunableLayout(config))`). */
export type Masks = LayerRecord<Uint8Array>;

function checkMasks(where: string, params: Readonly<Record<string, Tensor>>, masks: Readonly<Masks>): void {
  for (const [name, m] of Object.entries(masks)) {
    const p = params[name];
    if (!p) throw new ShapeError(where, `mask for '${name}', which is not a parameter of the model`);
    if (m.length !== p.data.length) throw new ShapeError(where, `mask '${name}' has ${m.length} entries, the weight has ${p.data.length}`);
    const bad = m.findIndex((x) => x > 1);
    if (bad >= 0) throw new ValueError(where, `mask '${name}'[${bad}] is ${m[bad]}; masks hold 0 (prune) or 1 (keep)`);
  }
}

function zeroPruned(data: Float32Array, m: Uint8Array): void {
  for (let i = 0; i < m.length; i++) if (m[i] === 0) data[i] = 0;
}

/** Multiplies each masked weight by its mask, in place (model.params). Returns the model. */
export function applyMasks(model: CnnModel, masks: Readonly<Masks>): CnnModel {
  checkMasks('cops.applyMasks', model.params, masks);
  for (const [name, m] of Object.entries(masks)) zeroPruned((model.params[name] as Tensor<'float32'>).data, m);
  return model;
}

/**
 * A Trainable whose masked weights stay exactly zero under `train.fit`: the gradients of pruned
 * weights are zeroed before clipping and the optimizer (so clip norms, momentum and Adam moments
 * see only kept weights, and SGD/AdamW updates of a zero weight with zero gradient and zero state
 * are exactly zero, weight decay included), and the weights are re-masked before every step (so a
 * resumed or externally modified run is corrected too). Masks the weights once at wrap time.
 * Composes with the trainable's own `beforeStep` / `transformGrads` hooks.
 */
export function maskedTrainable<T extends Trainable>(t: T, masks: Readonly<Masks>): T {
  const params = Object.fromEntries(t.params);
  checkMasks('cops.maskedTrainable', params, masks);
  const entries = Object.entries(masks).map(([name, m]) => [t.params.get(name) as Tensor<'float32'>, m, name] as const);
  const remask = () => {
    for (const [p, m] of entries) zeroPruned(p.data, m);
  };
  remask();
  return {
    ...t,
    beforeStep: async (iteration: number) => {
      remask();
      await t.beforeStep?.(iteration);
    },
    transformGrads: (grads: Record<string, Tensor<'float32'>>, iteration: number) => {
      t.transformGrads?.(grads, iteration);
      for (const [, m, name] of entries) {
        const g = grads[name];
        if (g) zeroPruned(g.data, m);
      }
    },
  };
}

export interface LayerSparsity {
  readonly name: string;
  readonly total: number;
  readonly kept: number;
  /** Fraction pruned, 1 − kept/total. */
  readonly sparsity: number;
}

export interface SparsityReport {
  readonly layers: readonly LayerSparsity[];
  readonly total: number;
  readonly kept: number;
  readonly sparsity: number;
}

/**
 * Sparsity per prunable layer and overall: from masks (kept = ones), or measured on a model's
 * weights (kept = nonzero), e.g. to check that training kept the pruned weights at zero.
 */
export function sparsityReport(source: Readonly<Masks> | CnnModel): SparsityReport {
  const isModel = typeof (source as CnnModel).config === 'object' && (source as CnnModel).config?.kind === 'cnn';
  const entries: [string, ArrayLike<number>][] = isModel
    ? prunableLayout((source as CnnModel).config).names.map((n) => [n, ((source as CnnModel).params[n] as Tensor).data as Float32Array])
    : Object.entries(source as Masks);
  const layers = entries.map(([name, v]) => {
    let kept = 0;
    for (let i = 0; i < v.length; i++) kept += v[i] !== 0 ? 1 : 0;
    return { name, total: v.length, kept, sparsity: v.length ? 1 - kept / v.length : 0 };
  });
  const total = layers.reduce((s, l) => s + l.total, 0);
  const kept = layers.reduce((s, l) => s + l.kept, 0);
  return { layers, total, kept, sparsity: total ? 1 - kept / total : 0 };
}
