import { CNN_PRESETS, type CnnPreset } from '../../cnn/config.js';
import { fashionMnist } from '../../data/index.js';
import { formatConversionReport } from '../../prune/resrep/report.js';
import { type ResRepRunResult, runResRep } from '../../prune/resrep/run.js';
import type { FitEvent } from '../../train/fit.js';
import { defineCommand } from '../command.js';
import { EXIT, UsageError } from '../errors.js';
import { choiceFlag, intFlag, option, optionalInt, positiveFlag, type RawOptions, stringFlag } from '../flags.js';
import { createProgress } from '../progress.js';
import { prepareOutDir } from '../run-dir.js';

export interface PruneResrepArgs {
  readonly preset: CnnPreset;
  readonly target: number;
  readonly epochs: number;
  readonly out: string;
  readonly base: string | undefined;
  readonly batch: number;
  readonly lr: number;
  readonly lambda: number;
  readonly warmupEpochs: number;
  readonly interval: number;
  readonly granularity: number;
  readonly multipleOf: number;
  readonly seed: number;
  readonly resume: boolean;
  readonly limitPerClass: number | undefined;
  readonly threads: number | undefined;
}

const W = 'prune';
const PRESETS = Object.keys(CNN_PRESETS) as CnnPreset[];

/** Validates `prune resrep`'s operand and flags (pure). */
export function parsePruneArgs(o: RawOptions, operands: readonly string[]): PruneResrepArgs {
  if (operands[0] !== 'resrep') throw new UsageError(W, `method must be 'resrep', got '${operands[0] ?? ''}'`);
  const target = positiveFlag(W, '--target', o['target']);
  if (target >= 1) throw new UsageError(W, `--target is the remaining MACs fraction, in (0, 1); got ${target}`);
  const lambda = positiveFlag(W, '--lambda', o['lambda']);
  return {
    preset: choiceFlag(W, '--preset', o['preset'], PRESETS),
    target,
    epochs: intFlag(W, '--epochs', o['epochs']),
    out: stringFlag(W, '--out', o['out']),
    base: o['base'] === undefined ? undefined : stringFlag(W, '--base', o['base']),
    batch: intFlag(W, '--batch', o['batch']),
    lr: positiveFlag(W, '--lr', o['lr']),
    lambda,
    warmupEpochs: intFlag(W, '--warmup-epochs', o['warmupEpochs'], 0),
    interval: intFlag(W, '--interval', o['interval']),
    granularity: intFlag(W, '--granularity', o['granularity']),
    multipleOf: intFlag(W, '--multiple-of', o['multipleOf']),
    seed: intFlag(W, '--seed', o['seed'], 0),
    resume: o['resume'] === true,
    limitPerClass: optionalInt(W, '--limit-per-class', o['limitPerClass']),
    threads: optionalInt(W, '--threads', o['threads']),
  };
}

/** `apt-prune prune resrep`: ResRep on a CNN preset to a MACs target; writes the pruned checkpoint, ONNX and plan. */
export const pruneResrepCommand = defineCommand({
  summary: 'structured pruning: `prune resrep` trains compactors to a MACs target and writes a smaller model (checkpoint, ONNX, plan)',
  define(cmd) {
    cmd
      .addOption(option('--preset <name>', `CNN preset: ${PRESETS.join(' | ')}`, 'fmnist-resnet20'))
      .requiredOption('--target <f>', 'remaining MACs fraction (0.5 removes half)')
      .requiredOption('--epochs <n>', 'ResRep training epochs (SGD, cosine to 0)')
      .requiredOption('--out <dir>', 'run directory: train/ checkpoints, pruned.safetensors + .json, pruned.onnx, plan.json')
      .option('--base <checkpoint>', 'trained base model checkpoint (cnn config in its sidecar); default: a fresh seeded init')
      .addOption(option('--batch <n>', 'batch size', '64'))
      .addOption(option('--lr <x>', 'base learning rate (compactors momentum 0.99, no decay)', '0.01'))
      .addOption(option('--lambda <x>', 'group-lasso strength λ', '1e-4'))
      .addOption(option('--warmup-epochs <n>', 'epochs before the first mask update', '5'))
      .addOption(option('--interval <n>', 'iterations between mask updates', '200'))
      .addOption(option('--granularity <n>', 'channels masked per update at most', '4'))
      .addOption(option('--multiple-of <n>', 'round kept widths up to a multiple of n (4 or 8 suit CPU kernels)', '1'))
      .addOption(option('--seed <n>', 'seed of init and shuffling', '0'))
      .option('--resume', 'continue from the latest checkpoint in --out/train')
      .option('--limit-per-class <k>', 'only the first k images of each class (smoke runs)')
      .option('--threads <t>', 'ONNX Runtime intra-op threads (default: all cores)')
      .addHelpText(
        'after',
        '\nExamples:\n  apt-prune prune resrep --preset fmnist-resnet20 --base runs/base/final --target 0.5 --epochs 20 --out runs/rr\n' +
          '  apt-prune prune resrep --target 0.5 --epochs 2 --warmup-epochs 1 --interval 5 --limit-per-class 20 --out runs/smoke --json',
      );
  },
  parse: (opts, operands) => parsePruneArgs(opts, operands),
  async run(a, ctx) {
    await prepareOutDir(W, a.out);
    const progress = createProgress(ctx, { epochs: a.epochs });
    const started = ctx.now();
    let r: ResRepRunResult;
    try {
      progress.phase('loading Fashion-MNIST');
      const data = await fashionMnist({ limitPerClass: a.limitPerClass });
      r = await runResRep({
        ...a,
        batchSize: a.batch,
        train: data.train,
        test: data.test,
        session: a.threads === undefined ? {} : { intraOpThreads: a.threads },
        onEvent: (e) => {
          if (e.kind === 'phase') progress.phase(e.name);
          else if (e.kind === 'mask' || e.kind === 'report') {
            if (e.kind === 'mask' && e.exhausted)
              progress.note(`warning: iteration ${e.iteration}: the target ${e.target} is unreachable (every layer at its minimum width)`);
            if (ctx.json) ctx.emit(e);
            else if (e.kind === 'report' || !e.reached)
              progress.note(
                `iteration ${e.iteration}: F/F0 masked ${e.maskedRatio.toFixed(3)}, thresholded ${e.thresholdRatio.toFixed(3)} (target ${e.target})`,
              );
          } else progress.fit(e as FitEvent);
        },
      });
    } finally {
      progress.end();
    }
    const seconds = (ctx.now() - started) / 1000;
    const { report, accuracy, equivalence, files } = r;
    ctx.emit({ kind: 'summary', command: 'prune', method: 'resrep', report, accuracy, equivalence, files, macs: r.plan.macs, seconds });
    for (const line of formatConversionReport(report)) ctx.print(line);
    ctx.print(`test accuracy: unmerged ${(100 * accuracy.unmerged).toFixed(2)}% · merged ${(100 * accuracy.merged).toFixed(2)}%`);
    for (const [k, e] of Object.entries(equivalence)) {
      ctx.print(`equivalence (${k} inputs): max |Δ| ${e.maxAbs.toExponential(2)} vs bound ${e.bound.toExponential(2)} → ${e.ok ? 'ok' : 'EXCEEDED'}`);
    }
    ctx.print(`wrote ${files.checkpoint}.safetensors, ${files.onnx}, ${files.plan} (source ${files.source}); ${seconds.toFixed(1)} s`);
    return equivalence.random.ok && equivalence.real.ok ? EXIT.ok : EXIT.failure;
  },
});
