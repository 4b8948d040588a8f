/**
 * bench/apt-counts: an APT checkpoint deciding by static keep counts (`budget`) instead of the
 * strategy it was trained with — e.g. a `threshold` ViT at counts near its own mean, to trade its
 * per-image counts for static shapes. Test top-1 (tokens really removed), MACs ratio (pruners
 * included) and throughput pruned vs plain at B=1 and B=64 (interleaved). One JSON line per checkpoint.
 * `npm run bench -- apt-counts runs/bench-apt-7200-tg1-s0/threshold@0.6/best-pruned --keep=38/32/24`
 */
import { loadAptCheckpoint } from '../src/agent/checkpoint.js';
import { aptReport, throughput } from '../src/cli/apt-run.js';
import { fashionMnist } from '../src/data/index.js';
import { arg } from './lib/args.js';

const dirs = process.argv.slice(2).filter((a) => !a.startsWith('--'));
if (dirs.length === 0) throw new Error('bench/apt-counts: give one or more APT checkpoints (runs/…/best-pruned)');
if (arg('keep', '') === '') throw new Error('bench/apt-counts: --keep=a/b/c is required (one keep count per cut layer, CLS included)');
const keep = arg('keep', '').split('/').map(Number);
if (keep.some((k) => !Number.isInteger(k))) throw new Error(`bench/apt-counts: --keep must be integers joined by '/', got '${arg('keep', '')}'`);
const { test } = await fashionMnist();
for (const dir of dirs) {
  // The checkpoint's config checks the counts (one per cut layer, 2 ≤ k ≤ tokens left) and names the bad one.
  const { model, pruner } = await loadAptCheckpoint(dir, { strategy: { kind: 'budget', keep } });
  const r = await aptReport(model, pruner, test);
  const [b1, b64] = [await throughput(model, pruner, test, 1), await throughput(model, pruner, test, 64)];
  console.log(
    JSON.stringify({
      bench: 'apt-counts',
      checkpoint: dir,
      keep,
      testPruned: r.prunedAccuracy,
      macsRatio: r.macsRatio,
      imagesPerSec: { b1, b64 },
      speedup: { b1: b1.pruned / b1.plain, b64: b64.pruned / b64.plain },
    }),
  );
}
