/**
 * bench/engine: forward and forward+backward of a pre-LN transformer block (B=64, 50 tokens,
 * dim 96 and 192) and of an MLP (784-300-100-10, B=256): ours in ORT vs PyTorch CPU in the same
 * run (interleaved), plus ORT MatMul GFLOP/s measured alongside as the practical ceiling.
 * Prints one JSON line per case and a summary line. `npm run bench -- engine [--rounds N]`.
 */
import { Graph } from '../src/graph/builder.js';
import { linear, softmaxCrossEntropy } from '../src/graph/nn.js';
import { compile, type Session } from '../src/graph/runtime.js';
import type { Value } from '../src/graph/types.js';
import { Rng } from '../src/tensor/rng.js';
import { full, type Tensor, tensor } from '../src/tensor/tensor.js';
import { addGradients } from '../src/train/step.js';
import { block } from '../src/vit/blocks.js';
import type { VitConfig } from '../src/vit/config.js';
import { type BlockKey, type Params, paramShapes } from '../src/vit/params.js';
import { matmulGflops } from './lib/matmul.js';
import { interleave, round, summary } from './lib/timing.js';
import { TorchWorker } from './lib/torch.js';

const rounds = Number(process.argv.find((a) => a.startsWith('--rounds='))?.split('=')[1] ?? 5);
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

function blockConfig(dim: number): VitConfig {
  return {
    kind: 'vit',
    name: `block-${dim}`,
    imageSize: 28,
    patchSize: 4,
    inChans: 1,
    numClasses: 10,
    dim,
    depth: 1,
    heads: 3,
    mlpRatio: 4,
    qkvBias: true,
    lnEps: 1e-6,
    gelu: 'tanh',
  };
}

async function blockCase(dim: number, batch = 64, tokens = 50): Promise<Case> {
  const c = blockConfig(dim);
  const shapes = paramShapes(c).filter(([k]) => k.startsWith('blocks.0.'));
  const build = (train: boolean) => {
    const g = new Graph(`block${dim}-${train ? 'train' : 'fwd'}`);
    const x = g.input('x', 'float32', ['B', tokens, dim]);
    const p: Record<string, Value> = {};
    for (const [k, dims] of shapes) p[k.slice('blocks.0.'.length)] = g.param(k, dims);
    const { out } = block(g, p as Params<BlockKey>, x, c);
    if (!train) g.output('y', out);
    else {
      const r = g.input('r', 'float32', ['B', tokens, dim]);
      addGradients(g, g.ReduceSum(g.Mul(out, r), [], false), Object.fromEntries(shapes.map(([k]) => [k, p[k.slice(9)] as Value])));
    }
    return g;
  };
  const params = Object.fromEntries(shapes.map(([k, dims]) => [k, /norm\d\.weight$/.test(k) ? full(dims, 1, 'float32') : rand(dims)]));
  const x = rand([batch, tokens, dim], 1);
  const m = 4 * dim;
  const macs = tokens * dim * 3 * dim + 2 * tokens * tokens * dim + tokens * dim * dim + 2 * tokens * dim * m;
  return {
    name: `block-d${dim}`,
    torchCase: { kind: 'block', dim, heads: 3, batch, tokens, gelu: 'tanh' },
    flopsFwd: 2 * macs * batch,
    fwd: await compile(build(false)),
    train: await compile(build(true)),
    feedsFwd: { ...params, x },
    feedsTrain: { ...params, x, r: rand([batch, tokens, dim], 1) },
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
    fwd: await compile(build(false)),
    train: await compile(build(true)),
    feedsFwd: { ...params, x },
    feedsTrain: { ...params, x, y },
  };
}

async function main() {
  const started = TorchWorker.start();
  const torch = 'worker' in started ? started.worker : null;
  const info = torch ? await torch.info(2) : null;
  if (!torch) console.error(`bench/engine: PyTorch column skipped: ${(started as { reason: string }).reason}`);
  const ceiling = await matmulGflops();
  console.log(JSON.stringify({ bench: 'engine', torch: info, ortMatmulGflops: ceiling }));
  const cases = [await blockCase(96), await blockCase(192), await mlpCase()];
  const results = [];
  for (const c of cases) {
    if (torch) await torch.request({ cmd: 'setup', id: c.name, case: c.torchCase });
    const time = (s: Session, feeds: Record<string, Tensor>) => async (n: number) => {
      const out: number[] = [];
      for (let i = 0; i < n; i++) {
        const t = performance.now();
        await s.run(feeds);
        out.push((performance.now() - t) / 1000);
      }
      return out;
    };
    const contenders: Record<string, (n: number) => Promise<number[]>> = { oursFwd: time(c.fwd, c.feedsFwd), oursTrain: time(c.train, c.feedsTrain) };
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
