/**
 * bench/apt: the TokenPruner on Fashion-MNIST with the full recipe (not the demo's). From one plain
 * fmnist-vit-t checkpoint, each contender is fine-tuned with the same recipe and budget, then
 * measured on the test split (tokens really removed):
 *   plain      — the same fine-tuning with nothing dropped (budget keeping all 50 tokens);
 *   threshold  — APT (faithful: P(drop) > 0.5, CLS kept);
 *   budget@m   — the extension at keep rates giving ≈ m of the plain MACs (m = 0.6, 0.45);
 *   evit@m, random@m — the baselines at the same kept-token counts.
 * Throughput pruned vs plain at B=1 and B=64 is measured interleaved (weights baked in).
 * Cells whose result exists under --out are skipped, so an interrupted run resumes.
 * `npm run bench -- apt --checkpoint=assets/fmnist-vit-t --updates=1200 [--only=threshold,budget@0.6]`
 * `--schedules=35/20/8` adds budget and evit contenders with those keep counts (other MACs splits).
 * `--lr=2e-2` replaces the fmnist-finetune recipe's learning rate (1e-2) for every contender (own --out).
 * `--taus=0.6` adds `threshold@0.6`: APT trained and evaluated at that τ (the source: 0.5).
 * `--distill=0.5[:T[:live]]` fine-tunes every contender with the opt-in distillation from the plain model
 * (an extension; use its own --out). `--fuse=1` fine-tunes every contender with token fusion (EViT's
 * extension: dropped tokens merged into one; keep counts for ≈ m MACs count the fused token; own --out).
 * `--context=pruned` fine-tunes the scorer contenders with stream 2 inside stream 1's pruned state
 * (an extension; own --out). `--task-grad=λ` gives the scorer contenders stream 1's loss gradient
 * through straight-through key gates, weight λ (an extension; own --out). `--attn-prior=β` also teaches the
 * budget contenders' scorers EViT's decisions, weight β (an extension; own --out). `--keep-warmup=f` starts
 * the static-count contenders at all tokens and lowers their counts along a cosine over the first
 * fraction f of the updates (an extension, EViT's schedule; own --out).
 * Two shards side by side: `--threads=1 --speed=0 --only=…` each (training only), then one run
 * without --only measures the throughput of every contender alone (`--remeasure=1` measures again).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadAptCheckpoint } from '../src/agent/checkpoint.js';
import { keepCounts, type Strategy, type StrategyInput, usesScorer } from '../src/agent/config.js';
import { macsRatio } from '../src/agent/report.js';
import { aptReport, finetune, recipeByName, throughput } from '../src/cli/apt-run.js';
import { parseDistill } from '../src/cli/commands/apt.js';
import { fashionMnist } from '../src/data/index.js';
import type { RewardContext } from '../src/train/apt-recipe.js';
import { numTokens } from '../src/vit/config.js';
import { arg } from './lib/args.js';

const checkpoint = arg('checkpoint', 'assets/fmnist-vit-t');
const updates = Number(arg('updates', '1500'));
const out = arg('out', 'runs/bench-apt');
const limit = arg('limit-per-class', '');
const only = arg('only', '').split(',').filter(Boolean);
const seed = Number(arg('seed', '0'));
const threads = arg('threads', '') === '' ? undefined : Number(arg('threads', ''));
const session = threads === undefined ? undefined : { intraOpThreads: threads };
const speed = arg('speed', '1') !== '0';
const remeasure = arg('remeasure', '0') === '1';
// --distill=0.5, 0.5:2 or 0.5:1:live (α[:T[:teacher]]): the opt-in distillation of stream 1, every contender.
const distill = parseDistill(arg('distill', '') || undefined);
const fuse = arg('fuse', '0') === '1';
// --context=pruned: stream 2 measures a token's removal inside stream 1's pruned state (an extension).
const rewardContext = arg('context', 'plain') as RewardContext;
if (rewardContext !== 'plain' && rewardContext !== 'pruned') throw new Error(`--context must be plain or pruned, got ${rewardContext}`);
// --task-grad=λ: the scorers also learn from stream 1's loss (straight-through gates, an extension).
const taskGrad = Number(arg('task-grad', '0'));
if (!(taskGrad >= 0)) throw new Error(`--task-grad must be a number ≥ 0, got ${arg('task-grad', '0')}`);
// --attn-prior=β: the budget scorers also learn EViT's decisions on the plain forward (an extension).
const attentionPrior = Number(arg('attn-prior', '0'));
if (!(attentionPrior >= 0)) throw new Error(`--attn-prior must be a number ≥ 0, got ${arg('attn-prior', '0')}`);
// --keep-warmup=0.3: the static-count contenders reach their counts after 30% of the updates (an extension).
const keepWarmupShare = Number(arg('keep-warmup', '0'));
if (!(keepWarmupShare >= 0 && keepWarmupShare < 1)) throw new Error(`--keep-warmup must be a share of the updates in [0, 1), got ${arg('keep-warmup', '0')}`);
const keepWarmup = Math.round(keepWarmupShare * updates);
const lr = arg('lr', '') === '' ? undefined : Number(arg('lr', ''));
if (lr !== undefined && !(lr > 0)) throw new Error(`--lr must be a number > 0, got ${arg('lr', '')}`);
mkdirSync(out, { recursive: true });

const base = await loadAptCheckpoint(checkpoint);
const c = base.model.config;
const cuts = base.pruner.config.cutLayers;

/** The keep rate (applied at every cut) whose MACs ratio — pruners included for the agent — is `target`. */
function rateFor(target: number, withPruners: boolean): number {
  let [lo, hi] = [0.01, 1];
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    const keep = keepCounts(c, cuts.length, mid);
    if (macsRatio(c, cuts, keep, withPruners, fuse) > target) hi = mid;
    else lo = mid;
  }
  return lo;
}

