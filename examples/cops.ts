/**
 * COPS and the pruning-at-initialisation scores (docs/cops.md), from the 6-weight example of
 * specs/cops.md §9.1 to a pruned LeNet-300-100 trained on Fashion-MNIST.
 * Run: npx tsx examples/cops.ts [epochs]   (default 1; the reference table uses 20)
 */
import { cnn, data, prune, Rng, train } from '../src/index.js';

const { cops } = prune;

// 1. The combiner on six weights, k = 2: base s⁰, control s¹ (signed), κ along the path M0 → M1.
const base = [0.3, 0.25, 0.2, 0.15, 0.06, 0.04];
const control = [-0.2, 0.1, 0.05, 0.4, 0.5, 0.15];
for (const kappa of [0, 0.25, 0.5, 0.75, 1]) {
  const r = cops.combine({ base, control, k: 2, kappa });
  const kept = Array.from(r.mask).flatMap((m, i) => (m ? [i] : []));
  console.log(
    `κ = ${kappa}: c = ${r.c.toFixed(4)}, λ = ${r.lambda.toFixed(4)}, keep {${kept}}, S⁰ = ${r.baseScore.toFixed(4)}, LP bound ${r.lpBound.toFixed(5)} (${r.status}, ${r.evaluations} evaluations)`,
  );
}
// An explicit control level, a given λ, and an unreachable level clamped to top-k(control).
console.log('c = 0.4 →', Array.from(cops.combine({ base, control, k: 2, c: 0.4 }).mask));
console.log('λ = 0.3 →', Array.from(cops.combine({ base, control, k: 2, lambda: 0.3 }).mask));
console.log('c = 0.95, clamp →', cops.combine({ base, control, k: 2, c: 0.95, onInfeasible: 'clamp' }).status);

// 2. Scores of a model at initialisation: one Float64Array per conv/linear weight, in model order.
const model = cnn.create('lenet-300-100', { seed: 0 });
const { train: trainSet, test } = await data.fashionMnist();
const batch = cops.balancedBatch(trainSet, 10, new Rng(1)); // 10 images per class
const layout = cops.prunableLayout(model.config);
const snip = cops.normalize(cops.flatten(await cops.snip(model, batch), layout));
const grasp = cops.normalize(cops.flatten(await cops.grasp(model, batch), layout)); // signed keep-score
const synflow = await cops.synflow(model); // float64, data-free
console.log(
  `d = ${layout.d} prunable weights in ${layout.names.join(', ')}; SynFlow per layer sums`,
  Object.values(synflow).map((s) => s.reduce((a, b) => a + b, 0).toFixed(1)),
);

// 3. G-COPS at 98% sparsity: SNIP base, GraSP control, κ = 0.5; the mask back to layers, applied.
const k = cops.keepCount(layout.d, 0.98);
const solve = cops.combine({ base: snip, control: grasp, k, kappa: 0.5 });
console.log(
  `k = ${k}: λ = ${solve.lambda.toPrecision(5)}, S⁰/S⁰(M0) = ${solve.baseRatio.toFixed(4)}, sim to SNIP ${solve.simToBase.toFixed(3)}, to GraSP ${solve.simToControl.toFixed(3)}`,
);
const masks = cops.unflatten(solve.mask, layout);
cops.applyMasks(model, masks);
for (const l of cops.sparsityReport(masks).layers) console.log(`  ${l.name}: ${l.kept}/${l.total} kept`);

// 4. Train with the mask held (pruned weights stay exactly 0), then evaluate.
const epochs = Number(process.argv[2] ?? 1);
const t = cops.maskedTrainable(await cnn.cnnTrainable(model), masks);
if (epochs > 0)
  await train.fit(t, cops.copsRecipe(epochs, 0), {
    train: trainSet,
    onEvent: (e) => e.kind === 'step' && e.step % 100 === 0 && console.log(`step ${e.step}/${e.totalSteps} loss ${e.loss.toFixed(3)}`),
  });
const { accuracy } = await train.evaluate(t, test);
console.log(`test accuracy ${(100 * accuracy).toFixed(2)}% after ${epochs} epoch(s); measured sparsity ${cops.sparsityReport(model).sparsity}`);
