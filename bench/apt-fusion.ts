/**
 * bench/apt-fusion: what token fusion costs at inference. From one APT checkpoint with a static
 * strategy, three graphs on the same weights — the plain ViT, the pruned one dropping tokens, the
 * pruned one fusing them (the extension) — timed interleaved, B=64 then B=1, rounds × calls each.
 * `npm run bench -- apt-fusion --checkpoint=runs/bench-apt-fuse/budget@27-15-9/best-pruned [--rounds=6]`
 */
import { loadAptCheckpoint } from '../src/agent/checkpoint.js';
import { prunedInferenceGraph } from '../src/agent/graphs.js';
import { batches, fashionMnist } from '../src/data/index.js';
import { compile, type Session } from '../src/graph/runtime.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { inferenceGraph } from '../src/vit/model.js';
import { arg } from './lib/args.js';
import { interleave, sessionRuns } from './lib/timing.js';

const checkpoint = arg('checkpoint', 'runs/bench-apt-fuse/budget@27-15-9/best-pruned');
const rounds = Number(arg('rounds', '6'));

const { model, pruner } = await loadAptCheckpoint(checkpoint);
if (pruner.config.strategy.kind === 'threshold') throw new Error(`bench/apt-fusion: needs a static-count strategy, ${checkpoint} decides by threshold`);
const weights = { ...model.params, ...pruner.params };
const graphOf = (fuse: boolean) => prunedInferenceGraph(model.config, { ...pruner.config, fuse }, 'gathered');
const sessions: Record<string, Session> = {
  plain: await compile(inferenceGraph(model.config), { initializers: model.params }),
  drop: await compile(graphOf(false), { initializers: weights }),
  fused: await compile(graphOf(true), { initializers: weights }),
};
const test = (await fashionMnist()).test;
const results = [];
for (const b of [64, 1]) {
  const images = (batches(test, { batchSize: b, reuseBuffers: false }).next().value as { images: Tensor<'float32'> }).images;
  const contenders = Object.fromEntries(Object.entries(sessions).map(([name, s]) => [name, sessionRuns(s, { images })]));
  const seconds = await interleave(contenders, rounds, b === 1 ? 400 : 16);
  // Images per second over every timed call (mean rate, as bench/apt's throughput).
  const ips = Object.fromEntries(Object.entries(seconds).map(([k, t]) => [k, (t.length * b) / t.reduce((x, y) => x + y, 0)])) as Record<
    'plain' | 'drop' | 'fused',
    number
  >;
  results.push({ batch: b, imagesPerSec: ips, speedup: { drop: ips.drop / ips.plain, fused: ips.fused / ips.plain } });
}
console.log(JSON.stringify({ bench: 'apt-fusion', checkpoint, strategy: pruner.config.strategy, rounds, results }));
