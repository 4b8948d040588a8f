/**
 * Filter pruning end to end, as `apt-prune prune l1|entropy` and bench/filters run it: ratios
 * (uniform, given, or the δ rule on a sensitivity sweep of the validation split) → ranking →
 * structured removal → short retrain → test accuracy, MACs, and the pruned checkpoint, ONNX file,
 * plan and result JSON. Entropy pruning goes layer by layer (scores on the current model, optional
 * fine-tune after each layer), as Luo & Wu do.
 */
import { join } from 'node:path';
import { type CnnModel, cnnTrainable, forward, toStateDict } from '../../cnn/api.js';
import type { Dataset } from '../../data/dataset.js';
import type { SessionOptions } from '../../graph/runtime.js';
import { writeFileAtomic } from '../../io/atomic.js';
import { saveCheckpoint } from '../../io/checkpoint.js';
import { ValueError } from '../../tensor/errors.js';
import { evaluate, type FitEvent, fit as fitModel, type Recipe } from '../../train/fit.js';
import { removeCnnChannels } from '../channels.js';
import { makePlan, type PruningPlan } from '../plan.js';
import { exportCnnOnnx } from '../resrep/run.js';
import { entropyScoresOf } from './entropy.js';
import { filterGroups } from './layers.js';
import { sensitivityPng } from './plot.js';
import { type FilterRanking, pruneFilters, rankFilters } from './prune.js';
import type { FilterCriterion } from './rank.js';
import { chooseRatios, type SensitivityEvent, type SensitivityResult, sensitivity } from './sensitivity.js';

/** Where the per-layer ratios come from. */
export type RatioSource =
  | { readonly kind: 'uniform'; readonly ratio: number }
  | { readonly kind: 'explicit'; readonly ratios: Readonly<Record<string, number>> }
  /** The δ rule on `result`, or on a sweep of the validation split run first; `perStage`: one ratio per name prefix (ResNet stages). */
  | { readonly kind: 'sensitivity'; readonly delta: number; readonly result?: SensitivityResult; readonly perStage?: boolean };

/** Retraining after pruning: SGD momentum 0.9, weight decay 1e-4, cosine to 0, no warm-up, no augmentation. */
export function retrainRecipe(epochs: number, o: { readonly batchSize?: number; readonly lr?: number; readonly seed?: number } = {}): Recipe {
  return {
    epochs,
    batchSize: o.batchSize ?? 64,
    optimizer: { kind: 'sgd', lr: o.lr ?? 0.01, momentum: 0.9, weightDecay: 1e-4 },
    warmupFraction: 0,
    augment: false,
    seed: o.seed ?? 0,
  };
}

export type FilterRunEvent =
  | FitEvent
  | SensitivityEvent
  | { readonly kind: 'phase'; readonly name: string }
  | { readonly kind: 'layer'; readonly layer: string; readonly width: number; readonly kept: number };

export interface FilterRunOptions {
  readonly method: FilterCriterion;
  /** The trained model to prune (not modified). */
  readonly base: CnnModel;
  readonly ratios: RatioSource;
  /** Layers for 'uniform' ratios and for the sweep (default: every prunable conv). */
  readonly layers?: readonly string[];
  readonly ranking?: FilterRanking;
  readonly train: Dataset;
  /** Validation split: the sensitivity sweep and the entropy scores. */
  readonly val: Dataset;
  readonly test: Dataset;
  /** Retraining epochs after pruning (0: none). */
  readonly epochs: number;
  /** Entropy: fine-tune epochs after each layer (default 0). */
  readonly layerEpochs?: number;
  readonly batchSize?: number;
  readonly lr?: number;
  readonly seed?: number;
  /** Entropy: histogram bins m (default 100) and class-balanced images n (default 1000). */
  readonly bins?: number;
  readonly images?: number;
  /** Output directory: pruned.{safetensors,json}, pruned.onnx, plan.json, result.json (+ sensitivity.{json,png}). */
  readonly out: string;
  readonly session?: SessionOptions;
  readonly onEvent?: (e: FilterRunEvent) => void;
}

export interface FilterRunResult {
  readonly pruned: CnnModel;
  readonly plan: PruningPlan;
  readonly ratios: Record<string, number>;
  readonly skipped: string[];
  readonly sensitivity?: SensitivityResult;
  /** Test accuracy: base, right after pruning, after retraining. */
  readonly accuracy: { readonly base: number; readonly pruned: number; readonly retrained: number };
  readonly files: {
    readonly checkpoint: string;
    readonly onnx: string;
    readonly plan: string;
    readonly result: string;
    readonly sensitivity?: string;
    readonly plot?: string;
  };
}

