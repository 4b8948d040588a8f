import type { Dataset } from '../data/dataset.js';
import { type Batch, batches, evalBatches, numBatches } from '../data/loader.js';
import { latestCheckpoint, loadCheckpoint, saveCheckpoint } from '../io/checkpoint.js';
import { CheckpointError, NonFiniteLossError, ValueError } from '../tensor/errors.js';
import { Rng } from '../tensor/rng.js';
import type { Tensor } from '../tensor/tensor.js';
import { scoreLogits } from './metrics.js';
import { AdamW, clipGradNorm, noDecay, type OptimizerState, type ParamGroup, type ParamStore, SGD } from './optim.js';
import { warmupCosine } from './schedule.js';
import type { StepResult } from './step.js';

/** What `fit` trains: parameters it updates in place, a gradient step and a predictor. */
export interface Trainable {
  readonly name: string;
  /** Saved in checkpoint sidecars (must be JSON). */
  readonly config: unknown;
  readonly params: ParamStore;
  /** Non-trained state the step updates itself (BN running statistics); checkpointed with the params. */
  readonly buffers?: ParamStore;
  step(batch: Batch): Promise<StepResult>;
  predict(images: Tensor<'float32'>): Promise<Tensor>;
  /** Per-parameter optimizer options (e.g. ResRep's compactors: momentum 0.99, no decay); they take precedence over fit's no-decay group. */
  readonly paramGroups?: readonly ParamGroup[];
  /** Runs at the top of iteration `iteration` (0-based: the updates already applied), before its forward pass (e.g. a mask schedule). */
  beforeStep?(iteration: number): void | Promise<void>;
  /** Rewrites the gradients of iteration `iteration` in place, after backward and before clipping and the optimizer (e.g. ResRep's gradient reset). */
  transformGrads?(grads: Record<string, Tensor<'float32'>>, iteration: number): void;
}

export type OptimizerSpec =
  | { readonly kind: 'adamw'; readonly lr: number; readonly betas?: readonly [number, number]; readonly eps?: number; readonly weightDecay: number }
  | { readonly kind: 'sgd'; readonly lr: number; readonly momentum: number; readonly nesterov?: boolean; readonly weightDecay: number };

/** A training recipe; `vitRecipe()` gives the reference one. */
export interface Recipe {
  readonly epochs: number;
  readonly batchSize: number;
  readonly optimizer: OptimizerSpec;
  /** Fraction of all updates spent in linear warmup before the cosine decay to 0. */
  readonly warmupFraction: number;
  /** Joint gradient-norm clip; none when undefined. */
  readonly clipNorm?: number;
  readonly augment: boolean;
  readonly seed: number;
}

/** The reference recipe of ../shared/reference.md: AdamW 1e-3, wd 0.05 on ≥2-D tensors, batch 256, 5% warmup + cosine, crop+flip. */
export function vitRecipe(epochs = 30, seed = 0): Recipe {
  return {
    epochs,
    batchSize: 256,
    optimizer: { kind: 'adamw', lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.05 },
    warmupFraction: 0.05,
    augment: true,
    seed,
  };
}

export type FitEvent =
  | {
      readonly kind: 'step';
      readonly epoch: number;
      readonly step: number;
      readonly totalSteps: number;
      readonly loss: number;
      readonly lr: number;
      readonly imagesPerSec: number;
      readonly etaSec: number;
    }
  | { readonly kind: 'eval'; readonly epoch: number; readonly step: number; readonly accuracy: number; readonly loss: number }
  | { readonly kind: 'checkpoint'; readonly step: number; readonly path: string }
  | { readonly kind: 'resume'; readonly step: number; readonly path: string };

export interface FitOptions {
  readonly train: Dataset;
  /** Evaluated after every epoch (accuracy + mean CE). */
  readonly evalSet?: Dataset;
  /** Checkpoint directory; resumes from its latest checkpoint when `resume` is set. */
  readonly out?: string;
  /** Checkpoint every N updates (and always at the end). */
  readonly checkpointEvery?: number;
  readonly resume?: boolean;
  /** Stop after this many updates (for tests and interrupted runs); the schedule still spans all epochs. */
  readonly maxSteps?: number;
  readonly onEvent?: (e: FitEvent) => void;
}

export interface FitResult {
  readonly steps: number;
  readonly history: { epoch: number; step: number; accuracy: number; loss: number }[];
}

function makeOptimizer(params: ParamStore, spec: OptimizerSpec, first: readonly ParamGroup[] = []): AdamW | SGD {
  const groups = [...first, { match: noDecay(params), weightDecay: 0 }];
  if (spec.kind === 'adamw') return new AdamW(params, { lr: spec.lr, betas: spec.betas, eps: spec.eps, weightDecay: spec.weightDecay, groups });
  return new SGD(params, { lr: spec.lr, momentum: spec.momentum, nesterov: spec.nesterov, weightDecay: spec.weightDecay, groups });
}

/** The data stream of epoch e: the (e+1)-th split of the seed's generator, whatever happened before. */
function epochRng(seed: number, epoch: number): Rng {
  const base = new Rng(seed);
  let r = base.split();
  for (let e = 0; e < epoch; e++) r = base.split();
  return r;
}

/** Top-1 accuracy and mean cross-entropy of `t` on `ds` (stored order, batch 500). */
export async function evaluate(t: Pick<Trainable, 'predict'>, ds: Dataset, batchSize = 500): Promise<{ accuracy: number; loss: number }> {
  let correct = 0;
  let lossSum = 0;
  let n = 0;
  for (const b of evalBatches(ds, { batchSize })) {
    const s = scoreLogits(await t.predict(b.images), b.labels);
    correct += s.correct;
    lossSum += s.lossSum;
    n += s.n;
  }
  return { accuracy: correct / n, loss: lossSum / n };
}

