import { readFile } from 'node:fs/promises';
import type { Command as Commander } from 'commander';
import { type CnnModel, create } from '../../cnn/api.js';
import { CNN_PRESETS, type CnnPreset } from '../../cnn/config.js';
import { fashionMnist } from '../../data/index.js';
import { loadCheckpoint } from '../../io/checkpoint.js';
import type { FilterCriterion } from '../../prune/filters/rank.js';
import { type FilterRunEvent, type FilterRunResult, type RatioSource, runFilterPruning } from '../../prune/filters/run.js';
import { parseSensitivity } from '../../prune/filters/sensitivity.js';
import { cnnFromCheckpoint } from '../../prune/resrep/run.js';
import { ValueError } from '../../tensor/errors.js';
import type { FitEvent } from '../../train/fit.js';
import { type CommandSpec, defineCommand } from '../command.js';
import { EXIT, UsageError } from '../errors.js';
import { choiceFlag, intFlag, option, optionalInt, positiveFlag, type RawOptions, stringFlag } from '../flags.js';
import type { Context } from '../io.js';
import { createProgress, type Progress } from '../progress.js';
import { prepareOutDir } from '../run-dir.js';

const PRESETS = Object.keys(CNN_PRESETS) as CnnPreset[];

/** Flags shared by `prune l1`, `prune entropy` and `sensitivity`: the base model, data, layers, threads. */
export interface BaseArgs {
  readonly preset: CnnPreset;
  readonly base: string | undefined;
  readonly layers: string[] | undefined;
  readonly seed: number;
  readonly limitPerClass: number | undefined;
  readonly threads: number | undefined;
}

export function defineBaseFlags(cmd: Commander): Commander {
  return cmd
    .option('--base <checkpoint>', 'trained base model checkpoint (cnn config in its sidecar); default: a fresh seeded init of --preset')
    .addOption(option('--preset <name>', `CNN preset without --base: ${PRESETS.join(' | ')}`, 'fmnist-vgg8'))
    .option('--layers <names>', 'comma-separated layers (default: every prunable conv; refused layers name their rule)')
    .addOption(option('--seed <n>', 'seed of init and shuffling', '0'))
    .option('--limit-per-class <k>', 'only the first k images of each class per split (smoke runs)')
    .option('--threads <t>', 'ONNX Runtime intra-op threads (default: all cores)');
}

export function parseBaseFlags(w: string, o: RawOptions): BaseArgs {
  const layers =
    o['layers'] === undefined
      ? undefined
      : stringFlag(w, '--layers', o['layers'])
          .split(',')
          .map((s) => s.trim());
  if (layers?.some((l) => l === '')) throw new UsageError(w, `--layers must be comma-separated layer names, got '${o['layers']}'`);
  return {
    preset: choiceFlag(w, '--preset', o['preset'], PRESETS),
    base: o['base'] === undefined ? undefined : stringFlag(w, '--base', o['base']),
    layers,
    seed: intFlag(w, '--seed', o['seed'], 0),
    limitPerClass: optionalInt(w, '--limit-per-class', o['limitPerClass']),
    threads: optionalInt(w, '--threads', o['threads']),
  };
}

/** The base model: --base's checkpoint, or a fresh init of --preset. */
export async function loadBase(a: BaseArgs): Promise<CnnModel> {
  return a.base ? cnnFromCheckpoint(await loadCheckpoint(a.base)) : create(a.preset, { seed: a.seed });
}

/** A ratio p ∈ (0, 1) from a flag. */
function ratioFlag(w: string, flag: string, v: unknown): number {
  const p = positiveFlag(w, flag, v);
  if (p >= 1) throw new UsageError(w, `${flag} is the fraction of filters pruned away, in (0, 1); got ${p}`);
  return p;
}

/** δ in accuracy points, ≥ 0 (0: no drop allowed). */
export function deltaFlag(w: string, v: unknown): number {
  const s = stringFlag(w, '--delta', v);
  const d = Number(s);
  if (!Number.isFinite(d) || d < 0) throw new UsageError(w, `--delta must be a number of accuracy points ≥ 0, got '${s}'`);
  return d;
}

