/**
 * bench/engine: forward and forward+backward of a pre-LN transformer block (B=64, 50 tokens,
 * dim 96 and 192) and of an MLP (784-300-100-10, B=256): ours in ORT vs PyTorch CPU in the same
 * run (interleaved), plus ORT MatMul GFLOP/s measured alongside as the practical ceiling.
 * Prints one JSON line per case and a summary line. `npm run bench -- engine [--rounds N] [--profile]`.
 * `--profile` adds, per case, ORT's kernel time summed by op type for the forward and the training
 * graph, and how much of the backward is GEMM work (the part no graph rewrite can shrink).
 */
import * as ort from 'onnxruntime-node';
import { Graph } from '../src/graph/builder.js';
import { linear, softmaxCrossEntropy } from '../src/graph/nn.js';
import { compile, type Session, trainingSession } from '../src/graph/runtime.js';
import type { Value } from '../src/graph/types.js';
import { Rng } from '../src/tensor/rng.js';
import { type Tensor, tensor } from '../src/tensor/tensor.js';
import { addGradients } from '../src/train/step.js';
import { benchBlock } from './lib/block.js';
import { matmulGflops } from './lib/matmul.js';
import { nodeTimes } from './lib/ort-profile.js';
import { interleave, round, sessionRuns, summary } from './lib/timing.js';
import { TorchWorker } from './lib/torch.js';

const rounds = Number(process.argv.find((a) => a.startsWith('--rounds='))?.split('=')[1] ?? 5);
const profile = process.argv.includes('--profile');
const rng = new Rng(0);
const rand = (dims: number[], std = 0.02): Tensor<'float32'> => tensor(rng.fillNormal(new Float32Array(dims.reduce((a, b) => a * b, 1)), 0, std), dims);

interface Case {
  readonly name: string;
  readonly torchCase: object;
  readonly flopsFwd: number;
  fwd: Session;
  train: Session;
  feedsFwd: Record<string, Tensor>;
  feedsTrain: Record<string, Tensor>;
}

async function sessions(build: (train: boolean) => Graph): Promise<Pick<Case, 'fwd' | 'train'>> {
  return { fwd: await compile(build(false), SESSION), train: await compile(build(true), SESSION) };
}

// Every core and no spin-waiting (what training steps use); PyTorch runs at the same thread count.
const SESSION = trainingSession();

const GEMM_OPS = new Set(['Gemm', 'MatMul', 'FusedMatMul', 'FusedGemm']);

/**
 * ORT's own kernel times (2 threads, 20 profiled runs) of the case's forward and training graphs:
 * ms per op type, and the backward's GEMM time over the forward's (≈ 2 by FLOPs, so the floor of
 * bwd ÷ fwd if the GEMMs dominate).
 */
async function profileCase(c: Case) {
  const byOp = async (s: Session, feeds: Record<string, Tensor>) => {
    const ortFeeds = Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, new ort.Tensor(t.type, t.data as Float32Array, [...t.dims])]));
    const ms: Record<string, number> = {};
    for (const n of await nodeTimes(s.bytes, ortFeeds, { runs: 20, threads: 2 })) ms[n.op] = (ms[n.op] ?? 0) + n.us / 1000;
    return ms;
  };
  const fwd = await byOp(c.fwd, c.feedsFwd);
  const train = await byOp(c.train, c.feedsTrain);
  const sum = (ms: Record<string, number>, keep: (op: string) => boolean) => Object.entries(ms).reduce((a, [op, v]) => a + (keep(op) ? v : 0), 0);
  const [gemmFwd, gemmTrain] = [sum(fwd, (op) => GEMM_OPS.has(op)), sum(train, (op) => GEMM_OPS.has(op))];
  const [allFwd, allTrain] = [sum(fwd, () => true), sum(train, () => true)];
  const rounded = (ms: Record<string, number>) =>
    Object.fromEntries(
      Object.entries(ms)
        .sort((a, b) => b[1] - a[1])
        .map(([k, v]) => [k, round(v, 3)]),
    );
  return {
    kernelMsFwd: rounded(fwd),
    kernelMsTrain: rounded(train),
    gemmShareTrain: round(gemmTrain / allTrain, 2),
    bwdGemmOverFwdGemm: round((gemmTrain - gemmFwd) / gemmFwd, 2),
    bwdNonGemmOverFwd: round((allTrain - allFwd - (gemmTrain - gemmFwd)) / allFwd, 2),
  };
}

