/**
 * bench/apt-swap: how much a fine-tuned ViT depends on the ranking it was trained with. Each static-
 * count APT checkpoint is evaluated on the test split (tokens really removed) with its own keep
 * counts under three rankings — its scorer (`budget`), CLS attention (`evit`) and `random` — without
 * retraining. Prints one JSON line per checkpoint.
 * `npm run bench -- apt-swap runs/bench-apt-3600-tg1-s1/budget@0.6/best-pruned [more checkpoints…]`
 */
import { loadAptCheckpoint } from '../src/agent/checkpoint.js';
import type { StrategyInput } from '../src/agent/config.js';
import { fashionMnist } from '../src/data/index.js';
import { evaluateApt } from '../src/train/apt.js';

const dirs = process.argv.slice(2).filter((a) => !a.startsWith('--'));
if (dirs.length === 0) throw new Error('bench/apt-swap: give one or more APT checkpoints (runs/…/best-pruned)');
const test = (await fashionMnist()).test;
for (const dir of dirs) {
  const { model, pruner } = await loadAptCheckpoint(dir);
  const s = pruner.config.strategy;
  if (s.kind === 'threshold') throw new Error(`bench/apt-swap: ${dir} decides by threshold; a static-count strategy has keep counts to swap rankings at`);
  const row: Record<string, number> = {};
  for (const kind of ['budget', 'evit', 'random'] as const) {
    const m = await evaluateApt(model, pruner.withStrategy({ kind, keep: s.keep } as StrategyInput), test, { session: { intraOpThreads: 1 } });
    row[kind] = m.prunedAccuracy;
    row.nothingDropped = m.plainAccuracy;
  }
  console.log(JSON.stringify({ bench: 'apt-swap', checkpoint: dir, trainedWith: s.kind, keep: s.keep, testTop1: row }));
}