export interface PruneFiltersArgs extends BaseArgs {
  readonly method: FilterCriterion;
  readonly ratio: number | undefined;
  readonly delta: number | undefined;
  readonly sensitivity: string | undefined;
  readonly perStage: boolean;
  readonly ranking: 'independent' | 'greedy';
  readonly epochs: number;
  readonly layerEpochs: number;
  readonly out: string;
  readonly batch: number;
  readonly lr: number;
  readonly bins: number;
  readonly images: number;
}

function parseArgs(method: FilterCriterion, o: RawOptions, operands: readonly string[]): PruneFiltersArgs {
  const w = `prune ${method}`;
  if (operands[0] !== method) throw new UsageError(w, `method must be '${method}', got '${operands[0] ?? ''}'`);
  const ratio = o['ratio'] === undefined ? undefined : ratioFlag(w, '--ratio', o['ratio']);
  const sensitivity = o['sensitivity'] === undefined ? undefined : stringFlag(w, '--sensitivity', o['sensitivity']);
  let delta = o['delta'] === undefined ? undefined : deltaFlag(w, o['delta']);
  if (ratio !== undefined && (delta !== undefined || sensitivity !== undefined))
    throw new UsageError(w, 'give either --ratio or --delta/--sensitivity, not both');
  if (ratio === undefined && delta === undefined && sensitivity === undefined) {
    throw new UsageError(w, 'give --ratio <p> (uniform), or --delta <points> (δ rule on a sensitivity sweep; --sensitivity <json> reuses one)');
  }
  if (ratio === undefined) delta ??= 1;
  return {
    ...parseBaseFlags(w, o),
    method,
    ratio,
    delta,
    sensitivity,
    perStage: o['perStage'] === true,
    ranking: method === 'l1' ? choiceFlag(w, '--ranking', o['ranking'], ['independent', 'greedy'] as const) : 'independent',
    epochs: intFlag(w, '--epochs', o['epochs'], 0),
    layerEpochs: method === 'entropy' ? intFlag(w, '--layer-epochs', o['layerEpochs'], 0) : 0,
    out: stringFlag(w, '--out', o['out']),
    batch: intFlag(w, '--batch', o['batch']),
    lr: positiveFlag(w, '--lr', o['lr']),
    bins: method === 'entropy' ? intFlag(w, '--bins', o['bins']) : 100,
    images: method === 'entropy' ? intFlag(w, '--images', o['images']) : 1000,
  };
}

/** Progress for the filter pipeline: fit events to the bar, sweep points as a phase, per-layer notes. */
export function filterProgress(ctx: Context, progress: Progress): (e: FilterRunEvent) => void {
  return (e) => {
    if (e.kind === 'phase') progress.phase(e.name);
    else if (e.kind === 'sensitivity') {
      if (ctx.json) ctx.emit(e);
      else progress.phase(`sensitivity ${e.layer} p=${e.ratio} (${e.done}/${e.total})`);
      if (e.done % Math.max(1, Math.round(e.total / 10)) === 0)
        progress.note(`sensitivity: ${e.done}/${e.total} points (${e.layer} p=${e.ratio}: drop ${e.drop.toFixed(2)} pt)`);
    } else if (e.kind === 'layer') {
      if (ctx.json) ctx.emit(e);
      progress.note(`pruned ${e.layer}: ${e.width} → ${e.kept} filters`);
    } else progress.fit(e as FitEvent);
  };
}

