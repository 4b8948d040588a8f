/**
 * bench/apt-tau: the accuracy/MACs curve of a `threshold` APT checkpoint as the decision threshold τ
 * moves, without retraining (training used τ = 0.5, the source's). For each τ: top-1 on the
 * validation split (to choose τ by) and on the test split (to report), mean tokens kept after each
 * cut and the MACs ratio, pruners included. Tokens are really removed. One JSON line per (checkpoint, τ).
 * `npm run bench -- apt-tau runs/bench-apt-7200-tg1-s0/threshold/best-pruned --taus=0.5,0.6,0.7,0.8,0.9`
 */
import { loadAptCheckpoint } from '../src/agent/checkpoint.js';
import { macsRatio } from '../src/agent/report.js';
import { fashionMnist } from '../src/data/index.js';
import { evaluateApt } from '../src/train/apt.js';
import { arg } from './lib/args.js';

const session = { intraOpThreads: 1 };
const dirs = process.argv.slice(2).filter((a) => !a.startsWith('--'));
if (dirs.length === 0) throw new Error('bench/apt-tau: give one or more threshold APT checkpoints (runs/…/threshold/best-pruned)');
const taus = arg('taus', '0.5,0.6,0.7,0.8,0.9').split(',').map(Number);
const badTau = taus.find((t) => !(t >= 0 && t < 1));
if (badTau !== undefined) throw new Error(`bench/apt-tau: --taus must be numbers in [0, 1), got ${badTau}`);
const { val, test } = await fashionMnist({ validation: true });
if (!val) throw new Error('bench/apt-tau: the validation split is missing');
for (const dir of dirs) {
  const { model, pruner } = await loadAptCheckpoint(dir);
  if (pruner.config.strategy.kind !== 'threshold')
    throw new Error(`bench/apt-tau: ${dir} keeps static counts (${pruner.config.strategy.kind}); τ only moves threshold decisions`);
  for (const tau of taus) {
    const p = pruner.withStrategy('threshold', tau);
    const [v, t] = [await evaluateApt(model, p, val, { session }), await evaluateApt(model, p, test, { session })];
    console.log(
      JSON.stringify({
        bench: 'apt-tau',
        checkpoint: dir,
        tau,
        valTop1: v.prunedAccuracy,
        testTop1: t.prunedAccuracy,
        testNothingDropped: t.plainAccuracy,
        keptMean: t.keptMean.map((k) => Number(k.toFixed(2))),
        macsRatio: Number(macsRatio(model.config, pruner.config.cutLayers, t.keptMean, true).toFixed(4)),
      }),
    );
  }
}
