/**
 * The APT flows `apt-prune apt …` and `apt-prune demo` share: fine-tune a ViT with the TokenPruner
 * from a checkpoint, report accuracy and tokens like the source's infer.py, measure throughput, and
 * draw token maps. Library calls only; the commands add flags and printing.
 */
import { join } from 'node:path';
import { loadAptCheckpoint, saveAptCheckpoint } from '../agent/checkpoint.js';
import { type StrategyInput, usesScorer } from '../agent/config.js';
import { prunedInferenceGraph } from '../agent/graphs.js';
import type { KeepPlan } from '../agent/keep-plan.js';
import type { TokenPruner } from '../agent/pruner.js';
import { imageReport, macsRatio } from '../agent/report.js';
import { renderTokenMaps } from '../agent/viz.js';
import { type Dataset, subset } from '../data/dataset.js';
import { batches } from '../data/loader.js';
import { compile, type SessionOptions } from '../graph/runtime.js';
import { writeFileAtomic } from '../io/atomic.js';
import { encodePng } from '../io/png.js';
import { Rng } from '../tensor/rng.js';
import { type Tensor, tensor } from '../tensor/tensor.js';
import { type AptEvaluation, type AptEvent, type AptResult, apt, evaluateApt } from '../train/apt.js';
import { type AptRecipe, aptFinetuneRecipe, aptPaperRecipe } from '../train/apt-recipe.js';
import type { VitModel } from '../vit/api.js';
import { numTokens } from '../vit/config.js';
import { inferenceGraph } from '../vit/model.js';
import type { Context } from './io.js';
import type { Progress } from './progress.js';

export const APT_RECIPES = ['fmnist-finetune', 'apt-paper'] as const;
export type AptRecipeName = (typeof APT_RECIPES)[number];

export function recipeByName(name: AptRecipeName, updates: number, seed: number, lr?: number): AptRecipe {
  const r = name === 'apt-paper' ? aptPaperRecipe(updates, seed) : aptFinetuneRecipe(updates, seed);
  return lr === undefined ? r : { ...r, lr };
}

/** APT update events as the progress bar's fit steps (JSON mode: the APT events themselves). */
export function aptProgress(ctx: Context, progress: Progress): (e: AptEvent) => void {
  return (e) => {
    if (ctx.json) return ctx.emit(e);
    if (e.kind === 'update')
      progress.fit({
        kind: 'step',
        epoch: 0,
        step: e.update,
        totalSteps: e.total,
        loss: e.lossPruned,
        lr: e.lr,
        imagesPerSec: e.imagesPerSec,
        etaSec: e.etaSec,
      });
    else
      progress.note(
        `update ${e.update}: val plain ${(100 * e.plainAccuracy).toFixed(2)}% · pruned ${(100 * e.prunedAccuracy).toFixed(2)}% · tokens kept ${e.keptMean.map((k) => k.toFixed(1)).join(' / ')}`,
      );
  };
}

export interface FinetuneSpec {
  readonly checkpoint: string;
  /** Unset keeps the checkpoint's strategy (a plain checkpoint: threshold). */
  readonly strategy?: StrategyInput;
  readonly recipe: AptRecipe;
  readonly out: string;
  readonly seed: number;
  readonly train: Dataset;
  readonly val?: Dataset;
  /** ORT session options for training and validation (e.g. `{ intraOpThreads: 1 }` for parallel shards). */
  readonly session?: SessionOptions;
  /** Token fusion (extension); unset keeps the checkpoint's choice (a plain checkpoint: off). */
  readonly fuse?: boolean;
}

/**
 * Fine-tunes the checkpoint's ViT with (new or loaded) pruners; keeps the best-pruned checkpoint
 * (by validation accuracy) at `<out>/best-pruned` and the last at `<out>/final`.
 */
export async function finetune(
  s: FinetuneSpec,
  onEvent: (e: AptEvent) => void,
): Promise<{ model: VitModel; pruner: TokenPruner; result: AptResult; sourceSha256: string }> {
  const { model, pruner, sha256 } = await loadAptCheckpoint(s.checkpoint, {
    seed: s.seed,
    ...(s.strategy === undefined ? {} : { strategy: s.strategy }),
    ...(s.fuse === undefined ? {} : { fuse: s.fuse }),
  });
  const info = { seed: s.seed, recipe: s.recipe as never, source: { checkpoint: s.checkpoint, sha256 } };
  const result = await apt({
    model,
    pruner,
    train: s.train,
    val: s.val,
    recipe: s.recipe,
    onEvent,
    ...(s.session ? { session: s.session } : {}),
    onBest: async (which, update, accuracy) => {
      if (which === 'pruned')
        await saveAptCheckpoint(join(s.out, 'best-pruned'), model, pruner, { ...info, step: update, metrics: { valPrunedAccuracy: accuracy } });
    },
  });
  await saveAptCheckpoint(join(s.out, 'final'), model, pruner, { ...info, step: result.updates });
  return { model, pruner, result, sourceSha256: sha256 };
}

