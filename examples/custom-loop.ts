/**
 * Your own training loop around the TokenPruner, instead of `train.apt`: the same pieces, composed
 * by hand. Each step on a batch:
 *   1. the plain model's logits (vit.forward) — what the pruned model is compared with;
 *   2. for cut layer k: the block output H_k and the pruner's P(drop) (the S0+S1 graph), one explored
 *      token per sample (agent.explore), and the logits with that token cut (the tail graph from H_k);
 *   3. the reward and labels as pure functions (reward.pruningReward, reward.rewardLabels), here with a
 *      compute bonus from reward.planMacs to show where a cost term goes (APT itself has none);
 *   4. the pruner's gradient from its loss graph (train.GradStep) and an SGD step on the pruner alone
 *      (this loop keeps the ViT frozen).
 * Run: npx tsx examples/custom-loop.ts [checkpoint-prefix]   (default: assets/fmnist-vit-t)
 */
import { agent, compile, data, Rng, reward, type Tensor, TokenPruner, tensor, train, vit } from '../src/index.js';

const checkpoint = process.argv[2] ?? 'assets/fmnist-vit-t';
const { model } = await agent.loadAptCheckpoint(checkpoint);
const pruner = TokenPruner.create(model.config, { seed: 0 }); // cut layers [1, 2, 4], threshold 0.5
const { train: trainSet, test } = await data.fashionMnist();
const c = model.config;
const n = vit.numTokens(c);
const t = tensor.tensor;

// The graphs train.apt uses, compiled once: S0+S1 (gives H_k and P(drop)), one tail per cut, the agent's loss.
const s01 = await compile(agent.aptTrainGraph(c, pruner.config));
const tails = await Promise.all(pruner.config.cutLayers.map((l) => compile(agent.tailGraph(c, l))));
const agentStep = await train.GradStep.compile(
  agent.agentLossGraph(c),
  agent.scorerShapes(c.dim).map(([k]) => k),
);

const rng = new Rng(0);
const sgd = new train.SGD(new Map(Object.entries(pruner.params)), { lr: 1e-2, momentum: 0.9 });
const costWeight = 0.02; // reward bonus per unit of the MACs fraction a dropped token saves

let step = 0;
for (const batch of data.batches(trainSet, { batchSize: 32, shuffle: true, rng: rng.split(), dropLast: true })) {
  if (++step > 30) break;
  const b = batch.labels.dims[0] as number;
  const logitsPlain = await vit.forward(model, batch.images);
  const s = await s01.run({ ...model.params, ...pruner.params, images: batch.images, labels: batch.labels });
  const grads: Record<string, Tensor> = {};
  const losses: number[] = [];
  for (const [k, layer] of pruner.config.cutLayers.entries()) {
    const h = s[`h.${k}`] as Tensor<'float32'>;
    const j = agent.explore((s[`pdrop.${k}`] as Tensor<'float32'>).data, b, n, rng);
    const cut = await (tails[k] as (typeof tails)[number]).run({ ...model.params, h, keep: t(agent.oneCutMask(j, n), [b, n]) });
    const r = reward.pruningReward({ logitsPlain, logitsPruned: cut.logits as Tensor, labels: batch.labels, kind: 'prob' });
    // Dropping one token here saves MACs in every later block: a small bonus toward dropping.
    const saved =
      1 -
      reward.planMacs(
        c,
        Array.from({ length: c.depth }, (_, i) => (i > layer ? n - 1 : n)),
      ).ratio;
    const labels = reward.rewardLabels(r.map((v) => v + costWeight * saved));
    const out = await agentStep.run(agent.scorerFeeds(pruner.params, k), {
      h,
      j: t(BigInt64Array.from(j, BigInt), [b], 'int64'),
      c: t(BigInt64Array.from(labels, BigInt), [b], 'int64'),
    });
    losses.push(out.loss);
    for (const [name, g] of Object.entries(out.grads)) grads[agent.prunerKey(k, name as agent.ScorerKey)] = g;
  }
  sgd.update(grads, 1e-2);
  if (step % 10 === 0) console.log(`step ${step}: agent losses ${losses.map((l) => l.toFixed(4)).join(' / ')}`);
}
const sample = data.subset(
  test,
  Int32Array.from({ length: 1000 }, (_, i) => i * 10),
);
const ev = await train.evaluateApt(model, pruner, sample);
console.log(
  `after 30 steps: pruned accuracy ${(100 * ev.prunedAccuracy).toFixed(2)}% keeping ${ev.keptMean.map((x) => x.toFixed(1)).join(' / ')} tokens per cut layer`,
);
