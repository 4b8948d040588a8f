import type { Command as Commander } from 'commander';
import { cnnTrainable, create } from '../../cnn/api.js';
import { CNN_PRESETS, type CnnPreset } from '../../cnn/config.js';
import { fashionMnist } from '../../data/index.js';
import { saveCheckpoint } from '../../io/checkpoint.js';
import { maskedTrainable, sparsityReport } from '../../prune/cops/mask.js';
import { balancedBatch, copsRecipe, type PruneAtInitResult, type PruneMethod, pruneAtInit, SCORE_NAMES, type ScoreName } from '../../prune/cops/run.js';
import { Rng } from '../../tensor/rng.js';
import * as train from '../../train/fit.js';
import { defineCommand } from '../command.js';
import { EXIT, UsageError } from '../errors.js';
import { choiceFlag, intFlag, option, optionalInt, type RawOptions, stringFlag } from '../flags.js';
import type { Context } from '../io.js';
import { withEvalProgress } from '../model.js';
import { createProgress } from '../progress.js';
import { prepareOutDir } from '../run-dir.js';

export interface PruneCopsArgs {
  readonly preset: CnnPreset;
  readonly sparsity: number;
  readonly method: PruneMethod;
  readonly onInfeasible: 'throw' | 'clamp';
  readonly epochs: number;
  readonly batch: number;
  readonly batchPerClass: number;
  readonly seed: number;
  readonly out: string | undefined;
  readonly limitPerClass: number | undefined;
  readonly threads: number | undefined;
}

const W = 'prune cops';
const PRESETS = Object.keys(CNN_PRESETS) as CnnPreset[];
const SCORES = [...SCORE_NAMES];

/** A number in [lo, hi] (`--kappa 0` is valid, unlike positiveFlag). */
function rangeFlag(flag: string, v: unknown, lo: number, hi: number, open = false): number {
  const s = stringFlag(W, flag, v);
  const n = Number(s);
  const ok = Number.isFinite(n) && n >= lo && (open ? n < hi : n <= hi);
  if (!ok) throw new UsageError(W, `${flag} must be a number in [${lo}, ${hi}${open ? ')' : ']'}, got '${s}'`);
  return n;
}

/** Validates the flags (pure). `--score` prunes by one score alone; otherwise COPS of --base and --control at --kappa. */
export function parsePruneCopsArgs(o: RawOptions): PruneCopsArgs {
  const score = o['score'] === undefined ? undefined : choiceFlag(W, '--score', o['score'], SCORES);
  if (score && o['kappa'] !== undefined) throw new UsageError(W, '--score prunes by one score; --kappa belongs to COPS (drop one of them)');
  const method: PruneMethod = score
    ? { kind: 'score', score }
    : {
        kind: 'cops',
        base: choiceFlag(W, '--base', o['base'], SCORES) as ScoreName,
        control: choiceFlag(W, '--control', o['control'], SCORES) as ScoreName,
        kappa: rangeFlag('--kappa', o['kappa'] ?? '0.5', 0, 1),
      };
  return {
    preset: choiceFlag(W, '--preset', o['preset'], PRESETS),
    sparsity: rangeFlag('--sparsity', o['sparsity'], 0, 1, true),
    method,
    onInfeasible: choiceFlag(W, '--on-infeasible', o['onInfeasible'], ['throw', 'clamp'] as const),
    epochs: intFlag(W, '--epochs', o['epochs'], 0),
    batch: intFlag(W, '--batch', o['batch']),
    batchPerClass: intFlag(W, '--batch-per-class', o['batchPerClass']),
    seed: intFlag(W, '--seed', o['seed'], 0),
    out: o['out'] === undefined ? undefined : stringFlag(W, '--out', o['out']),
    limitPerClass: optionalInt(W, '--limit-per-class', o['limitPerClass']),
    threads: optionalInt(W, '--threads', o['threads']),
  };
}

/** The options of `prune cops` on its commander subcommand. */
export function definePruneCopsOptions(cmd: Commander): void {
  cmd
    .addOption(option('--preset <name>', `CNN preset: ${PRESETS.join(' | ')}`, 'lenet-300-100'))
    .requiredOption('--sparsity <σ>', 'fraction of conv/linear weights pruned, in [0, 1) (0.98 keeps 2%)')
    .option('--kappa <κ>', 'COPS control level in [0, 1] (K1: 0 = top-k(base), 1 = top-k(control)) (default: 0.5)')
    .addOption(option('--base <score>', `base score: ${SCORES.join(' | ')}`, 'snip'))
    .addOption(option('--control <score>', `control score: ${SCORES.join(' | ')}`, 'grasp'))
    .option('--score <name>', `prune by this one score instead of COPS: ${SCORES.join(' | ')}`)
    .addOption(option('--on-infeasible <what>', 'a control level above top-k(control): throw | clamp (use top-k(control))', 'throw'))
    .addOption(option('--epochs <n>', 'training epochs after pruning (0: prune and evaluate only)', '20'))
    .addOption(option('--batch <n>', 'training batch size (recipe: SGD Nesterov 0.9, lr 0.05, 2% warmup + cosine, wd 5e-4)', '128'))
    .addOption(option('--batch-per-class <n>', 'images per class in the SNIP/GraSP batch', '10'))
    .addOption(option('--seed <n>', 'seed of init, score batch and shuffling', '0'))
    .option('--out <dir>', 'write the pruned, trained model as <dir>/final.{safetensors,json} (solve and sparsity in the sidecar)')
    .option('--limit-per-class <k>', 'only the first k images of each class (smoke runs)')
    .option('--threads <t>', 'ONNX Runtime intra-op threads (default: all cores)')
    .addHelpText(
      'after',
      '\nExamples:\n  apt-prune prune cops --preset lenet-300-100 --sparsity 0.98 --kappa 0.5 --epochs 20 --out runs/cops\n' +
        '  apt-prune prune cops --sparsity 0.9 --score synflow --epochs 0 --json',
    );
}