function filterCommand(method: FilterCriterion): CommandSpec<PruneFiltersArgs> {
  const w = `prune ${method}`;
  const what = method === 'l1' ? 'L1 norm of each filter (Li et al.)' : 'entropy of each channel’s pooled response (Luo & Wu), layer by layer';
  return defineCommand({
    summary: `filter pruning by ${what}: ratios uniform or by the δ rule on a sensitivity sweep, then a short retrain`,
    define(cmd) {
      defineBaseFlags(cmd)
        .option('--ratio <p>', 'prune the fraction p of the filters of every layer (uniform)')
        .option('--delta <points>', 'δ rule: per layer, the largest p whose sweep drops ≤ δ accuracy points (default 1 without --ratio)')
        .option('--sensitivity <json>', 'a sweep written by `apt-prune sensitivity` (default: sweep the validation split here)')
        .option('--per-stage', 'one ratio per stage (layer-name prefix before the first dot, e.g. ResNet layer2)')
        .requiredOption('--epochs <n>', 'retraining epochs after pruning (0: none)')
        .requiredOption('--out <dir>', 'output: pruned.safetensors + .json, pruned.onnx, plan.json, result.json (+ sensitivity.json/png)')
        .addOption(option('--batch <n>', 'retraining batch size', '64'))
        .addOption(option('--lr <x>', 'retraining learning rate (SGD momentum 0.9, cosine to 0)', '0.01'));
      if (method === 'l1') cmd.addOption(option('--ranking <r>', 'independent | greedy (L1 sums over still-kept input channels)', 'independent'));
      else {
        cmd
          .addOption(option('--bins <m>', 'histogram bins per channel', '100'))
          .addOption(option('--images <n>', 'class-balanced validation images for the scores', '1000'))
          .addOption(option('--layer-epochs <n>', 'fine-tune epochs after each layer', '0'));
      }
      cmd.addHelpText(
        'after',
        `\nExamples:\n  apt-prune prune ${method} --base runs/vgg/final --delta 1 --epochs 2 --out runs/${method}\n` +
          `  apt-prune prune ${method} --base runs/vgg/final --ratio 0.5 --epochs 2 --out runs/${method}-uniform --json`,
      );
    },
    parse: (opts, operands) => parseArgs(method, opts, operands),
    async run(a, ctx) {
      await prepareOutDir(w, a.out);
      const progress = createProgress(ctx, { epochs: a.epochs, evalLabel: 'val' });
      const started = ctx.now();
      let r: FilterRunResult;
      try {
        progress.phase('loading Fashion-MNIST');
        const data = await fashionMnist({ validation: true, limitPerClass: a.limitPerClass });
        const base = await loadBase(a);
        let ratios: RatioSource;
        if (a.ratio !== undefined) ratios = { kind: 'uniform', ratio: a.ratio };
        else {
          const result = a.sensitivity ? parseSensitivity(JSON.parse(await readFile(a.sensitivity, 'utf8'))) : undefined;
          if (result && result.model !== base.config.name)
            throw new ValueError(w, `--sensitivity ${a.sensitivity} is a sweep of ${result.model}, the base is ${base.config.name}`);
          ratios = { kind: 'sensitivity', delta: a.delta ?? 1, result, perStage: a.perStage };
        }
        r = await runFilterPruning({
          ...a,
          base,
          ratios,
          batchSize: a.batch,
          train: data.train,
          val: data.val,
          test: data.test,
          session: a.threads === undefined ? {} : { intraOpThreads: a.threads },
          onEvent: filterProgress(ctx, progress),
        });
      } finally {
        progress.end();
      }
      const seconds = (ctx.now() - started) / 1000;
      const { plan, accuracy, files, skipped } = r;
      ctx.emit({ kind: 'summary', command: 'prune', method, ratios: r.ratios, skipped, macs: plan.macs, accuracy, files, seconds });
      for (const l of plan.layers) ctx.print(`${l.layer}: ${l.width} → ${l.keep.length} filters (p = ${r.ratios[l.layer]})`);
      if (skipped.length) ctx.print(`skipped (too sensitive): ${skipped.join(', ')}`);
      const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
      ctx.print(`MACs ${plan.macs.before.toLocaleString('en-US')} → ${plan.macs.after.toLocaleString('en-US')} (${pct(1 - plan.macs.ratio)} removed)`);
      ctx.print(`test accuracy: base ${pct(accuracy.base)} · pruned ${pct(accuracy.pruned)} · after ${a.epochs} retraining epochs ${pct(accuracy.retrained)}`);
      ctx.print(
        `wrote ${files.checkpoint}.safetensors, ${files.onnx}, ${files.plan}, ${files.result}${files.plot ? `, ${files.plot}` : ''}; ${seconds.toFixed(1)} s`,
      );
      return EXIT.ok;
    },
  });
}

/** `apt-prune prune l1`. */
export const pruneL1Command = filterCommand('l1');
/** `apt-prune prune entropy`. */
export const pruneEntropyCommand = filterCommand('entropy');
