import { join } from 'node:path';
import { FASHION_MNIST_SPLIT } from '../../data/fashion-mnist.js';
import { fashionMnist } from '../../data/index.js';
import { saveCheckpoint } from '../../io/checkpoint.js';
import { evaluate, type FitEvent, fit as fitModel, type Recipe, vitRecipe } from '../../train/fit.js';
import { createModel, modelTrainable } from '../../vit/registry.js';
import { defineCommand } from '../command.js';
import { EXIT, UsageError } from '../errors.js';
import { intFlag, option, optionalInt, positiveFlag, type RawOptions, stringFlag } from '../flags.js';
import type { Context } from '../io.js';
import { withEvalProgress } from '../model.js';
import { createProgress, type Progress } from '../progress.js';
import { latestRun, prepareOutDir, pruneCheckpoints } from '../run-dir.js';

/** Presets `train` accepts: the Fashion-MNIST ViTs (vit-b16 takes 224×224×3 images). */
export const TRAIN_PRESETS = ['fmnist-vit-t', 'fmnist-vit-s', 'fmnist-sret'] as const;
export type TrainPreset = (typeof TRAIN_PRESETS)[number];

/** The reference recipe's label smoothing (../shared/reference.md); the training loss, not the eval loss. */
const LABEL_SMOOTHING = 0.1;

export interface TrainArgs {
  readonly preset: TrainPreset;
  readonly epochs: number;
  readonly out: string;
  readonly batch: number;
  readonly lr: number;
  readonly seed: number;
  readonly resume: boolean;
  /** Updates between checkpoints; default one epoch. */
  readonly checkpointEvery: number | undefined;
  /** Newest step checkpoints to keep (0 = all). */
  readonly keep: number;
  readonly limitPerClass: number | undefined;
  readonly threads: number | undefined;
  /** Evaluate on the validation split each epoch (training then uses 55,000 images). */
  readonly val: boolean;
}

const W = 'train';

/** Validates train's flags (pure; the out directory is checked by `run` before any work). */
export function parseTrainArgs(o: RawOptions): TrainArgs {
  const preset = stringFlag(W, '--preset', o['preset']);
  if (!(TRAIN_PRESETS as readonly string[]).includes(preset)) throw new UsageError(W, `unknown preset '${preset}'; presets: ${TRAIN_PRESETS.join(', ')}`);
  const val = o['val'] === true;
  const limitPerClass = optionalInt(W, '--limit-per-class', o['limitPerClass']);
  const batch = intFlag(W, '--batch', o['batch']);
  // The data size is known without loading it, so an impossible batch fails before any work.
  const perClass = Math.min(limitPerClass ?? Number.POSITIVE_INFINITY, val ? FASHION_MNIST_SPLIT.valStart : FASHION_MNIST_SPLIT.trainEnd);
  if (batch > 10 * perClass) throw new UsageError(W, `--batch ${batch} exceeds the ${10 * perClass} training images`);
  return {
    preset: preset as TrainPreset,
    epochs: intFlag(W, '--epochs', o['epochs']),
    out: stringFlag(W, '--out', o['out']),
    batch,
    lr: positiveFlag(W, '--lr', o['lr']),
    seed: intFlag(W, '--seed', o['seed'], 0),
    resume: o['resume'] === true,
    checkpointEvery: optionalInt(W, '--checkpoint-every', o['checkpointEvery']),
    keep: intFlag(W, '--keep', o['keep'], 0),
    limitPerClass,
    threads: optionalInt(W, '--threads', o['threads']),
    val,
  };
}

/** `apt-prune train`: Fashion-MNIST, a ViT preset, the reference recipe with flag overrides. */
export const trainCommand = defineCommand({
  summary: 'train a ViT preset on Fashion-MNIST (reference recipe), with checkpoints and resume',
  define(cmd) {
    cmd
      .requiredOption('--preset <name>', `model preset: ${TRAIN_PRESETS.join(' | ')}`)
      .requiredOption('--epochs <n>', 'epochs to train (the LR schedule spans all of them)')
      .requiredOption('--out <dir>', 'run directory: step checkpoints, then final.safetensors + final.json')
      .addOption(option('--batch <n>', 'batch size', '256'))
      .addOption(option('--lr <x>', 'peak AdamW learning rate (5% warmup, cosine to 0)', '1e-3'))
      .addOption(option('--seed <n>', 'seed of init, shuffling and augmentation', '0'))
      .option('--resume', 'continue from the latest checkpoint in --out')
      .option('--checkpoint-every <n>', 'updates between checkpoints (default: one epoch)')
      .addOption(option('--keep <k>', 'keep the newest k step checkpoints (0 = all)', '2'))
      .option('--limit-per-class <k>', 'use only the first k images of each class in each split (smoke runs)')
      .option('--threads <t>', 'ONNX Runtime intra-op threads (default: all cores)')
      .option('--val', 'evaluate on the validation split (last 500 train images per class) instead of test')
      .addHelpText(
        'after',
        '\nExamples:\n  apt-prune train --preset fmnist-vit-t --epochs 30 --out runs/t\n' +
          '  apt-prune train --preset fmnist-vit-t --epochs 30 --out runs/t --resume\n' +
          '  apt-prune train --preset fmnist-vit-t --epochs 1 --limit-per-class 20 --batch 32 --out runs/smoke --json',
      );
  },
  parse: (opts) => parseTrainArgs(opts),
  async run(a, ctx) {
    await prepareOutDir(W, a.out);
    const resuming = await checkPreviousRun(a);
    const progress = createProgress(ctx, { epochs: a.epochs, evalLabel: a.val ? 'val' : 'test' });
    if (a.resume && !resuming) progress.note(`no checkpoint in ${a.out}: starting a new run`);
    const started = ctx.now();
    let r: TrainResult;
    try {
      r = await trainAndSave(a, ctx, progress);
    } finally {
      progress.end();
    }
    const seconds = (ctx.now() - started) / 1000;
    ctx.emit({ kind: 'summary', command: 'train', preset: a.preset, epochs: a.epochs, ...r, seconds });
    ctx.print(`trained ${a.preset} for ${a.epochs} epoch${a.epochs === 1 ? '' : 's'} (${r.steps} steps) in ${r.trainSeconds.toFixed(1)} s`);
    ctx.print(`test accuracy ${(100 * r.test.accuracy).toFixed(2)}% · loss ${r.test.loss.toFixed(4)} (${r.test.n} images)`);
    ctx.print(`final checkpoint: ${r.checkpoint} (+ ${r.sidecar}); total ${seconds.toFixed(1)} s`);
    return EXIT.ok;
  },
});

