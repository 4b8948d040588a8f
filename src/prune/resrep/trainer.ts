/**
 * ResRep training ("Res", specs/resrep.md §5) as a `fit` Trainable: the CNN's own gradient step,
 * plus the mask schedule at the top of each iteration (`beforeStep`), the gradient reset with group
 * lasso after backward (`transformGrads`), per-group optimizer options (`paramGroups`: compactors
 * momentum 0.99 and no decay; BN and biases no decay, biases ×2 lr) and a periodic report of the
 * widths the 1e-5 threshold would give against the target. Masks are buffers, so `fit`'s
 * checkpoints hold them and a resumed run continues with the same masks.
 */
import { cnnTrainable } from '../../cnn/api.js';
import type { SessionOptions } from '../../graph/runtime.js';
import { ValueError } from '../../tensor/errors.js';
import { full, type Tensor } from '../../tensor/tensor.js';
import type { Trainable } from '../../train/fit.js';
import type { ParamGroup } from '../../train/optim.js';
import { cnnChannelAnalysis } from '../deps.js';
import { macsFunction } from '../macs.js';
import type { ResRepModel } from './cnn.js';
import { compactorRowNorms } from './compactor.js';
import { RESREP_THRESHOLD } from './merge.js';
import { resetCompactorGradient } from './penalty.js';
import { isMaskUpdate, selectMask } from './schedule.js';

export interface ResRepOptions {
  /** Remaining MACs fraction to reach (0.5 removes half). */
  readonly target: number;
  /** Group-lasso strength λ (default 1e-4). */
  readonly lambda?: number;
  /** Warm-up W in iterations before the first mask update (the spec: 5 epochs). */
  readonly warmup: number;
  /** Iterations N between mask updates (default 200). */
  readonly interval?: number;
  /** Channels g masked per update at most before the target is met (default 4). */
  readonly granularity?: number;
  readonly minWidth?: number;
  /**
   * Widths count as rounded up to a multiple of this in F (default 1), so masking goes on until the
   * rounded widths meet the target; convert with the same `multipleOf` (CPU conv kernels run
   * widths that are multiples of 4 or 8 faster per MAC).
   */
  readonly multipleOf?: number;
  /** Iterations between width reports (default 1000). */
  readonly reportEvery?: number;
  readonly compactorMomentum?: number;
  /** Learning-rate multiplier of biases (BN β included), as the reference (default 2). */
  readonly biasLrScale?: number;
  readonly labelSmoothing?: number;
  readonly session?: SessionOptions;
  readonly onEvent?: (e: ResRepEvent) => void;
}

/** Widths per layer: masked (schedule) and thresholded (what conversion would keep now). */
export interface ResRepWidths {
  readonly iteration: number;
  readonly layers: readonly { readonly layer: string; readonly width: number; readonly unmasked: number; readonly aboveThreshold: number }[];
  /** Current masks by layer (1 = kept, 0 = masked); the live buffers, not copies. */
  readonly masks: Readonly<Record<string, Float32Array>>;
  /** F/F0 at the unmasked widths and at the thresholded widths, and the target. */
  readonly maskedRatio: number;
  readonly thresholdRatio: number;
  readonly target: number;
}

/** Events carry the widths (not the masks themselves). */
export type ResRepEvent =
  | ({ readonly kind: 'mask'; readonly reached: boolean; readonly exhausted: boolean } & Omit<ResRepWidths, 'masks'>)
  | ({ readonly kind: 'report' } & Omit<ResRepWidths, 'masks'>);

/** Buffer name of a layer's mask (1 = kept, 0 = masked), saved in checkpoints. */
export const maskName = (layer: string): string => `resrep.mask:${layer}`;

/**
 * A `fit` Trainable for a model with compactors. `state()` reads the current masks and widths.
 * `fit(await resrepTrainable(rr, { target: 0.5, warmup: 5 * perEpoch }), recipe, opts)`.
 */
