/**
 * ResRep's pure functions on the worked example of specs/resrep.md §9.2, then a whole model.
 * Run: npx tsx examples/resrep.ts
 */
import { cnn, prune, Rng, tensor as t } from '../src/index.js';

const { tensor } = t;

const f64 = (v: number[], dims: number[]) => tensor(Float64Array.from(v), dims, 'float64');
const eps = 1e-5;

// 1. Fold BN into a 1×1 conv (C = 1 → D = 3): K̂ = [1, 2, 6], b̂ = [0.5, −1, −2].
const fused = prune.foldBatchNorm(
  { weight: f64([1, 2, 3], [3, 1, 1, 1]) },
  { gamma: f64([1, 1, 2], [3]), beta: f64([0.5, 1, 0], [3]), mean: f64([0, 2, 1], [3]), var: f64([1 - eps, 1 - eps, 1 - eps], [3]), eps },
);
console.log('fused K̂', Array.from(fused.weight.data), 'b̂', Array.from(fused.bias.data));

// 2. A compactor starts as the identity; training resets its gradient (mask 0 keeps only the lasso term).
const q0 = prune.resrep.insertCompactor(3);
const g = prune.resrep.resetCompactorGradient(q0, tensor(new Float32Array(9).fill(1), [3, 3]), [1, 0, 1], 1e-4);
console.log('reset gradient row 1 (masked):', Array.from(g.data.slice(3, 6)));

// 3. The mask schedule picks the smallest rows globally until F(widths) ≤ target·F0 (at most g per update).
const sel = prune.resrep.selectMask(
  [
    [0.9, 0.05, 0.8, 0.7],
    [0.01, 0.02, 0.03, 0.6],
  ],
  [4, 4],
  (w) => 10 * (w[0] ?? 0) + (w[1] ?? 0),
  0.5,
);
console.log('update 1 widths', sel.widths, 'F', sel.flops);

// 4. Merge a trained compactor (row 1 went to zero) and delete the consumer's matching input channel.
const merged = prune.resrep.mergeCompactor(fused, f64([1, 0, 0, 0, 0, 0, 0.5, 0, 1], [3, 3]));
const consumer = prune.sliceInputChannels({ weight: f64([1, 10, 100], [1, 3, 1, 1]) }, merged.keep);
console.log(
  'keep',
  Array.from(merged.keep),
  "K'",
  Array.from(merged.weight.data),
  "b'",
  Array.from(merged.bias.data),
  'consumer',
  Array.from(consumer.weight.data),
);

// 5. A whole model: compactors on every prunable layer (§3), zero a few rows, convert, compare.
const model = cnn.create('fmnist-resnet20', { seed: 0 });
const { groups, refused } = prune.cnnChannelAnalysis(model.config);
console.log(`${groups.length} prunable layers; refused e.g. ${refused[0]?.layer}: [${refused[0]?.rule}] ${refused[0]?.reason}`);
const rr = prune.resrep.insertCompactors(model);
for (const site of rr.compactors) rr.params[`${site.compactor}.weight`]?.data.fill(0, 0, site.width * Math.floor(site.width / 2)); // first half of rows → 0
const { model: pruned } = prune.resrep.convertResRep(rr);
const x = tensor(new Rng(1).fillNormal(new Float32Array(2 * 784)), [2, 1, 28, 28], 'float32');
const eq = await prune.resrep.equivalence(rr, pruned, x);
console.log(
  `MACs ${prune.countMacs(model).total} → ${prune.countMacs(pruned).total}; max |Δ| ${eq.maxAbs.toExponential(2)} (bound ${eq.bound.toExponential(2)})`,
);