/** Refuses to mix runs: an earlier run in --out needs --resume, and a resume needs its preset. True when resuming one. */
async function checkPreviousRun(a: TrainArgs): Promise<boolean> {
  const previous = await latestRun(a.out);
  if (!previous) return false;
  if (!a.resume) throw new UsageError(W, `--out ${a.out} already holds a run (${previous.sidecar}); pass --resume to continue it or choose another --out`);
  const preset = (previous.info['config'] as { name?: unknown } | undefined)?.name;
  if (preset !== a.preset) throw new UsageError(W, `${previous.sidecar} was trained with --preset ${String(preset)}; resume it with that preset`);
  return true;
}

interface TrainResult {
  readonly steps: number;
  readonly test: { readonly accuracy: number; readonly loss: number; readonly n: number };
  readonly history: readonly { epoch: number; step: number; accuracy: number; loss: number }[];
  readonly trainSeconds: number;
  readonly checkpoint: string;
  readonly sidecar: string;
}

async function trainAndSave(a: TrainArgs, ctx: Context, progress: Progress): Promise<TrainResult> {
  const evalLabel = a.val ? 'val' : 'test';
  progress.phase('loading Fashion-MNIST');
  const data = await fashionMnist({ validation: a.val, limitPerClass: a.limitPerClass });
  const evalSet = a.val && data.val ? data.val : data.test;
  progress.phase(`compiling ${a.preset}`);
  progress.note(`Fashion-MNIST: ${data.train.n} train, ${evalSet.n} ${evalLabel} images (cache ${data.cache.status}, ${Math.round(data.cache.ms)} ms)`);
  const model = createModel(a.preset, { seed: a.seed });
  const session = a.threads === undefined ? {} : { intraOpThreads: a.threads };
  const trainable = withEvalProgress(await modelTrainable(model, { labelSmoothing: LABEL_SMOOTHING, session, seed: a.seed }), evalSet, evalLabel, progress);

  const base = vitRecipe(a.epochs, a.seed);
  const recipe: Recipe = { ...base, batchSize: a.batch, optimizer: { ...base.optimizer, lr: a.lr } };
  const onEvent = (e: FitEvent) => {
    progress.fit(e);
    if (e.kind === 'checkpoint') pruneCheckpoints(a.out, a.keep);
  };
  const fitStart = ctx.now();
  const res = await fitModel(trainable, recipe, {
    train: data.train,
    evalSet,
    out: a.out,
    resume: a.resume,
    checkpointEvery: a.checkpointEvery ?? Math.floor(data.train.n / a.batch),
    onEvent,
  });
  const trainSeconds = (ctx.now() - fitStart) / 1000;

  // The per-epoch curve already measured the final model on test, unless --val chose another split.
  const last = res.history.at(-1);
  const test =
    !a.val && last?.step === res.steps
      ? { accuracy: last.accuracy, loss: last.loss }
      : await evaluate(withEvalProgress(trainable, data.test, 'test', progress), data.test);
  const saved = await saveCheckpoint(join(a.out, 'final'), {
    tensors: Object.fromEntries([...trainable.params, ...(trainable.buffers ?? [])]),
    sidecar: {
      step: res.steps,
      seed: a.seed,
      epochs: a.epochs,
      config: model.config,
      recipe: recipe as never,
      labelSmoothing: LABEL_SMOOTHING,
      data: { name: 'fashion-mnist', evalSplit: evalLabel, limitPerClass: a.limitPerClass ?? null, train: data.train.n, test: data.test.n },
      history: res.history,
      metrics: { testAccuracy: test.accuracy, testLoss: test.loss },
    },
  });
  progress.fit({ kind: 'checkpoint', step: res.steps, path: saved.paths.sidecar });
  return {
    steps: res.steps,
    test: { ...test, n: data.test.n },
    history: res.history,
    trainSeconds,
    checkpoint: saved.paths.tensors,
    sidecar: saved.paths.sidecar,
  };
}
