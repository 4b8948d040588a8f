/**
 * Pruning at initialisation end to end, as the CLI (`apt-prune prune cops`) and the reference table
 * (bench/cops-table.ts) run it: score → (combine) → mask → train with the mask held → evaluate.
 */
import type { CnnModel } from '../../cnn/api.js';
import type { Dataset } from '../../data/dataset.js';
import { subset } from '../../data/dataset.js';
import { evalBatches } from '../../data/loader.js';
import type { SessionOptions } from '../../graph/runtime.js';
import { ValueError } from '../../tensor/errors.js';
import { Rng } from '../../tensor/rng.js';
import type { Recipe } from '../../train/fit.js';
import { type CombineResult, combine } from './combine.js';
import { flatten, keepCount, type LayerRecord, normalize, prunableLayout, unflatten } from './layout.js';
import { applyMasks, type Masks, type SparsityReport, sparsityReport } from './mask.js';
import { grasp, magnitude, randomScores, type ScoreBatch, snip } from './scores.js';
import { SelectWorkspace } from './select.js';
import { synflow } from './synflow.js';
import { topKMask } from './topk.js';

export const SCORE_NAMES = ['random', 'magnitude', 'snip', 'grasp', 'synflow'] as const;
export type ScoreName = (typeof SCORE_NAMES)[number];

/** One score's top-k, or the COPS combination of two (G-COPS: base SNIP, control GraSP). */
export type PruneMethod =
  | { readonly kind: 'score'; readonly score: ScoreName }
  | { readonly kind: 'cops'; readonly base: ScoreName; readonly control: ScoreName; readonly kappa: number };

export interface PruneAtInitOptions {
  /** The initialised model: its prunable weights are masked in place (the exact weights scored). */
  readonly model: CnnModel;
  readonly method: PruneMethod;
  /** Fraction of prunable weights removed, σ ∈ [0, 1]. */
  readonly sparsity: number;
  /** Required for SNIP and GraSP (`balancedBatch`). */
  readonly batch?: ScoreBatch;
  /** Seed of the random scores. */
  readonly seed?: number;
  /** COPS: InfeasibleControlError (default) or M1 when κ asks for more than top-k(control) gives. */
  readonly onInfeasible?: 'throw' | 'clamp';
  readonly session?: SessionOptions;
  /** Called as each phase starts ('scoring snip', 'combining', …). */
  readonly onPhase?: (label: string) => void;
}

export interface PruneAtInitResult {
  readonly masks: Masks;
  readonly k: number;
  readonly d: number;
  readonly report: SparsityReport;
  /** The solve, for COPS (λ, S⁰ ratio, similarities, evaluations, …). */
  readonly combine?: Omit<CombineResult, 'mask'>;
  readonly seconds: number;
}

/** Scores of one kind for a model, per prunable weight. */
export async function scoreModel(model: CnnModel, score: ScoreName, o: Pick<PruneAtInitOptions, 'batch' | 'seed' | 'session'> = {}): Promise<LayerRecord> {
  const session = o.session ? { session: o.session } : {};
  const needBatch = (): ScoreBatch => {
    if (!o.batch) throw new ValueError('cops.scoreModel', `score '${score}' needs a batch (cops.balancedBatch(train, 10, rng))`);
    return o.batch;
  };
  switch (score) {
    case 'random':
      return randomScores(model, new Rng(o.seed ?? 0));
    case 'magnitude':
      return magnitude(model);
    case 'snip':
      return snip(model, needBatch(), session);
    case 'grasp':
      return grasp(model, needBatch(), session);
    case 'synflow':
      return synflow(model, session);
  }
}

/** Scores the model, builds the mask (top-k of one score, or COPS), masks the weights in place. */
export async function pruneAtInit(o: PruneAtInitOptions): Promise<PruneAtInitResult> {
  const started = performance.now();
  const layout = prunableLayout(o.model.config);
  const k = keepCount(layout.d, o.sparsity);
  const score = async (name: ScoreName) => {
    o.onPhase?.(`scoring ${name}`);
    return normalize(flatten(await scoreModel(o.model, name, o), layout));
  };
  let mask: Uint8Array;
  let summary: Omit<CombineResult, 'mask'> | undefined;
  if (o.method.kind === 'score') {
    const s = await score(o.method.score);
    mask = topKMask(s, s, 0, k, new SelectWorkspace()); // ties by index
  } else {
    const base = await score(o.method.base);
    const control = await score(o.method.control);
    o.onPhase?.('combining');
    const { mask: m, ...solve } = combine({ base, control, k, kappa: o.method.kappa, ...(o.onInfeasible ? { onInfeasible: o.onInfeasible } : {}) });
    mask = m;
    summary = solve;
  }
  const masks = unflatten(mask, layout);
  applyMasks(o.model, masks);
  return { masks, k, d: layout.d, report: sparsityReport(masks), ...(summary ? { combine: summary } : {}), seconds: (performance.now() - started) / 1000 };
}

/**
 * A class-balanced batch of `perClass` images per class (specs/cops.md §2: 10 per class), drawn
 * without replacement by a seeded permutation of each class, normalised as `batches` does.
 */
export function balancedBatch(ds: Dataset, perClass: number, rng: Rng): ScoreBatch {
  if (!Number.isInteger(perClass) || perClass < 1) throw new ValueError('cops.balancedBatch', `perClass must be a positive integer, got ${perClass}`);
  const byClass: number[][] = Array.from({ length: ds.classes }, () => []);
  for (let i = 0; i < ds.n; i++) (byClass[ds.labels[i] as number] as number[]).push(i);
  const picked: number[] = [];
  byClass.forEach((idx, c) => {
    if (idx.length < perClass) throw new ValueError('cops.balancedBatch', `class ${c} has ${idx.length} images, fewer than perClass = ${perClass}`);
    const perm = rng.permutation(idx.length);
    for (let j = 0; j < perClass; j++) picked.push(idx[perm[j] as number] as number);
  });
  const sub = subset(ds, picked);
  const first = evalBatches(sub, { batchSize: sub.n, reuseBuffers: false }).next();
  if (first.done) throw new ValueError('cops.balancedBatch', 'the data set is empty');
  return { images: first.value.images, labels: first.value.labels };
}

/**
 * The fixed recipe of the reference table: SGD, momentum 0.9 (Nesterov), lr 0.05 with 2% warmup
 * and cosine decay, weight decay 5e-4 on weights (none on biases), batch 128, no augmentation.
 */
export function copsRecipe(epochs = 20, seed = 0): Recipe {
  return {
    epochs,
    batchSize: 128,
    optimizer: { kind: 'sgd', lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 5e-4 },
    warmupFraction: 0.02,
    augment: false,
    seed,
  };
}
