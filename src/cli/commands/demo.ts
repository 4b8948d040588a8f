import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadAptCheckpoint } from '../../agent/checkpoint.js';
import { fashionMnist } from '../../data/index.js';
import { writeFileAtomic } from '../../io/atomic.js';
import { evaluate } from '../../train/fit.js';
import { forward } from '../../vit/api.js';
import { aptProgress, aptReport, finetune, recipeByName, spread, throughput, writeTokenMaps } from '../apt-run.js';
import { defineCommand } from '../command.js';
import { EXIT, UsageError } from '../errors.js';
import { intFlag, option, type RawOptions, stringFlag } from '../flags.js';
import { createProgress } from '../progress.js';

/** The committed plain fmnist-vit-t checkpoint the demo starts from (made by `apt-prune train`; see assets/README.md). */
export const DEMO_CHECKPOINT = join('assets', 'fmnist-vit-t');

export interface DemoArgs {
  readonly checkpoint: string;
  readonly out: string;
  readonly updates: number;
  readonly seed: number;
}

const W = 'demo';

export function parseDemoArgs(o: RawOptions): DemoArgs {
  return {
    checkpoint: stringFlag(W, '--checkpoint', o['checkpoint']),
    out: stringFlag(W, '--out', o['out']),
    updates: intFlag(W, '--updates', o['updates']),
    seed: intFlag(W, '--seed', o['seed'], 0),
  };
}

const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
const num = (x: number) => Math.round(x).toLocaleString('en-US');

/**
 * `apt-prune demo`: fine-tunes the committed plain fmnist-vit-t with the TokenPruner on Fashion-MNIST
 * and reports plain vs pruned accuracy, tokens kept, MACs and measured throughput; writes the
 * checkpoint, the one-graph ONNX file, report.json and token-maps.png to --out.
 */
export const demoCommand = defineCommand({
  summary: 'train a ViT with the TokenPruner on Fashion-MNIST and report accuracy and speed-up (≈ 10 min on 2 cores)',
  define(cmd) {
    cmd
      .addOption(option('--checkpoint <path>', 'plain ViT checkpoint to start from', DEMO_CHECKPOINT))
      .addOption(option('--out <dir>', 'where the checkpoint, ONNX file, report.json and token-maps.png go', join('runs', 'demo')))
      .addOption(option('--updates <n>', 'APT fine-tuning updates (96 images each)', '300'))
      .addOption(option('--seed <n>', 'seed', '0'));
  },
  parse: (opts) => parseDemoArgs(opts),
  async run(a, ctx) {
    if (!existsSync(`${a.checkpoint}.safetensors`))
      throw new UsageError(
        W,
        `no checkpoint at ${a.checkpoint}.safetensors (the repository ships assets/fmnist-vit-t; or pass --checkpoint from apt-prune train)`,
      );
    const started = ctx.now();
    const progress = createProgress(ctx);
    try {
      progress.phase('loading Fashion-MNIST');
      const data = await fashionMnist({ validation: true });
      const base = await loadAptCheckpoint(a.checkpoint, { seed: a.seed });
      progress.phase('evaluating the plain model on test');
      const plain = await evaluate({ predict: (images) => forward(base.model, images) }, data.test);
      ctx.note(`plain fmnist-vit-t: test ${pct(plain.accuracy)}; fine-tuning with the TokenPruner for ${a.updates} updates…`);
      const recipe = { ...recipeByName('fmnist-finetune', a.updates, a.seed), evalEvery: Math.max(50, Math.round(a.updates / 4)) };
      // 2,000 validation images (200 per class) pick the best-pruned checkpoint: enough to rank, quick to run.
      const val = spread(data.val, 2000);
      const tuned = await finetune(
        { checkpoint: a.checkpoint, strategy: 'threshold', recipe, out: a.out, seed: a.seed, train: data.train, val },
        aptProgress(ctx, progress),
      );
      const best = await loadAptCheckpoint(join(a.out, 'best-pruned'));
      progress.phase('evaluating APT on test');
      const r = await aptReport(best.model, best.pruner, data.test, (done) => progress.phase('evaluating APT on test', done, data.test.n));
      progress.phase('measuring throughput (B=1, B=64)');
      const speed = { b1: await throughput(best.model, best.pruner, data.test, 1), b64: await throughput(best.model, best.pruner, data.test, 64) };
      progress.phase('writing ONNX, report and token maps');
      const onnx = await best.pruner.exportOnnx(best.model, join(a.out, 'fmnist-apt.onnx'));
      const maps = spread(data.test, 10);
      const plans = await writeTokenMaps(join(a.out, 'token-maps.png'), best.model, best.pruner, maps);
      const sample = await aptReport(best.model, best.pruner, maps, undefined, 3);
      progress.end();
      const report = {
        plainCheckpoint: a.checkpoint,
        updates: tuned.result.updates,
        bestPrunedUpdate: tuned.result.bestPruned.update,
        test: { plain: plain.accuracy, aptPruning: r.prunedAccuracy, aptNoPruning: r.plainAccuracy, aptLoss: r.prunedLoss },
        cutLayers: best.pruner.config.cutLayers,
        tokensKeptMean: r.keptMean,
        macsRatio: r.macsRatio,
        imagesPerSec: speed,
        perImage: sample.perImage,
        tokenMaps: { images: Array.from(maps.labels), kept: plans.kept.map((per) => per.map((idx) => idx.length)) },
        onnx: onnx.path,
        seconds: (ctx.now() - started) / 1000,
      };
      await writeFileAtomic(join(a.out, 'report.json'), new TextEncoder().encode(`${JSON.stringify(report, null, 2)}\n`), W);
      ctx.emit({ kind: 'summary', command: 'demo', ...report });
      const cuts = best.pruner.config.cutLayers;
      ctx.print('');
      ctx.print(`                   test top-1   tokens kept after layers ${cuts.join('/')}   MACs    img/s B=1   img/s B=64`);
      ctx.print(
        `plain ViT          ${pct(plain.accuracy).padEnd(12)} ${cuts
          .map(() => '50')
          .join(' / ')
          .padEnd(29)} 1.000   ${num(speed.b1.plain).padEnd(11)} ${num(speed.b64.plain)}`,
      );
      ctx.print(
        `APT (pruning)      ${pct(r.prunedAccuracy).padEnd(12)} ${r.keptMean
          .map((k) => k.toFixed(1))
          .join(' / ')
          .padEnd(29)} ${r.macsRatio.toFixed(3)}   ${num(speed.b1.pruned).padEnd(11)} ${num(speed.b64.pruned)}`,
      );
      ctx.print(
        `APT (no pruning)   ${pct(r.plainAccuracy).padEnd(12)} ${cuts
          .map(() => '50')
          .join(' / ')
          .padEnd(29)} 1.000`,
      );
      ctx.print(
        `speed-up pruned vs plain: ${(speed.b1.pruned / speed.b1.plain).toFixed(2)}× at B=1, ${(speed.b64.pruned / speed.b64.plain).toFixed(2)}× at B=64`,
      );
      ctx.print('');
      for (const lines of sample.perImage) ctx.print(lines.join('\n'));
      ctx.print('');
      ctx.print(
        `wrote ${a.out}/: best-pruned.{safetensors,json}, final.*, fmnist-apt.onnx, report.json, token-maps.png (${report.seconds.toFixed(0)} s in all)`,
      );
      return EXIT.ok;
    } finally {
      progress.end();
    }
  },
});
