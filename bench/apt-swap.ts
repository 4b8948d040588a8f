/**
 * bench/apt-swap: how much a fine-tuned ViT depends on the ranking it was trained with. Each static-
 * count APT checkpoint is evaluated on the test split (tokens really removed) with its own keep
 * counts under three rankings — its scorer (`budget`), CLS attention (`evit`) and `random` — without
 * retraining, and the kept sets are compared: the share of the scorer's kept patches that EViT keeps
 * too, per cut (`chance`: what two independent uniform choices would share). One JSON line per checkpoint.
 * `npm run bench -- apt-swap runs/bench-apt-3600-tg1-s1/budget@0.6/best-pruned [more checkpoints…]`
 */
import { loadAptCheckpoint } from '../src/agent/checkpoint.js';
import type { StrategyInput } from '../src/agent/config.js';
import { planOverlap } from '../src/agent/keep-plan.js';
import { batches, fashionMnist } from '../src/data/index.js';
import { evaluateApt } from '../src/train/apt.js';
import { numTokens } from '../src/vit/config.js';

const session = { intraOpThreads: 1 };
const dirs = process.argv.slice(2).filter((a) => !a.startsWith('--'));
if (dirs.length === 0) throw new Error('bench/apt-swap: give one or more APT checkpoints (runs/…/best-pruned)');
const test = (await fashionMnist()).test;
for (const dir of dirs) {
  const { model, pruner } = await loadAptCheckpoint(dir);
  const s = pruner.config.strategy;
  if (s.kind === 'threshold') throw new Error(`bench/apt-swap: ${dir} decides by threshold; a static-count strategy has keep counts to swap rankings at`);
  const ranked = (kind: 'budget' | 'evit' | 'random') => pruner.withStrategy({ kind, keep: s.keep } as StrategyInput);
  const row: Record<string, number> = {};
  for (const kind of ['budget', 'evit', 'random'] as const) {
    const m = await evaluateApt(model, ranked(kind), test, { session });
    row[kind] = m.prunedAccuracy;
    row.nothingDropped = m.plainAccuracy;
  }
  // Kept-set agreement, scorer vs EViT, weighted by batch size over the whole test split.
  const [byScorer, byAttention] = [ranked('budget'), ranked('evit')];
  const overlap = s.keep.map(() => 0);
  for (const b of batches(test, { batchSize: 500, reuseBuffers: false })) {
    const [a, e] = [await byScorer.run(model, b.images, { session }), await byAttention.run(model, b.images, { session })];
    planOverlap(a.plans, e.plans).forEach((v, k) => {
      overlap[k] = (overlap[k] as number) + v * (b.labels.dims[0] as number);
    });
  }
  const n = numTokens(model.config);
  console.log(
    JSON.stringify({
      bench: 'apt-swap',
      checkpoint: dir,
      trainedWith: s.kind,
      keep: s.keep,
      testTop1: row,
      keptAlsoByEvit: overlap.map((v) => Number((v / test.n).toFixed(4))),
      chance: s.keep.map((k) => Number(((k - 1) / (n - 1)).toFixed(4))),
    }),
  );
}