export async function resrepTrainable(rr: ResRepModel, opts: ResRepOptions): Promise<Trainable & { state(iteration?: number): ResRepWidths }> {
  const where = 'resrep.resrepTrainable';
  if (!(opts.target > 0 && opts.target <= 1)) throw new ValueError(where, `target must be the remaining MACs fraction in (0, 1], got ${opts.target}`);
  if (!Number.isInteger(opts.warmup) || opts.warmup < 0) throw new ValueError(where, `warmup must be an integer number of iterations >= 0, got ${opts.warmup}`);
  if (rr.compactors.length === 0) throw new ValueError(where, `model ${rr.base.name} has no compactors`);
  const lambda = opts.lambda ?? 1e-4;
  const interval = opts.interval ?? 200;
  const reportEvery = opts.reportEvery ?? 1000;
  const inner = await cnnTrainable(rr, { labelSmoothing: opts.labelSmoothing, session: opts.session });
  const sites = rr.compactors;
  const masks = sites.map((s) => full([s.width], 1, 'float32'));
  const buffers = new Map(inner.buffers ?? []);
  sites.forEach((s, i) => {
    buffers.set(maskName(s.layer), masks[i] as Tensor<'float32'>);
  });
  // F(widths) over the base model's prunable groups, restricted to the layers with compactors.
  const analysis = cnnChannelAnalysis(rr.base);
  const index = sites.map((s) => analysis.groups.findIndex((g) => g.layer === s.layer));
  const full0 = analysis.groups.map((g) => g.width);
  const macs = macsFunction(rr.base, analysis);
  const m = opts.multipleOf ?? 1;
  if (!Number.isInteger(m) || m < 1) throw new ValueError(where, `multipleOf must be an integer >= 1, got ${m}`);
  const flopsOf = (w: readonly number[]) => {
    const all = [...full0];
    index.forEach((gi, i) => {
      all[gi] = Math.min(full0[gi] as number, Math.ceil((w[i] as number) / m) * m);
    });
    return macs(all);
  };
  const f0 = flopsOf(sites.map((s) => s.width));
  const q = (i: number) => rr.params[`${(sites[i] as { compactor: string }).compactor}.weight`] as Tensor<'float32'>;
  const names = sites.map((s) => s.layer);
  const compactorParams = new Set(sites.map((s) => `${s.compactor}.weight`));
  const bnWeights = new Set(rr.config.layers.filter((l) => l.kind === 'bn').map((l) => `${l.name}.weight`));
  const paramGroups: ParamGroup[] = [
    { match: (n) => compactorParams.has(n), momentum: opts.compactorMomentum ?? 0.99, weightDecay: 0 },
    { match: (n) => n.endsWith('.bias'), weightDecay: 0, lrScale: opts.biasLrScale ?? 2 },
    { match: (n) => bnWeights.has(n), weightDecay: 0 },
  ];

  const state = (iteration = 0): ResRepWidths => {
    const layers = sites.map((s, i) => {
      const norms = compactorRowNorms(q(i), { layer: s.layer });
      const unmasked = (masks[i] as Tensor<'float32'>).data.reduce((a, m) => a + m, 0);
      return { layer: s.layer, width: s.width, unmasked, aboveThreshold: Math.max(1, norms.filter((r) => r >= RESREP_THRESHOLD).length) };
    });
    return {
      iteration,
      layers,
      masks: Object.fromEntries(sites.map((s, i) => [s.layer, (masks[i] as Tensor<'float32'>).data])),
      maskedRatio: flopsOf(layers.map((l) => l.unmasked)) / f0,
      thresholdRatio: flopsOf(layers.map((l) => l.aboveThreshold)) / f0,
      target: opts.target,
    };
  };

  return {
    ...inner,
    buffers,
    paramGroups,
    state,
    beforeStep(t) {
      if (isMaskUpdate(t, opts.warmup, interval)) {
        const norms = sites.map((s, i) => compactorRowNorms(q(i), { layer: s.layer }));
        const cur = masks.map((m) => m.data.reduce((a, v) => a + v, 0));
        const sel = selectMask(norms, cur, flopsOf, opts.target, { granularity: opts.granularity, minWidth: opts.minWidth, layers: names });
        sel.masks.forEach((m, i) => {
          (masks[i] as Tensor<'float32'>).data.set(m);
        });
        const { masks: _, ...widths } = state(t);
        opts.onEvent?.({ kind: 'mask', reached: sel.reached, exhausted: sel.exhausted, ...widths });
      }
      if (t > 0 && t % reportEvery === 0) {
        const { masks: _, ...widths } = state(t);
        opts.onEvent?.({ kind: 'report', ...widths });
      }
    },
    transformGrads(grads) {
      sites.forEach((s, i) => {
        const name = `${s.compactor}.weight`;
        const g = grads[name];
        if (g) grads[name] = resetCompactorGradient(q(i), g, (masks[i] as Tensor<'float32'>).data, lambda, { layer: s.layer }) as Tensor<'float32'>;
      });
    },
  };
}
