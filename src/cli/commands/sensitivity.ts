import { join } from 'node:path';
import { fashionMnist } from '../../data/index.js';
import { writeFileAtomic } from '../../io/atomic.js';
import { entropyScoresOf } from '../../prune/filters/entropy.js';
import { sensitivityPng } from '../../prune/filters/plot.js';
import { chooseRatios, sensitivity } from '../../prune/filters/sensitivity.js';
import { macsOfRatios, uniformRatioForMacs } from '../../prune/filters/uniform.js';
import { defineCommand } from '../command.js';
import { EXIT } from '../errors.js';
import { choiceFlag, intFlag, option, type RawOptions, stringFlag } from '../flags.js';
import { createProgress } from '../progress.js';
import { prepareOutDir } from '../run-dir.js';
import { type BaseArgs, defineBaseFlags, deltaFlag, filterProgress, loadBase, parseBaseFlags } from './prune-filters.js';

const W = 'sensitivity';

export interface SensitivityArgs extends BaseArgs {
  readonly criterion: 'l1' | 'entropy';
  readonly delta: number;
  readonly perStage: boolean;
  readonly out: string;
  readonly batch: number;
  readonly bins: number;
  readonly images: number;
}

export function parseSensitivityArgs(o: RawOptions): SensitivityArgs {
  return {
    ...parseBaseFlags(W, o),
    criterion: choiceFlag(W, '--criterion', o['criterion'], ['l1', 'entropy'] as const),
    delta: deltaFlag(W, o['delta']),
    perStage: o['perStage'] === true,
    out: stringFlag(W, '--out', o['out']),
    batch: intFlag(W, '--batch', o['batch']),
    bins: intFlag(W, '--bins', o['bins']),
    images: intFlag(W, '--images', o['images']),
  };
}

/** `apt-prune sensitivity`: Li et al.'s per-layer sweep on the validation split → JSON, PNG, δ-rule ratios. */
export const sensitivityCommand = defineCommand({
  summary: 'per-layer sensitivity of filter pruning (p = 0.1 … 0.9, no retraining) on the validation split: JSON, PNG plot, δ-rule ratios',
  define(cmd) {
    defineBaseFlags(cmd)
      .requiredOption('--out <dir>', 'output directory: sensitivity.json, sensitivity.png')
      .addOption(option('--criterion <c>', 'filter ranking: l1 | entropy', 'l1'))
      .addOption(option('--delta <points>', 'δ rule: the largest p whose drops up to p stay ≤ δ accuracy points', '1'))
      .option('--per-stage', 'one ratio per stage (layer-name prefix before the first dot, e.g. ResNet layer2)')
      .addOption(option('--batch <n>', 'evaluation batch size', '500'))
      .addOption(option('--bins <m>', 'entropy: histogram bins per channel', '100'))
      .addOption(option('--images <n>', 'entropy: class-balanced validation images for the scores', '1000'))
      .addHelpText(
        'after',
        '\nExamples:\n  apt-prune sensitivity --base runs/vgg/final --out runs/sens\n' +
          '  apt-prune prune l1 --base runs/vgg/final --sensitivity runs/sens/sensitivity.json --delta 1 --epochs 2 --out runs/l1',
      );
  },
  parse: (opts) => parseSensitivityArgs(opts),
  async run(a, ctx) {
    await prepareOutDir(W, a.out);
    const progress = createProgress(ctx);
    const started = ctx.now();
    const session = a.threads === undefined ? {} : { intraOpThreads: a.threads };
    const files = { json: join(a.out, 'sensitivity.json'), plot: join(a.out, 'sensitivity.png') };
    try {
      progress.phase('loading Fashion-MNIST');
      const { val } = await fashionMnist({ validation: true, limitPerClass: a.limitPerClass });
      const base = await loadBase(a);
      progress.phase('scoring');
      const scores = a.criterion === 'entropy' ? await entropyScoresOf(base, val, { layers: a.layers, bins: a.bins, images: a.images, session }) : undefined;
      const r = await sensitivity(base, val, {
        layers: a.layers,
        criterion: a.criterion,
        scores,
        batchSize: a.batch,
        session,
        onProgress: filterProgress(ctx, progress),
      });
      await writeFileAtomic(files.json, new TextEncoder().encode(`${JSON.stringify(r, null, 1)}\n`));
      await writeFileAtomic(files.plot, sensitivityPng(r, { delta: a.delta }));
      progress.end();
      const chosen = chooseRatios(r, { delta: a.delta, stage: a.perStage ? (l) => l.split('.')[0] ?? l : undefined });
      const macs = macsOfRatios(base.config, chosen.ratios);
      const uniform = uniformRatioForMacs(
        base.config,
        r.curves.map((c) => c.layer),
        macs,
      );
      const seconds = (ctx.now() - started) / 1000;
      ctx.emit({
        kind: 'summary',
        command: 'sensitivity',
        baseAccuracy: r.baseAccuracy,
        chosen,
        macs: { before: r.baseMacs, after: macs },
        uniform,
        files,
        seconds,
      });
      ctx.print(`validation accuracy ${(100 * r.baseAccuracy).toFixed(2)}% on ${r.images} images; accuracy drop (points) at p = ${r.ratios.join(' ')}:`);
      for (const c of r.curves) {
        const p = chosen.perLayer[c.layer];
        ctx.print(
          `  ${c.layer.padEnd(18)} [${String(c.width).padStart(4)}] ${c.drop.map((d) => d.toFixed(2).padStart(6)).join(' ')}  → ${p === 'skip' ? 'skip' : `p = ${p}`}`,
        );
      }
      ctx.print(
        `δ = ${a.delta} point(s): MACs ${r.baseMacs.toLocaleString('en-US')} → ${macs.toLocaleString('en-US')}; uniform p at the same MACs: ${uniform.ratio.toFixed(3)}`,
      );
      ctx.print(`wrote ${files.json}, ${files.plot}; ${seconds.toFixed(1)} s`);
      return EXIT.ok;
    } finally {
      progress.end();
    }
  },
});
