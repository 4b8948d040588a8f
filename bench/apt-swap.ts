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
import { type KeepPlan, planOverlap } from '../src/agent/keep-plan.js';
import type { RunResult } from '../src/agent/pruner.js';
import { fashionMnist } from '../src/data/index.js';
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
  // Kept-set agreement, scorer vs EViT, weighted by batch size: the scorer's plans of each batch are
  // kept from its pass and met by EViT's plans of the same batch in the next.
  const scorerPlans: KeepPlan[] = [];
  const overlap = s.keep.map(() => 0);
  const onBatch: Record<string, (done: number, run: RunResult) => void> = {
    budget: (_, run) => scorerPlans.push(run.plans),
    evit: (_, run) => {
      const batch = run.logits.dims[0] as number;
      planOverlap(scorerPlans.shift() as KeepPlan, run.plans).forEach((v, k) => {
        overlap[k] = (overlap[k] as number) + v * batch;
      });
    },
  };
  const row: Record<string, number> = {};
  for (const kind of ['budget', 'evit', 'random'] as const) {
    const m = await evaluateApt(model, ranked(kind), test, { session, onBatch: onBatch[kind] });
    row[kind] = m.prunedAccuracy;
    row.nothingDropped = m.plainAccuracy;
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
