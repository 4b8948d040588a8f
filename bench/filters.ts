/**
 * bench/filters: L1 filter pruning with sensitivity analysis (Li et al., specs/cops.md §7) on the
 * small VGG for Fashion-MNIST (fmnist-vgg8: [32,32,M,64,64,M,128,128,M] conv3×3-BN-ReLU → fc 256 →
 * fc 10, 29.42 MMACs), against uniform pruning at the same MACs, in one run:
 * 1. base: train fmnist-vgg8 on the 55,000-image train split for --base-epochs (or load --base);
 * 2. sensitivity: each conv alone loses p = 0.1 … 0.9 of its filters (L1 ranking, no retraining),
 *    validation accuracy (5,000 images) per point → sensitivity.json + sensitivity.png;
 * 3. δ rule (--delta points) → per-layer ratios → structured removal → --retrain-epochs of SGD;
 * 4. uniform: the one ratio over the same layers whose MACs come closest to step 3's, the same
 *    removal and retrain (same seed, recipe and data order);
 * 5. optionally (--entropy=1) entropy ranking (Luo & Wu; --entropy-bins m = 100, --entropy-images n = 1000
 *    class-balanced validation images) at step 3's ratios, layer by layer, the same final retrain.
 * Test accuracy (10,000 images) of each, before and after the retrain, MACs and removed fraction.
 *
 * Full run (quiet machine; estimate in docs/cops.md):
 *   npm run bench -- filters --base-epochs=8 --retrain-epochs=2 --delta=1
 * Smoke run (about a minute):
 *   npm run bench -- filters --base-epochs=1 --retrain-epochs=1 --limit-per-class=20 --batch=32 --entropy=1 --entropy-images=100 --entropy-bins=10
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type CnnModel, cnnTrainable, create, forward } from '../src/cnn/api.js';
import { fashionMnist } from '../src/data/index.js';
import { loadCheckpoint, saveCheckpoint } from '../src/io/checkpoint.js';
import { sensitivityPng } from '../src/prune/filters/plot.js';
import { type FilterRunEvent, type FilterRunResult, retrainRecipe, runFilterPruning } from '../src/prune/filters/run.js';
import { chooseRatios, sensitivity } from '../src/prune/filters/sensitivity.js';
import { macsOfRatios, uniformRatioForMacs } from '../src/prune/filters/uniform.js';
import { countMacs } from '../src/prune/macs.js';
import { cnnFromCheckpoint } from '../src/prune/resrep/run.js';
import { evaluate, fit as fitModel } from '../src/train/fit.js';
import { arg } from './lib/args.js';
import { round } from './lib/timing.js';

const num = (name: string, dflt: number) => Number(arg(name, String(dflt)));
const o = {
  baseEpochs: num('base-epochs', 8),
  retrainEpochs: num('retrain-epochs', 2),
  delta: num('delta', 1),
  batch: num('batch', 64),
  baseLr: num('base-lr', 0.05),
  lr: num('lr', 0.01),
  entropy: num('entropy', 0) === 1,
  entropyBins: num('entropy-bins', 100),
  entropyImages: num('entropy-images', 1000),
  limitPerClass: arg('limit-per-class', '') === '' ? undefined : num('limit-per-class', 0),
  threads: arg('threads', '') === '' ? undefined : num('threads', 0),
  seed: num('seed', 0),
  base: arg('base', ''),
  out: arg('out', new URL('../runs/bench-filters/', import.meta.url).pathname),
};
const log = (s: string) => console.error(`bench/filters: ${s}`);
const session = o.threads === undefined ? {} : { intraOpThreads: o.threads };
const pct = (x: number) => `${(100 * x).toFixed(2)}%`;

function onEvent(label: string): (e: FilterRunEvent) => void {
  let last = 0;
  return (e) => {
    if (e.kind === 'eval') log(`${label} epoch ${e.epoch}: val accuracy ${pct(e.accuracy)}`);
    else if (e.kind === 'step' && (e.step % 100 === 0 || e.step === e.totalSteps))
      log(`${label} step ${e.step}/${e.totalSteps} loss ${e.loss.toFixed(3)} ${e.imagesPerSec.toFixed(0)} img/s ETA ${(e.etaSec / 60).toFixed(1)} min`);
    else if (e.kind === 'sensitivity' && (e.done === e.total || performance.now() - last > 10_000)) {
      last = performance.now();
      log(`${label} ${e.done}/${e.total}: ${e.layer} p=${e.ratio} keep ${e.keep} val ${pct(e.accuracy)} (drop ${e.drop.toFixed(2)} pt)`);
    } else if (e.kind === 'phase') log(`${label}: ${e.name}`);
  };
}

async function main() {
  mkdirSync(o.out, { recursive: true });
  const data = await fashionMnist({ validation: true, limitPerClass: o.limitPerClass });
  log(`Fashion-MNIST ${data.train.n} train / ${data.val.n} val / ${data.test.n} test; ${JSON.stringify(o)}`);
  const started = performance.now();
  const seconds: Record<string, number> = {};
  const lap = (k: string, t0: number) => {
    seconds[k] = round((performance.now() - t0) / 1000, 0);
  };

  // 1. base
  let t0 = performance.now();
  let base: CnnModel;
  if (o.base) base = cnnFromCheckpoint(await loadCheckpoint(o.base));
  else {
    base = create('fmnist-vgg8', { seed: o.seed });
    const r = await fitModel(await cnnTrainable(base, { session }), retrainRecipe(o.baseEpochs, { batchSize: o.batch, lr: o.baseLr, seed: o.seed }), {
      train: data.train,
      evalSet: data.val,
      onEvent: onEvent('base'),
    });
    await saveCheckpoint(join(o.out, 'base'), { tensors: base.params, sidecar: { config: base.config as never, history: r.history, seed: o.seed } });
  }
  lap('base', t0);
  const baseTest = (await evaluate({ predict: (x) => forward(base, x, session) }, data.test)).accuracy;
  const baseMacs = countMacs(base).total;
  log(`base: test accuracy ${pct(baseTest)}, ${baseMacs.toLocaleString('en-US')} MACs`);

  // 2. sensitivity on the validation split
  t0 = performance.now();
  const sweep = await sensitivity(base, data.val, { session, onProgress: onEvent('sensitivity') });
  lap('sensitivity', t0);
  writeFileSync(join(o.out, 'sensitivity.json'), `${JSON.stringify(sweep, null, 1)}\n`);
  writeFileSync(join(o.out, 'sensitivity.png'), sensitivityPng(sweep, { delta: o.delta }));
  const chosen = chooseRatios(sweep, { delta: o.delta });
  const layers = sweep.curves.map((c) => c.layer);
  for (const c of sweep.curves) log(`  ${c.layer.padEnd(16)} drops ${c.drop.map((d) => d.toFixed(2)).join(' ')} → ${chosen.perLayer[c.layer]}`);

  // 3. δ-rule ratios, 4. uniform at the same MACs: same removal function, same retrain.
  const common = { base, train: data.train, val: data.val, test: data.test, epochs: o.retrainEpochs, batchSize: o.batch, lr: o.lr, seed: o.seed, session };
  const runs: Record<string, FilterRunResult> = {};
  t0 = performance.now();
  runs.sensitivity = await runFilterPruning({
    ...common,
    method: 'l1',
    ratios: { kind: 'sensitivity', delta: o.delta, result: sweep },
    out: join(o.out, 'l1-sensitivity'),
    onEvent: onEvent('l1 δ-rule'),
  });
  lap('l1Sensitivity', t0);
  const target = macsOfRatios(base.config, chosen.ratios);
  const uniform = uniformRatioForMacs(base.config, layers, target);
  log(`δ-rule MACs ${target.toLocaleString('en-US')}; uniform p = ${uniform.ratio.toFixed(4)} gives ${uniform.macs.toLocaleString('en-US')}`);
  t0 = performance.now();
  runs.uniform = await runFilterPruning({
    ...common,
    method: 'l1',
    layers,
    ratios: { kind: 'uniform', ratio: uniform.ratio },
    out: join(o.out, 'l1-uniform'),
    onEvent: onEvent('l1 uniform'),
  });
  lap('l1Uniform', t0);
  if (o.entropy) {
    t0 = performance.now();
    runs.entropy = await runFilterPruning({
      ...common,
      method: 'entropy',
      bins: o.entropyBins,
      images: o.entropyImages,
      ratios: { kind: 'explicit', ratios: chosen.ratios },
      out: join(o.out, 'entropy-sensitivity'),
      onEvent: onEvent('entropy δ-rule'),
    });
    lap('entropy', t0);
  }
  seconds.total = round((performance.now() - started) / 1000, 0);

  const summary = (r: FilterRunResult) => ({
    macs: r.plan.macs.after,
    removedFraction: round(1 - r.plan.macs.ratio, 4),
    testAccuracy: { pruned: round(r.accuracy.pruned, 4), retrained: round(r.accuracy.retrained, 4) },
    dropPoints: round(100 * (baseTest - r.accuracy.retrained), 2),
    widths: Object.fromEntries(r.plan.layers.map((l) => [l.layer, `${l.width}→${l.keep.length}`])),
  });
  const result = {
    bench: 'filters',
    model: 'fmnist-vgg8',
    settings: o,
    data: { train: data.train.n, val: data.val.n, test: data.test.n },
    seconds,
    base: { testAccuracy: round(baseTest, 4), valAccuracy: round(sweep.baseAccuracy, 4), macs: baseMacs },
    sensitivity: { delta: o.delta, ratios: chosen.perLayer, curves: Object.fromEntries(sweep.curves.map((c) => [c.layer, c.drop.map((d) => round(d, 2))])) },
    uniformRatio: round(uniform.ratio, 4),
    runs: Object.fromEntries(Object.entries(runs).map(([k, r]) => [k, summary(r)])),
    files: { sensitivity: join(o.out, 'sensitivity.json'), plot: join(o.out, 'sensitivity.png'), result: join(o.out, 'result.json') },
  };
  for (const [k, r] of Object.entries(result.runs)) {
    log(
      `${k.padEnd(12)} MACs removed ${pct(r.removedFraction)} · test ${pct(r.testAccuracy.pruned)} pruned → ${pct(r.testAccuracy.retrained)} retrained (base ${pct(baseTest)})`,
    );
  }
  writeFileSync(result.files.result, `${JSON.stringify(result, null, 1)}\n`);
  console.log(JSON.stringify(result));
}

await main();