/** Runs `prune cops`: prune at init, train with the mask held, evaluate, optionally save. */
export async function runPruneCops(a: PruneCopsArgs, ctx: Context): Promise<number> {
  if (a.out) await prepareOutDir(W, a.out);
  const progress = createProgress(ctx, { epochs: a.epochs, evalLabel: 'test' });
  const started = ctx.now();
  const session = a.threads === undefined ? {} : { intraOpThreads: a.threads };
  let pruned: PruneAtInitResult;
  let accuracy: { accuracy: number; loss: number };
  const model = create(a.preset, { seed: a.seed });
  try {
    progress.phase('loading Fashion-MNIST');
    const data = await fashionMnist({ limitPerClass: a.limitPerClass });
    const batch = balancedBatch(data.train, a.batchPerClass, new Rng(1000 + a.seed));
    pruned = await pruneAtInit({
      model,
      method: a.method,
      sparsity: a.sparsity,
      batch,
      seed: a.seed,
      onInfeasible: a.onInfeasible,
      session,
      onPhase: (p) => progress.phase(p),
    });
    ctx.emit({
      kind: 'pruned',
      k: pruned.k,
      d: pruned.d,
      report: pruned.report,
      ...(pruned.combine ? { combine: pruned.combine } : {}),
      seconds: pruned.seconds,
    });
    const t = withEvalProgress(maskedTrainable(await cnnTrainable(model, { session }), pruned.masks), data.test, 'test', progress);
    if (a.epochs > 0)
      await train.fit(t, { ...copsRecipe(a.epochs, a.seed), batchSize: a.batch }, { train: data.train, evalSet: data.test, onEvent: (e) => progress.fit(e) });
    accuracy = await train.evaluate(t, data.test);
  } finally {
    progress.end();
  }
  const measured = sparsityReport(model);
  const c = pruned.combine;
  let file: string | undefined;
  if (a.out) {
    const sidecar = {
      config: model.config,
      method: a.method,
      sparsity: a.sparsity,
      seed: a.seed,
      epochs: a.epochs,
      accuracy,
      report: measured,
      ...(c ? { combine: c } : {}),
    };
    file = (await saveCheckpoint(`${a.out}/final`, { tensors: model.params, sidecar: sidecar as never })).paths.tensors;
  }
  const seconds = (ctx.now() - started) / 1000;
  ctx.emit({
    kind: 'summary',
    command: 'prune',
    method: 'cops',
    pruning: a.method,
    sparsity: measured.sparsity,
    k: pruned.k,
    d: pruned.d,
    accuracy,
    ...(c ? { combine: c } : {}),
    file,
    seconds,
  });
  const m = a.method;
  ctx.print(
    `${a.preset}: ${m.kind === 'cops' ? `COPS (base ${m.base}, control ${m.control}, κ = ${m.kappa})` : m.score} at sparsity ${a.sparsity}: kept ${pruned.k} of ${pruned.d} weights`,
  );
  for (const l of measured.layers) ctx.print(`  ${l.name}: ${l.kept}/${l.total} kept (${(100 * l.sparsity).toFixed(2)}% pruned)`);
  if (c) {
    ctx.print(
      `  λ = ${c.lambda.toPrecision(6)} (${c.status}, ${c.evaluations} evaluations) · S⁰/S⁰(M0) = ${c.baseRatio.toFixed(4)} · S¹ = ${c.controlScore.toPrecision(6)} (c = ${c.c.toPrecision(6)}) · sim to base ${c.simToBase.toFixed(3)}, to control ${c.simToControl.toFixed(3)}`,
    );
  }
  ctx.print(`test accuracy ${(100 * accuracy.accuracy).toFixed(2)}% after ${a.epochs} epochs · ${seconds.toFixed(1)} s${file ? ` · wrote ${file}` : ''}`);
  return EXIT.ok;
}

/** `apt-prune prune cops` (a method of the `prune` group, ./prune.ts): pruning at initialisation (COPS or one score), then training with the mask held. */
export const pruneCopsCommand = defineCommand({
  summary: 'prune at initialisation with COPS (SNIP base, GraSP control, κ) or one score, then train with the mask held',
  define: definePruneCopsOptions,
  parse: (opts) => parsePruneCopsArgs(opts),
  run: runPruneCops,
});