export interface AptReport extends AptEvaluation {
  readonly macsRatio: number;
  /** The first images' infer.py lines. */
  readonly perImage: string[][];
}

/** Plain and pruned (gathered, tokens really dropped) accuracy on `ds`, tokens kept, MACs ratio, infer.py lines. */
export async function aptReport(model: VitModel, pruner: TokenPruner, ds: Dataset, onBatch?: (done: number) => void, images = 3): Promise<AptReport> {
  const m = await evaluateApt(model, pruner, ds, { onBatch });
  return {
    ...m,
    // EViT and random rank by attention or by fed scores: no scorer runs, so none is counted.
    macsRatio: macsRatio(model.config, pruner.config.cutLayers, m.keptMean, usesScorer(pruner.config.strategy), pruner.config.fuse),
    perImage: Array.from({ length: Math.min(images, ds.n) }, (_, i) => imageReport(m.firstPlans, i, model.config)),
  };
}

export interface Throughput {
  /** Images/s of the plain model. */
  readonly plain: number;
  /** Images/s of the pruned model, the batch run at once (threshold: padded to its largest kept count). */
  readonly pruned: number;
  /** Images/s of the pruned model run one image at a time (per-sample groups: nothing padded). */
  readonly prunedPerSample?: number;
}

/**
 * Images/s of the plain and the pruned (gathered) model at batch `b`, interleaved rounds, weights
 * baked in. At b > 1 also the per-sample alternative to padding: the same b images one by one.
 */
export async function throughput(model: VitModel, pruner: TokenPruner, ds: Dataset, b: number, seconds = 6): Promise<Throughput> {
  const images = (batches(ds, { batchSize: b, reuseBuffers: false }).next().value as { images: Tensor<'float32'> }).images;
  const singles =
    b > 1
      ? Array.from({ length: b }, (_, i) => ({
          type: 'float32' as const,
          dims: [1, ...images.dims.slice(1)],
          data: images.data.subarray(i * 784 * model.config.inChans, (i + 1) * 784 * model.config.inChans),
        }))
      : [];
  const plain = await compile(inferenceGraph(model.config), { initializers: model.params });
  const pruned = await compile(prunedInferenceGraph(model.config, pruner.config, 'gathered'), { initializers: { ...model.params, ...pruner.params } });
  const time = async (run: () => Promise<unknown>, n: number) => {
    const t = performance.now();
    for (let i = 0; i < n; i++) await run();
    return (performance.now() - t) / 1000;
  };
  // The random baseline reads its scores as inputs; drawn once here, outside the timed loops.
  const rng = new Rng(0);
  const scores = (batch: number): Record<string, Tensor> =>
    pruner.config.strategy.kind !== 'random'
      ? {}
      : Object.fromEntries(
          pruner.config.cutLayers.map((_, k) => [
            `random_score.${k}`,
            tensor(rng.fillUniform(new Float32Array(batch * numTokens(model.config))), [batch, numTokens(model.config)]),
          ]),
        );
  const [batchScores, singleScores] = [scores(b), scores(1)];
  const runPlain = () => plain.run({ images });
  const runPruned = () => pruned.run({ images, ...batchScores });
  const runSingles = async () => {
    for (const x of singles) await pruned.run({ images: x, ...singleScores });
  };
  await time(runPlain, 2);
  await time(runPruned, 2);
  const per = Math.max(1, Math.round((seconds / 8) * (b === 1 ? 400 : 16)));
  const acc = { plain: 0, pruned: 0, singles: 0 };
  for (let r = 0; r < 4; r++) {
    acc.plain += await time(runPlain, per);
    acc.pruned += await time(runPruned, per);
    if (singles.length) acc.singles += await time(runSingles, Math.max(1, Math.round(per / 4)));
  }
  plain.dispose();
  pruned.dispose();
  const perSample = singles.length ? { prunedPerSample: (4 * Math.max(1, Math.round(per / 4)) * b) / acc.singles } : {};
  return { plain: (4 * per * b) / acc.plain, pruned: (4 * per * b) / acc.pruned, ...perSample };
}

/** `count` images spread evenly over `ds` (one per class for a class-major split of 10·count). */
export function spread(ds: Dataset, count: number): Dataset {
  const n = Math.min(count, ds.n);
  return subset(
    ds,
    Int32Array.from({ length: n }, (_, i) => Math.floor((i * ds.n) / n)),
  );
}

/** Token maps of `ds`'s images as a PNG (dropped patches greyed per cut layer); returns their plans. */
export async function writeTokenMaps(path: string, model: VitModel, pruner: TokenPruner, ds: Dataset): Promise<KeepPlan> {
  const first = batches(ds, { batchSize: ds.n, reuseBuffers: false }).next().value as { images: Tensor<'float32'> };
  const { plans } = await pruner.run(model, first.images);
  const img = renderTokenMaps(ds.images, ds.n, model.config, plans);
  await writeFileAtomic(path, encodePng(img.width, img.height, img.rgb), 'writeTokenMaps');
  return plans;
}