const OPT = 'optim:';

/**
 * Trains `t` with `recipe`: per update, a seeded (shuffled, augmented) batch → gradient step →
 * optional clip → optimizer with warmup+cosine LR. Checkpoints (parameters + optimizer state +
 * step) go to `out/` every `checkpointEvery` updates and at the end; with `resume`, training
 * continues from the latest one to the same parameters an uninterrupted run reaches (the data
 * stream of each epoch is derived from the seed, and skipped batches are replayed, not run).
 * A non-finite loss throws NonFiniteLossError naming the step; the last checkpoint stays intact.
 */
export async function fit(t: Trainable, recipe: Recipe, opts: FitOptions): Promise<FitResult> {
  if (!Number.isInteger(recipe.epochs) || recipe.epochs < 1) throw new ValueError('fit', `epochs must be a positive integer, got ${recipe.epochs}`);
  const perEpoch = numBatches(opts.train.n, recipe.batchSize, true);
  if (perEpoch < 1) throw new ValueError('fit', `batch size ${recipe.batchSize} exceeds the ${opts.train.n} training images`);
  const total = perEpoch * recipe.epochs;
  const lambda = warmupCosine(Math.round(recipe.warmupFraction * total), total);
  const opt = makeOptimizer(t.params, recipe.optimizer, t.paramGroups);
  const history: FitResult['history'] = [];
  let step = 0;
  if (opts.resume && opts.out && (await latestCheckpoint(opts.out).catch(() => undefined))) {
    const ck = await loadCheckpoint(opts.out);
    step = restore(t, opt, ck.tensors, ck.info);
    history.push(...((ck.info.history as FitResult['history'] | undefined) ?? []));
    opts.onEvent?.({ kind: 'resume', step, path: ck.paths.sidecar });
  }
  const save = async () => {
    if (!opts.out) return;
    const tensors: Record<string, Tensor> = Object.fromEntries([...t.params, ...(t.buffers ?? [])]);
    const st = opt.state();
    for (const [k, v] of Object.entries(st.buffers)) tensors[`${OPT}${k}`] = { type: 'float32', dims: [v.length], data: v };
    const saved = await saveCheckpoint(`${opts.out}/`, {
      tensors,
      sidecar: { step, seed: recipe.seed, config: t.config, recipe: recipe as never, optimizerStep: st.step, history },
    });
    opts.onEvent?.({ kind: 'checkpoint', step, path: saved.paths.sidecar });
  };
  const stopAt = Math.min(total, opts.maxSteps ?? total);
  const started = performance.now();
  const startStep = step;
  while (step < stopAt) {
    const epoch = Math.floor(step / perEpoch);
    const it = batches(opts.train, { batchSize: recipe.batchSize, shuffle: true, rng: epochRng(recipe.seed, epoch), dropLast: true, augment: recipe.augment });
    for (let skip = step - epoch * perEpoch; skip > 0; skip--) it.next(); // replay draws of done batches
    for (const batch of it) {
      await t.beforeStep?.(step);
      const res = await t.step(batch);
      if (!Number.isFinite(res.loss)) throw new NonFiniteLossError('fit', step + 1, res.loss);
      t.transformGrads?.(res.grads, step);
      if (recipe.clipNorm) clipGradNorm(res.grads, recipe.clipNorm);
      step++;
      const lr = recipe.optimizer.lr * lambda(step);
      opt.update(res.grads, lr);
      const secs = (performance.now() - started) / 1000;
      const rate = ((step - startStep) * recipe.batchSize) / secs;
      opts.onEvent?.({
        kind: 'step',
        epoch,
        step,
        totalSteps: stopAt,
        loss: res.loss,
        lr,
        imagesPerSec: rate,
        etaSec: ((stopAt - step) * recipe.batchSize) / rate,
      });
      // A checkpoint due at an epoch's end waits for that epoch's eval, so its history (restored on resume) has it.
      if (opts.checkpointEvery && step % opts.checkpointEvery === 0 && step < stopAt && step % perEpoch !== 0) await save();
      if (step >= stopAt) break;
    }
    if (step % perEpoch === 0 && opts.evalSet) {
      const m = await evaluate(t, opts.evalSet);
      history.push({ epoch: step / perEpoch, step, ...m });
      opts.onEvent?.({ kind: 'eval', epoch: step / perEpoch, step, ...m });
    }
    if (opts.checkpointEvery && step % opts.checkpointEvery === 0 && step < stopAt && step % perEpoch === 0) await save();
  }
  await save();
  return { steps: step, history };
}

function restore(t: Trainable, opt: AdamW | SGD, tensors: Record<string, Tensor>, info: Record<string, unknown>): number {
  const buffers: Record<string, Float32Array> = {};
  for (const [k, v] of Object.entries(tensors)) {
    if (k.startsWith(OPT)) buffers[k.slice(OPT.length)] = v.data as Float32Array;
    else {
      const p = t.params.get(k) ?? t.buffers?.get(k);
      if (!p || p.data.length !== v.data.length) throw new CheckpointError('fit', `checkpoint tensor '${k}' does not match the model's parameters`);
      p.data.set(v.data as Float32Array);
    }
  }
  opt.loadState({ step: Number(info.optimizerStep ?? 0), buffers } satisfies OptimizerState);
  const step = Number(info.step);
  if (!Number.isInteger(step) || step < 0) throw new CheckpointError('fit', `checkpoint step ${String(info.step)} is not a valid step`);
  return step;
}
