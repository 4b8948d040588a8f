/**
 * bench/engine-fusion: the opt-in FusedMatMul rewrite (`compile(g, { fuseTransposes: true })`) A/B
 * on the bench/engine transformer block (B=64, 50 tokens, dim 96 and 192): the same graphs compiled
 * plain and fused, forward and training step, interleaved. Prints one JSON line per dim (median ms).
 * `npm run bench -- engine-fusion [--rounds=5]`
 */
import { compile, trainingSession } from '../src/graph/runtime.js';
import { Rng } from '../src/tensor/rng.js';
import { benchBlock } from './lib/block.js';
import { interleave, round, sessionRuns, summary } from './lib/timing.js';

const rounds = Number(process.argv.find((a) => a.startsWith('--rounds='))?.split('=')[1] ?? 5);
const rng = new Rng(0);

for (const dim of [96, 192]) {
  const { build, feedsFwd, feedsTrain } = benchBlock(dim, 64, 50, rng);
  const [fwd, train] = [build(false), build(true)];
  const t = await interleave(
    {
      fwdPlain: sessionRuns(await compile(fwd, trainingSession()), feedsFwd),
      fwdFused: sessionRuns(await compile(fwd, trainingSession({ fuseTransposes: true })), feedsFwd),
      trainPlain: sessionRuns(await compile(train, trainingSession()), feedsTrain),
      trainFused: sessionRuns(await compile(train, trainingSession({ fuseTransposes: true })), feedsTrain),
    },
    rounds,
    10,
  );
  console.log(
    JSON.stringify({ bench: 'engine-fusion', dim, ms: Object.fromEntries(Object.entries(t).map(([k, v]) => [k, round(summary(v).median * 1000, 2)])) }),
  );
}
