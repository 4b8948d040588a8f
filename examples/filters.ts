/**
 * Filter ranking (specs/cops.md §7, §8): the worked examples, then L1 + sensitivity on fmnist-vgg8.
 * Run: npx tsx examples/filters.ts [checkpoint]   (a trained fmnist-vgg8 checkpoint, e.g. from
 * bench/filters; without one a fresh init is used, so the curves only show the plumbing)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cnn, data, io, prune, tensor as t } from '../src/index.js';

const { filters } = prune;
const { tensor } = t;

// 1. L1 scores: K [3, 2, 1, 1] = [[1, −2], [0.5, 0.5], [−3, 0]] → s = [3, 1, 3]; pruning one filter removes filter 1.
const K = tensor(Float32Array.from([1, -2, 0.5, 0.5, -3, 0]), [3, 2, 1, 1]);
const s = filters.l1FilterScores(K);
console.log('L1 scores', Array.from(s), 'keep at p = 1/3:', Array.from(filters.selectFilters(s, 1 / 3, 'l1').keep));
console.log('n_keep(1000, 0.9) =', filters.nKeep(1000, 0.9), '(floor((1 − 0.9)·1000) alone would give 99)');

// 2. Entropy of pooled responses M [n = 4, c = 3], m = 2 bins → [ln 2, 0.5623, 0]; the constant channel goes first.
const M = tensor(Float64Array.from([0, 0, 2, 0, 0, 2, 1, 0, 2, 1, 1, 2]), [4, 3]);
const H = filters.entropyScores(M, 2);
console.log(
  'entropy',
  Array.from(H, (h) => +h.toFixed(4)),
  'pruning order',
  Array.from(filters.pruneOrder(H, 'entropy')),
);

// 3. The δ rule: the largest p whose drops up to p all stay ≤ δ = 1 point.
console.log('δ rule:', filters.deltaRule([0.1, 0.2, 0.5, 0.9, 1.5, 2, 3, 4, 5]), filters.deltaRule([1.2, 2, 3, 4, 5, 6, 7, 8, 9]));

// 4. Only internal layers qualify: in a ResNet block only the first conv.
try {
  filters.pruneFilters(cnn.create('fmnist-resnet20'), { ratios: { 'layer1.0.conv2': 0.5 } });
} catch (e) {
  if (e instanceof prune.PruneError) console.log(`refused ${e.layer} [${e.rule}]`);
}

// 5. A whole model: sweep four layers on 20 validation images per class, δ-rule ratios, structured removal.
const path = process.argv[2];
const model = path ? prune.resrep.cnnFromCheckpoint(await io.loadCheckpoint(path)) : cnn.create('fmnist-vgg8', { seed: 0 });
const { val } = await data.fashionMnist({ validation: true, limitPerClass: 20 });
const layers = ['features.conv0', 'features.conv2', 'features.conv4', 'features.conv5'];
const sweep = await filters.sensitivity(model, val, { layers, session: { intraOpThreads: 1 } });
const chosen = filters.chooseRatios(sweep, { delta: 1 });
mkdirSync('runs', { recursive: true });
writeFileSync('runs/example-sensitivity.png', filters.sensitivityPng(sweep));
const pruned = filters.pruneFilters(model, { ratios: chosen.ratios });
const uniform = filters.uniformRatioForMacs(model.config, layers, pruned.plan.macs.after);
console.log('ratios', chosen.perLayer, `MACs ${pruned.plan.macs.before} → ${pruned.plan.macs.after}; uniform p = ${uniform.ratio.toFixed(3)} at the same MACs`);
console.log('wrote runs/example-sensitivity.png; retrain the pruned model with cnn.cnnTrainable + train.fit (filters.retrainRecipe)');
