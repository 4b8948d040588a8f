/**
 * bench/engine-threads: the bench/engine transformer block under three session settings — one
 * intra-op thread, every core with ORT's spin-waiting, every core without — forward and training
 * step at B=64 (dim 96 and 192) and the forward at B=1 (dim 96), interleaved. Prints one JSON line
 * per case (median ms per call). What the defaults of `compile` and `trainingSession` rest on.
 * `npm run bench -- engine-threads [--rounds=6]`
 */
import { availableParallelism } from 'node:os';
import { compile, type SessionOptions } from '../src/graph/runtime.js';
import { Rng } from '../src/tensor/rng.js';
import { benchBlock } from './lib/block.js';
import { interleave, round, sessionRuns, summary } from './lib/timing.js';

const rounds = Number(process.argv.find((a) => a.startsWith('--rounds='))?.split('=')[1] ?? 6);
const cores = availableParallelism();
const settings: Record<string, SessionOptions> = {
  oneThread: { intraOpThreads: 1 },
  allCoresSpin: { intraOpThreads: cores, spinWait: true },
  allCoresNoSpin: { intraOpThreads: cores, spinWait: false },
};

console.log(JSON.stringify({ bench: 'engine-threads', cores }));
for (const [dim, batch] of [
  [96, 64],
  [192, 64],
  [96, 1],
] as const) {
  const { build, feedsFwd, feedsTrain } = benchBlock(dim, batch, 50, new Rng(0));
  const graphs = batch === 1 ? { fwd: build(false) } : { fwd: build(false), train: build(true) };
  for (const [kind, g] of Object.entries(graphs)) {
    const feeds = kind === 'fwd' ? feedsFwd : feedsTrain;
    const contenders: Record<string, (n: number) => Promise<number[]>> = {};
    for (const [name, o] of Object.entries(settings)) {
      const run = sessionRuns(await compile(g, o), feeds);
      // One untimed call first: the previous contender's spinning threads must not count against this one.
      contenders[name] = async (n) => {
        await run(1);
        return run(n);
      };
    }
    const t = await interleave(contenders, rounds, batch === 1 ? 200 : 10);
    const ms = Object.fromEntries(Object.entries(t).map(([k, v]) => [k, round(summary(v).median * 1000, 3)]));
    console.log(JSON.stringify({ bench: 'engine-threads', case: `block-d${dim}-b${batch}-${kind}`, ms }));
  }
}
