/**
 * bench/apt-gradnorm: the size of the two signals a pruner learns from, per cut layer — the task
 * gradient through the straight-through gates (recipe.taskGrad, λ = 1) and stream 2's agent-loss
 * gradient (plain context) — as L2 norms over each pruner's parameters, averaged over micro-batches
 * of 24 training images, for choosing λ. Budget decisions at `--keep` (default 31/19/12).
 * `npm run bench -- apt-gradnorm assets/fmnist-vit-t runs/bench-apt-3600-s1/budget@0.6/best-pruned [--batches=8]`
 */
import { loadAptCheckpoint } from '../src/agent/checkpoint.js';
import { aptTrainGraph } from '../src/agent/graphs.js';
import { prunerKey, SCORER_KEYS, scorerFeeds } from '../src/agent/params.js';
import { agentLossGraph, tailGraph } from '../src/agent/stream2-graphs.js';
import { batches, fashionMnist } from '../src/data/index.js';
import { compile } from '../src/graph/runtime.js';
import { Rng } from '../src/tensor/rng.js';
import { type Tensor, tensor } from '../src/tensor/tensor.js';
import { stream2 } from '../src/train/apt-stream2.js';
import { gradName } from '../src/train/step.js';
import { arg } from './lib/args.js';

const count = Number(arg('batches', '8'));
const keep = arg('keep', '31/19/12').split('/').map(Number);
const dirs = process.argv.slice(2).filter((a) => !a.startsWith('--'));
if (dirs.length === 0) throw new Error('bench/apt-gradnorm: give one or more APT or ViT checkpoints');
const so = { intraOpThreads: 1 };
const train = (await fashionMnist({ validation: true })).train; // the 55,000 images train.apt learns from
const norm = (ts: Tensor[]) => Math.sqrt(ts.reduce((s, t) => s + (t.data as Float32Array).reduce((a, v) => a + v * v, 0), 0));

for (const dir of dirs) {
  const loaded = await loadAptCheckpoint(dir);
  const model = loaded.model;
  const pruner = loaded.pruner.withStrategy({ kind: 'budget', keep });
  const [c, pc] = [model.config, pruner.config];
  const step = await compile(aptTrainGraph(c, pc, { taskGrad: 1 }), so);
  const agent = await compile(agentLossGraph(c), so);
  const tails = await Promise.all(pc.cutLayers.map((l) => compile(tailGraph(c, l), so)));
  const rng = new Rng(3);
  const [task, agentLoss] = [pc.cutLayers.map(() => 0), pc.cutLayers.map(() => 0)];
  let n = 0;
  for (const b of batches(train, { batchSize: 24, shuffle: true, rng: new Rng(1), dropLast: true })) {
    if (n++ >= count) break;
    const a = await step.run({ ...model.params, ...pruner.params, images: b.images, labels: b.labels });
    for (let k = 0; k < pc.cutLayers.length; k++) {
      task[k] = (task[k] as number) + norm(SCORER_KEYS.map((m) => a[gradName(prunerKey(k, m))] as Tensor)) / count;
      const s = await stream2({
        k,
        context: 'plain',
        a,
        labels: b.labels,
        vit: model.params,
        tail: tails[k] as (typeof tails)[0],
        pruner: pc,
        rewardKind: 'prob',
        rng,
        rows: b.indices,
      });
      const feeds = { h: s.h, j: tensor(BigInt64Array.from(s.j, BigInt), [24], 'int64'), c: tensor(BigInt64Array.from(s.labels, BigInt), [24], 'int64') };
      const out = await agent.run({ ...scorerFeeds(pruner.params, k), ...feeds });
      agentLoss[k] = (agentLoss[k] as number) + norm(SCORER_KEYS.map((m) => out[gradName(m)] as Tensor)) / count;
    }
  }
  const round = (v: number[]) => v.map((x) => Number(x.toPrecision(3)));
  console.log(JSON.stringify({ bench: 'apt-gradnorm', checkpoint: dir, keep, batches: count, taskGradNorm: round(task), agentGradNorm: round(agentLoss) }));
}
