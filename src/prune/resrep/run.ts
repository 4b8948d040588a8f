/**
 * The ResRep pipeline as library functions (what `apt-prune prune resrep` and `apt-prune export`
 * run): base model → compactors → training with the schedule → conversion → pruned checkpoint,
 * ONNX file and plan, plus the equivalence report (max |Δ| between unmerged and merged outputs).
 */
import { join } from 'node:path';
import { type CnnModel, create, forward, fromStateDict } from '../../cnn/api.js';
import { type CnnConfig, type CnnPreset, resolveCnnConfig } from '../../cnn/config.js';
import { cnnInferenceGraph } from '../../cnn/model.js';
import type { Dataset } from '../../data/dataset.js';
import { evalBatches, numBatches } from '../../data/loader.js';
import { encode } from '../../graph/encode.js';
import type { SessionOptions } from '../../graph/runtime.js';
import { writeFileAtomic } from '../../io/atomic.js';
import { type LoadedCheckpoint, loadCheckpoint, saveCheckpoint } from '../../io/checkpoint.js';
import { CheckpointError, ValueError } from '../../tensor/errors.js';
import { Rng } from '../../tensor/rng.js';
import { type Tensor, tensor } from '../../tensor/tensor.js';
import { evaluate, type FitEvent, fit as fitModel, type Recipe } from '../../train/fit.js';
import { makePlan, type PruningPlan } from '../plan.js';
import { convertResRep, insertCompactors, type ResRepModel } from './cnn.js';
import { type ConversionReport, conversionReport } from './report.js';
import { type ResRepEvent, resrepTrainable } from './trainer.js';

/** The §5.2 recipe: SGD lr 0.01, momentum 0.9, weight decay 1e-4, cosine to 0 per iteration, no warm-up. */
export function resrepRecipe(epochs: number, o: { batchSize?: number; lr?: number; seed?: number; augment?: boolean } = {}): Recipe {
  return {
    epochs,
    batchSize: o.batchSize ?? 64,
    optimizer: { kind: 'sgd', lr: o.lr ?? 0.01, momentum: 0.9, weightDecay: 1e-4 },
    warmupFraction: 0,
    augment: o.augment ?? false,
    seed: o.seed ?? 0,
  };
}

/** A `cnn` model from a checkpoint whose sidecar holds its config (optimizer state and masks ignored). */
export function cnnFromCheckpoint(ck: LoadedCheckpoint): CnnModel {
  const raw = ck.info['config'] as unknown as CnnConfig | undefined;
  if (raw?.kind !== 'cnn') throw new CheckpointError('checkpoint', `${ck.paths.sidecar} holds no cnn config`);
  const config = resolveCnnConfig(raw);
  const params: Record<string, Tensor> = {};
  for (const [k, t] of Object.entries(ck.tensors)) if (!k.startsWith('optim:') && !k.startsWith('resrep.')) params[k] = t;
  return fromStateDict(config, params);
}

/** ONNX bytes of a `cnn` model, weights baked in as initializers (input `images` [B, C, H, W], output `logits`). */
export function exportCnnOnnx(model: CnnModel): Uint8Array {
  return encode(cnnInferenceGraph(model.config), { initializers: model.params, name: model.config.name });
}

export interface Equivalence {
  readonly maxAbs: number;
  readonly maxRef: number;
  /** 1e-5 · max(1, maxRef) (§8). */
  readonly bound: number;
  readonly ok: boolean;
}

/** Max |Δ| between two models' logits on `images`, against the §8 bound. */
export async function equivalence(ref: CnnModel, other: CnnModel, images: Tensor<'float32'>, session: SessionOptions = {}): Promise<Equivalence> {
  const a = await forward(ref, images, session);
  const b = await forward(other, images, session);
  let maxAbs = 0;
  let maxRef = 0;
  for (let i = 0; i < a.data.length; i++) {
    maxAbs = Math.max(maxAbs, Math.abs((a.data[i] as number) - (b.data[i] as number)));
    maxRef = Math.max(maxRef, Math.abs(a.data[i] as number));
  }
  const bound = 1e-5 * Math.max(1, maxRef);
  return { maxAbs, maxRef, bound, ok: maxAbs <= bound };
}

export interface ResRepRunOptions {
  readonly preset?: CnnPreset;
  /** Remaining MACs fraction (0.5 removes half). */
  readonly target: number;
  readonly epochs: number;
  /** Output directory: train/ (checkpoints), pruned.{safetensors,json}, pruned.onnx, plan.json. */
  readonly out: string;
  readonly train: Dataset;
  readonly test: Dataset;
  /** Checkpoint of the trained base (cnn config in its sidecar); a fresh seeded init otherwise. */
  readonly base?: string;
  readonly batchSize?: number;
  readonly lr?: number;
  readonly lambda?: number;
  /** Warm-up in epochs before the first mask update (default 5, at most epochs − 1). */
  readonly warmupEpochs?: number;
  readonly interval?: number;
  readonly granularity?: number;
  readonly multipleOf?: number;
  readonly seed?: number;
  readonly augment?: boolean;
  readonly resume?: boolean;
  readonly maxSteps?: number;
  readonly reportEvery?: number;
  readonly session?: SessionOptions;
  readonly onEvent?: (e: FitEvent | ResRepEvent | { kind: 'phase'; name: string }) => void;
}