/** Runs filter pruning end to end and writes the pruned model (see FilterRunOptions.out). */
export async function runFilterPruning(o: FilterRunOptions): Promise<FilterRunResult> {
  const where = 'prune.filters.runFilterPruning';
  const ev = o.onEvent ?? (() => {});
  const acc = async (m: CnnModel) => (await evaluate({ predict: (x) => forward(m, x, o.session) }, o.test)).accuracy;
  const entropyOf = (m: CnnModel, layers?: readonly string[]) => entropyScoresOf(m, o.val, { layers, bins: o.bins, images: o.images, session: o.session });
  const files: { -readonly [K in keyof FilterRunResult['files']]: FilterRunResult['files'][K] } = {
    checkpoint: join(o.out, 'pruned'),
    onnx: join(o.out, 'pruned.onnx'),
    plan: join(o.out, 'plan.json'),
    result: join(o.out, 'result.json'),
  };
  const json = (path: string, v: unknown) => writeFileAtomic(path, new TextEncoder().encode(`${JSON.stringify(v, null, 1)}\n`));

  let ratios: Record<string, number>;
  let skipped: string[] = [];
  let sweep: SensitivityResult | undefined;
  const src = o.ratios;
  if (src.kind === 'uniform') ratios = Object.fromEntries(filterGroups(where, o.base.config, o.layers).map((g) => [g.layer, src.ratio]));
  else if (src.kind === 'explicit') ratios = { ...src.ratios };
  else {
    sweep = src.result;
    if (!sweep) {
      ev({ kind: 'phase', name: 'sensitivity sweep' });
      const scores = o.method === 'entropy' ? await entropyOf(o.base, o.layers) : undefined;
      sweep = await sensitivity(o.base, o.val, { layers: o.layers, criterion: o.method, scores, session: o.session, onProgress: ev });
      [files.sensitivity, files.plot] = [join(o.out, 'sensitivity.json'), join(o.out, 'sensitivity.png')];
      await json(files.sensitivity, sweep);
      await writeFileAtomic(files.plot, sensitivityPng(sweep, { delta: src.delta }));
    }
    const chosen = chooseRatios(sweep, { delta: src.delta, stage: src.perStage ? (l) => l.split('.')[0] ?? l : undefined });
    [ratios, skipped] = [chosen.ratios, chosen.skipped];
  }

  ev({ kind: 'phase', name: 'pruning' });
  const recipe = (epochs: number) => retrainRecipe(epochs, { batchSize: o.batchSize, lr: o.lr, seed: o.seed });
  const retrain = async (m: CnnModel, epochs: number) => {
    if (epochs > 0) await fitModel(await cnnTrainable(m, { session: o.session }), recipe(epochs), { train: o.train, evalSet: o.val, onEvent: ev });
  };
  let pruned: CnnModel;
  let plan: PruningPlan;
  if (o.method === 'l1') {
    ({ model: pruned, plan } = pruneFilters(o.base, { ratios, ranking: o.ranking }));
  } else {
    if ((o.ranking ?? 'independent') !== 'independent')
      throw new ValueError(where, "entropy pruning ranks each layer on the current model; ranking must be 'independent'");
    // Layer by layer in model order: each layer is pruned once, so its kept indices refer to its original width.
    pruned = { config: o.base.config, params: toStateDict(o.base) }; // a copy: fine-tuning updates in place
    const keep: Record<string, Int32Array> = {};
    const widths: Record<string, number> = {};
    for (const layer of rankFilters(o.base, { ratios }).map((l) => l.layer)) {
      const scores = await entropyOf(pruned, [layer]);
      const [ranked] = rankFilters(pruned, { ratios: { [layer]: ratios[layer] as number }, criterion: 'entropy', scores });
      if (!ranked) continue;
      [keep[layer], widths[layer]] = [ranked.keep, ranked.width];
      pruned = removeCnnChannels(pruned, { [layer]: ranked.keep });
      ev({ kind: 'layer', layer, width: ranked.width, kept: ranked.keep.length });
      await retrain(pruned, o.layerEpochs ?? 0);
    }
    plan = makePlan({ method: 'entropy', model: o.base.config.name, before: o.base, after: pruned, keep, widths });
  }
  pruned = { config: pruned.config, params: toStateDict(pruned) }; // unshared: retraining updates in place
  ev({ kind: 'phase', name: 'evaluating' });
  const accuracy = { base: await acc(o.base), pruned: await acc(pruned), retrained: Number.NaN };
  await retrain(pruned, o.epochs);
  accuracy.retrained = o.epochs > 0 ? await acc(pruned) : accuracy.pruned;

  await saveCheckpoint(files.checkpoint, { tensors: pruned.params, sidecar: { config: pruned.config as never, plan: plan as never, seed: o.seed ?? 0 } });
  await writeFileAtomic(files.onnx, exportCnnOnnx(pruned));
  await json(files.plan, plan);
  const result = { method: o.method, ranking: o.ranking ?? 'independent', ratios, skipped, macs: plan.macs, accuracy, epochs: o.epochs, files };
  await json(files.result, result);
  return { pruned, plan, ratios, skipped, sensitivity: sweep, accuracy, files };
}
