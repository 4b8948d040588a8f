import { fashionMnist } from '../../data/index.js';
import { loadCheckpoint } from '../../io/checkpoint.js';
import { evaluate } from '../../train/fit.js';
import { modelForward } from '../../vit/registry.js';
import { defineCommand } from '../command.js';
import { EXIT } from '../errors.js';
import { choiceFlag, intFlag, option, optionalInt, type RawOptions, stringFlag } from '../flags.js';
import type { Context } from '../io.js';
import { assertFashionModel, modelFromCheckpoint, withEvalProgress } from '../model.js';
import { createProgress, type Progress } from '../progress.js';

export const EVAL_SPLITS = ['test', 'val', 'train'] as const;
export type EvalSplit = (typeof EVAL_SPLITS)[number];

export interface EvalArgs {
  /** A checkpoint prefix, either of its files, or a run directory (its latest checkpoint). */
  readonly checkpoint: string;
  readonly split: EvalSplit;
  readonly batch: number;
  readonly limitPerClass: number | undefined;
  readonly threads: number | undefined;
}

const W = 'eval';

/** Validates eval's flags (pure). */
export function parseEvalArgs(o: RawOptions): EvalArgs {
  return {
    checkpoint: stringFlag(W, '--checkpoint', o['checkpoint']),
    split: choiceFlag(W, '--split', o['split'], EVAL_SPLITS),
    batch: intFlag(W, '--batch', o['batch']),
    limitPerClass: optionalInt(W, '--limit-per-class', o['limitPerClass']),
    threads: optionalInt(W, '--threads', o['threads']),
  };
}

/** `apt-prune eval`: top-1 accuracy and mean cross-entropy of a checkpoint on a Fashion-MNIST split. */
export const evalCommand = defineCommand({
  summary: 'evaluate a checkpoint on Fashion-MNIST: top-1 accuracy and mean cross-entropy',
  define(cmd) {
    cmd
      .requiredOption('--checkpoint <path>', 'checkpoint prefix, its .safetensors/.json, or a run directory (latest checkpoint)')
      .addOption(option('--split <name>', `split: ${EVAL_SPLITS.join(' | ')} (val = last 500 train images per class; train = all 60,000)`, 'test'))
      .addOption(option('--batch <n>', 'images per forward pass', '500'))
      .option('--limit-per-class <k>', 'only the first k images of each class')
      .option('--threads <t>', 'ONNX Runtime intra-op threads (default: all cores)')
      .addHelpText('after', '\nExamples:\n  apt-prune eval --checkpoint runs/t/final\n  apt-prune eval --checkpoint runs/t --split val --json');
  },
  parse: (opts) => parseEvalArgs(opts),
  async run(a, ctx) {
    const started = ctx.now();
    const progress = createProgress(ctx);
    let r: EvalResult;
    try {
      r = await evaluateCheckpoint(a, ctx, progress);
    } finally {
      progress.end();
    }
    ctx.emit({ kind: 'summary', command: 'eval', ...r, split: a.split, seconds: (ctx.now() - started) / 1000 });
    ctx.print(`${r.checkpoint} (${r.model}${r.step === undefined ? '' : `, step ${r.step}`}) on ${a.split} (${r.n} images):`);
    ctx.print(`top-1 accuracy ${(100 * r.accuracy).toFixed(2)}% · mean cross-entropy ${r.loss.toFixed(4)} · ${r.evalSeconds.toFixed(1)} s`);
    return EXIT.ok;
  },
});

interface EvalResult {
  readonly checkpoint: string;
  readonly model: string;
  readonly step: number | undefined;
  readonly n: number;
  readonly accuracy: number;
  readonly loss: number;
  readonly evalSeconds: number;
}

async function evaluateCheckpoint(a: EvalArgs, ctx: Context, progress: Progress): Promise<EvalResult> {
  progress.phase('loading checkpoint');
  const ck = await loadCheckpoint(a.checkpoint);
  const model = modelFromCheckpoint(ck);
  assertFashionModel(model.config, ck.paths.sidecar);

  progress.phase('loading Fashion-MNIST');
  const data = await fashionMnist({ validation: a.split === 'val', limitPerClass: a.limitPerClass });
  const ds = a.split === 'val' && data.val ? data.val : a.split === 'train' ? data.train : data.test;

  const session = a.threads === undefined ? {} : { intraOpThreads: a.threads };
  const predictor = withEvalProgress({ predict: (images) => modelForward(model, images, { session }) }, ds, a.split, progress);
  const evalStart = ctx.now();
  const m = await evaluate(predictor, ds, a.batch);
  const step = ck.info['step'];
  return {
    checkpoint: ck.paths.tensors,
    model: model.config.name,
    step: typeof step === 'number' ? step : undefined,
    n: ds.n,
    ...m,
    evalSeconds: (ctx.now() - evalStart) / 1000,
  };
}