const hasScorer = (s: StrategyInput) => s === 'threshold' || usesScorer(s as Strategy);

const contenders: { name: string; strategy: StrategyInput }[] = [
  { name: 'plain', strategy: { kind: 'budget', keep: cuts.map(() => numTokens(c)) } },
  { name: 'threshold', strategy: 'threshold' },
];
for (const m of [0.6, 0.45]) {
  const keep = keepCounts(c, cuts.length, rateFor(m, true));
  for (const kind of ['budget', 'evit', 'random'] as const) contenders.push({ name: `${kind}@${m}`, strategy: { kind, keep } as StrategyInput });
}
// --taus=0.6,0.7: APT trained (and evaluated) at another threshold τ than the source's 0.5.
for (const t of arg('taus', '').split(',').filter(Boolean)) {
  const tau = Number(t);
  // Checked here, not when the contender's turn comes hours later; the range is the pruner config's.
  if (!(tau >= 0 && tau < 1)) throw new Error(`--taus: '${t}' must be a number in [0, 1)`);
  contenders.push({ name: `threshold@${t}`, strategy: { kind: 'threshold', tau } });
}
// --schedules=35/20/8,30/22/12: explicit keep counts per cut layer (CLS included), as budget and evit.
for (const sched of arg('schedules', '').split(',').filter(Boolean)) {
  const keep = sched.split('/').map(Number);
  if (keep.length !== cuts.length || keep.some((k) => !Number.isInteger(k)))
    throw new Error(`--schedules: '${sched}' must be ${cuts.length} integers joined by '/' (one per cut layer ${cuts.join(', ')})`);
  for (const kind of ['budget', 'evit'] as const) contenders.push({ name: `${kind}@${sched.replaceAll('/', '-')}`, strategy: { kind, keep } as StrategyInput });
}

const data = await fashionMnist({ validation: true, ...(limit ? { limitPerClass: Number(limit) } : {}) });
console.error(`bench/apt: ${contenders.length} contenders × ${updates} updates from ${checkpoint} (${data.train.n} training images)`);
const results: Record<string, unknown>[] = [];
for (const ct of contenders) {
  if (only.length && !only.includes(ct.name)) continue;
  const dir = join(out, ct.name);
  const file = join(dir, 'result.json');
  let result: Record<string, unknown>;
  if (existsSync(file)) result = JSON.parse(readFileSync(file, 'utf8'));
  else {
    const started = performance.now();
    const recipe = {
      ...recipeByName('fmnist-finetune', updates, seed, lr),
      ...(distill ? { distill } : {}),
      // Only the contenders with a scorer (threshold, budget) have a stream 2 and a gate to learn through.
      ...(rewardContext === 'pruned' && hasScorer(ct.strategy) ? { rewardContext } : {}),
      ...(taskGrad > 0 && hasScorer(ct.strategy) ? { taskGrad } : {}),
      ...(attentionPrior > 0 && (ct.strategy as Strategy).kind === 'budget' ? { attentionPrior } : {}),
      ...(keepWarmup > 0 && ct.strategy !== 'threshold' && (ct.strategy as Strategy).kind !== 'threshold' ? { keepWarmup } : {}),
    } as const;
    const tuned = await finetune({ checkpoint, strategy: ct.strategy, recipe, out: dir, seed, train: data.train, val: data.val, session, fuse }, (e) => {
      if (e.kind === 'eval')
        console.error(
          `${ct.name} update ${e.update}: val plain ${(100 * e.plainAccuracy).toFixed(2)} pruned ${(100 * e.prunedAccuracy).toFixed(2)} kept ${e.keptMean.map((k) => k.toFixed(1)).join('/')}`,
        );
    });
    const trainSeconds = (performance.now() - started) / 1000;
    const best = await loadAptCheckpoint(join(dir, 'best-pruned'));
    const r = await aptReport(best.model, best.pruner, data.test);
    result = {
      name: ct.name,
      strategy: best.pruner.config.strategy,
      updates,
      ...(distill ? { distill } : {}),
      ...(fuse ? { fuse } : {}),
      ...(rewardContext === 'pruned' ? { rewardContext } : {}),
      ...(taskGrad > 0 ? { taskGrad } : {}),
      ...(attentionPrior > 0 ? { attentionPrior } : {}),
      ...(recipe.keepWarmup ? { keepWarmup: recipe.keepWarmup } : {}),
      ...(lr !== undefined ? { lr } : {}),
      bestUpdate: tuned.result.bestPruned.update,
      testPruned: r.prunedAccuracy,
      testNoPruning: r.plainAccuracy,
      keptMean: r.keptMean,
      macsRatio: r.macsRatio,
      trainSeconds,
      threads: threads ?? 'ort default',
    };
  }
  // Throughput needs the machine to itself: shards trained side by side pass --speed=0 and a last
  // run (no --only) measures every contender that lacks it, one after another.
  if (speed && (remeasure || result.imagesPerSec === undefined)) {
    const best = await loadAptCheckpoint(join(dir, 'best-pruned'));
    const b1 = await throughput(best.model, best.pruner, data.test, 1);
    const b64 = await throughput(best.model, best.pruner, data.test, 64);
    result = { ...result, imagesPerSec: { b1, b64 }, speedup: { b1: b1.pruned / b1.plain, b64: b64.pruned / b64.plain }, measuredAt: new Date().toISOString() };
  }
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  results.push(result);
  console.log(JSON.stringify(result));
}
console.log(
  JSON.stringify({
    bench: 'apt',
    checkpoint,
    updates,
    results: results.map((r) => ({ name: r.name, testPruned: r.testPruned, macsRatio: r.macsRatio, speedup: r.speedup })),
  }),
);