export interface ResRepRunResult {
  readonly rr: ResRepModel;
  readonly pruned: CnnModel;
  readonly plan: PruningPlan;
  readonly report: ConversionReport;
  readonly accuracy: { readonly unmerged: number; readonly merged: number };
  readonly equivalence: { readonly random: Equivalence; readonly real: Equivalence };
  readonly files: { readonly checkpoint: string; readonly onnx: string; readonly plan: string; readonly source: string };
}

/** Runs ResRep end to end and writes the pruned model (see ResRepRunOptions.out). */
export async function runResRep(o: ResRepRunOptions): Promise<ResRepRunResult> {
  const ev = o.onEvent ?? (() => {});
  let base: CnnModel;
  if (o.base) {
    ev({ kind: 'phase', name: 'loading base checkpoint' });
    base = cnnFromCheckpoint(await loadCheckpoint(o.base));
  } else base = create(o.preset ?? 'fmnist-resnet20', { seed: o.seed ?? 0 });
  const rr = insertCompactors(base);
  const recipe = resrepRecipe(o.epochs, { batchSize: o.batchSize, lr: o.lr, seed: o.seed, augment: o.augment });
  const perEpoch = numBatches(o.train.n, recipe.batchSize, true);
  const warmupEpochs = Math.min(o.warmupEpochs ?? 5, Math.max(0, o.epochs - 1));
  const t = await resrepTrainable(rr, {
    target: o.target,
    warmup: Math.round(warmupEpochs * perEpoch),
    lambda: o.lambda,
    interval: o.interval,
    granularity: o.granularity,
    multipleOf: o.multipleOf,
    reportEvery: o.reportEvery,
    session: o.session,
    onEvent: ev,
  });
  let source = '';
  await fitModel(t, recipe, {
    train: o.train,
    evalSet: o.test,
    out: join(o.out, 'train'),
    checkpointEvery: perEpoch,
    resume: o.resume,
    maxSteps: o.maxSteps,
    onEvent: (e) => {
      if (e.kind === 'checkpoint') source = e.path;
      ev(e);
    },
  });
  ev({ kind: 'phase', name: 'converting' });
  const src = await loadCheckpoint(source);
  const converted = convertResRep(rr, { multipleOf: o.multipleOf });
  const masks = Object.fromEntries(rr.compactors.map((s) => [s.layer, t.state().masks[s.layer] as Float32Array]));
  const report = conversionReport(rr.base, converted, masks, o.target);
  const keep = Object.fromEntries(converted.layers.map((l) => [l.layer, l.keep]));
  const widths = Object.fromEntries(converted.layers.map((l) => [l.layer, l.width]));
  const plan = makePlan({
    method: 'resrep',
    model: rr.base.name,
    before: rr.base,
    after: converted.model,
    keep,
    widths,
    target: o.target,
    source: { sha256: src.sha256, path: src.paths.tensors },
  });
  const pruned = converted.model;
  const files = { checkpoint: join(o.out, 'pruned'), onnx: join(o.out, 'pruned.onnx'), plan: join(o.out, 'plan.json'), source: src.paths.tensors };
  await saveCheckpoint(files.checkpoint, { tensors: pruned.params, sidecar: { config: pruned.config as never, plan: plan as never, seed: o.seed ?? 0 } });
  await writeFileAtomic(files.onnx, exportCnnOnnx(pruned));
  await writeFileAtomic(files.plan, new TextEncoder().encode(`${JSON.stringify(plan, null, 1)}\n`));
  ev({ kind: 'phase', name: 'equivalence' });
  const rng = new Rng((o.seed ?? 0) + 1);
  const random = tensor(rng.fillNormal(new Float32Array(16 * 784)), [16, 1, 28, 28], 'float32');
  const first = evalBatches(o.test, { batchSize: Math.min(256, o.test.n) }).next();
  if (first.done) throw new ValueError('resrep.runResRep', 'the test set is empty');
  const real = first.value.images;
  const equiv = { random: await equivalence(rr, pruned, random, o.session), real: await equivalence(rr, pruned, real, o.session) };
  const accuracy = {
    unmerged: (await evaluate({ predict: (x) => forward(rr, x, o.session) }, o.test)).accuracy,
    merged: (await evaluate({ predict: (x) => forward(pruned, x, o.session) }, o.test)).accuracy,
  };
  return { rr, pruned, plan, report, accuracy, equivalence: equiv, files };
}