async function blockCase(dim: number, batch = 64, tokens = 50): Promise<Case> {
  const { build, feedsFwd, feedsTrain } = benchBlock(dim, batch, tokens, rng);
  const m = 4 * dim;
  const macs = tokens * dim * 3 * dim + 2 * tokens * tokens * dim + tokens * dim * dim + 2 * tokens * dim * m;
  return {
    name: `block-d${dim}`,
    torchCase: { kind: 'block', dim, heads: 3, batch, tokens, gelu: 'tanh' },
    flopsFwd: 2 * macs * batch,
    ...(await sessions(build)),
    feedsFwd,
    feedsTrain,
  };
}

async function mlpCase(batch = 256): Promise<Case> {
  const dims = [784, 300, 100, 10];
  const build = (train: boolean) => {
    const g = new Graph(`mlp-${train ? 'train' : 'fwd'}`);
    let h = g.input('x', 'float32', ['B', 784]);
    const p: Record<string, Value> = {};
    for (let i = 0; i < 3; i++) {
      p[`fc${i}.weight`] = g.param(`fc${i}.weight`, [dims[i + 1] as number, dims[i] as number]);
      p[`fc${i}.bias`] = g.param(`fc${i}.bias`, [dims[i + 1] as number]);
      h = linear(g, h, p[`fc${i}.weight`] as Value, p[`fc${i}.bias`]);
      if (i < 2) h = g.Relu(h);
    }
    if (!train) g.output('y', h);
    else addGradients(g, softmaxCrossEntropy(g, h, g.input('y', 'int64', ['B'])), p);
    return g;
  };
  const params: Record<string, Tensor> = {};
  for (let i = 0; i < 3; i++) {
    params[`fc${i}.weight`] = rand([dims[i + 1] as number, dims[i] as number]);
    params[`fc${i}.bias`] = rand([dims[i + 1] as number]);
  }
  const x = rand([batch, 784], 1);
  const y = tensor(
    BigInt64Array.from({ length: batch }, () => BigInt(rng.int(10))),
    [batch],
    'int64',
  );
  return {
    name: 'mlp-784-300-100-10',
    torchCase: { kind: 'mlp', dims, batch },
    flopsFwd: 2 * batch * (784 * 300 + 300 * 100 + 100 * 10),
    ...(await sessions(build)),
    feedsFwd: { ...params, x },
    feedsTrain: { ...params, x, y },
  };
}

async function main() {
  const started = TorchWorker.start();
  const torch = 'worker' in started ? started.worker : null;
  const info = torch ? await torch.info(2) : null;
  if (!torch) console.error(`bench/engine: PyTorch column skipped: ${(started as { reason: string }).reason}`);
  const ceiling = await matmulGflops(SESSION);
  console.log(JSON.stringify({ bench: 'engine', torch: info, ortMatmulGflops: ceiling }));
  const cases = [await blockCase(96), await blockCase(192), await mlpCase()];
  const results = [];
  for (const c of cases) {
    if (torch) await torch.request({ cmd: 'setup', id: c.name, case: c.torchCase });
    const contenders: Record<string, (n: number) => Promise<number[]>> = {
      oursFwd: sessionRuns(c.fwd, c.feedsFwd),
      oursTrain: sessionRuns(c.train, c.feedsTrain),
    };
    if (torch) {
      contenders.torchFwd = (n) => torch.time(c.name, 'fwd', n);
      contenders.torchTrain = (n) => torch.time(c.name, 'fwdbwd', n);
    }
    const t = await interleave(contenders, rounds, 10);
    const med = Object.fromEntries(Object.entries(t).map(([k, v]) => [k, summary(v).median]));
    const r = {
      case: c.name,
      ms: Object.fromEntries(Object.entries(med).map(([k, v]) => [k, round(v * 1000, 2)])),
      oursBwdOverFwd: round(((med.oursTrain as number) - (med.oursFwd as number)) / (med.oursFwd as number), 2),
      speedupFwd: med.torchFwd ? round((med.torchFwd as number) / (med.oursFwd as number), 2) : null,
      speedupTrain: med.torchTrain ? round((med.torchTrain as number) / (med.oursTrain as number), 2) : null,
      gflopsFwd: round(c.flopsFwd / (med.oursFwd as number) / 1e9, 1),
      gflopsTrain: round((3 * c.flopsFwd) / (med.oursTrain as number) / 1e9, 1),
      fractionOfMatmul: round(c.flopsFwd / (med.oursFwd as number) / 1e9 / ceiling.square, 2),
      ...(profile ? { profile: await profileCase(c) } : {}),
    };
    results.push(r);
    console.log(JSON.stringify(r));
  }
  torch?.stop();
  console.log(
    JSON.stringify({
      bench: 'engine',
      summary: results.map((r) => ({ case: r.case, speedupFwd: r.speedupFwd, speedupTrain: r.speedupTrain, bwdOverFwd: r.oursBwdOverFwd })),
    }),
  );
}

await main();
