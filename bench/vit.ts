/**
 * bench/vit: fmnist-vit-t and fmnist-vit-s, same weights everywhere. Forward at B=1 and B=64 and a
 * training step (forward+backward, B=64) in images/s: ours (weights fed as inputs, and baked in as
 * initializers), PyTorch CPU, and ORT running PyTorch's own ONNX export — interleaved in one run.
 * Also achieved GFLOP/s against ORT's MatMul GFLOP/s measured alongside.
 * `npm run bench -- vit [--rounds=N] [--presets=fmnist-vit-t,fmnist-vit-s]`
 */
import { mkdirSync, readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { compile, type Session } from '../src/graph/runtime.js';
import { writeSafetensors } from '../src/io/safetensors.js';
import { blockMacs, stemHeadMacs } from '../src/reward/cost.js';
import { Rng } from '../src/tensor/rng.js';
import { type Tensor, tensor } from '../src/tensor/tensor.js';
import { GradStep } from '../src/train/step.js';
import * as vit from '../src/vit/index.js';
import { arg } from './lib/args.js';
import { matmulGflops } from './lib/matmul.js';
import { interleave, round, sessionRuns, summary } from './lib/timing.js';
import { TorchWorker } from './lib/torch.js';

const rounds = Number(arg('rounds', '5'));
const presets = arg('presets', 'fmnist-vit-t,fmnist-vit-s').split(',') as vit.VitPreset[];
const tmp = new URL('../runs/bench-vit/', import.meta.url).pathname;
mkdirSync(tmp, { recursive: true });
const root = new URL('..', import.meta.url).pathname;

function images(b: number, rng: Rng): Tensor<'float32'> {
  return tensor(rng.fillNormal(new Float32Array(b * 784)), [b, 1, 28, 28]);
}

const timeOrt = (s: ort.InferenceSession, feeds: Record<string, ort.Tensor>, n: number): Promise<number[]> => sessionRuns(s, feeds)(n);

async function timeSession(s: Session | GradStep, params: Record<string, Tensor>, feeds: Record<string, Tensor>, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    if (s instanceof GradStep) await s.run(params, feeds);
    else await s.run({ ...params, ...feeds });
    out.push((performance.now() - t) / 1000);
  }
  return out;
}

async function main() {
  const started = TorchWorker.start();
  const torch = 'worker' in started ? started.worker : null;
  const info = torch ? await torch.info(2) : null;
  if (!torch) console.error(`bench/vit: PyTorch columns skipped: ${(started as { reason: string }).reason}`);
  const ceiling = await matmulGflops();
  console.log(JSON.stringify({ bench: 'vit', torch: info, ortMatmulGflops: ceiling, ort: ort.env.versions }));
  const rng = new Rng(1);
  for (const preset of presets) {
    const model = vit.create(preset, { seed: 0 });
    const c = model.config;
    const weights = `${tmp}${preset}.safetensors`;
    await writeSafetensors(weights, model.params);
    const fwd = await compile(vit.inferenceGraph(c));
    const baked = await compile(vit.inferenceGraph(c), { initializers: model.params });
    const train = await GradStep.compile(vit.trainGraph(c, { labelSmoothing: 0.1 }), Object.keys(model.params));
    const macs = stemHeadMacs(c) + c.depth * blockMacs(c, vit.numTokens(c));
    let exported: ort.InferenceSession | null = null;
    if (torch) {
      await torch.request({ cmd: 'setup', id: `${preset}-b64`, case: { kind: 'vit', config: c, batch: 64, weights, modulePath: `${root}scripts/fixtures` } });
      await torch.request({ cmd: 'setup', id: `${preset}-b1`, case: { kind: 'vit', config: c, batch: 1, weights, modulePath: `${root}scripts/fixtures` } });
      await torch.request({ cmd: 'export', id: `${preset}-b64`, path: `${tmp}${preset}.torch.onnx` });
      exported = await ort.InferenceSession.create(readFileSync(`${tmp}${preset}.torch.onnx`), { graphOptimizationLevel: 'all' });
    }
    for (const batch of [1, 64]) {
      const x = images(batch, rng);
      const labels = tensor(
        BigInt64Array.from({ length: batch }, (_, i) => BigInt(i % 10)),
        [batch],
        'int64',
      );
      const contenders: Record<string, (n: number) => Promise<number[]>> = {
        oursFwd: (n) => timeSession(fwd, model.params, { images: x }, n),
        oursFwdBaked: (n) => timeSession(baked, {}, { images: x }, n),
      };
      if (batch === 64) contenders.oursTrain = (n) => timeSession(train, model.params, { images: x, labels }, n);
      if (torch && exported) {
        const ex = exported;
        const feeds = { images: new ort.Tensor('float32', x.data, [...x.dims]) };
        contenders.ortOnExport = (n) => timeOrt(ex, feeds, n);
        contenders.torchFwd = (n) => torch.time(`${preset}-b${batch}`, 'fwd', n);
        if (batch === 64) contenders.torchTrain = (n) => torch.time(`${preset}-b64`, 'fwdbwd', n);
      }
      const t = await interleave(contenders, rounds, batch === 1 ? 40 : 5);
      const ips = Object.fromEntries(Object.entries(t).map(([k, v]) => [k, round(batch / summary(v).median, 1)]));
      const med = (k: string) => summary(t[k] as number[]).median;
      const gflops = (2 * macs * batch) / med('oursFwd') / 1e9;
      const r = {
        preset,
        batch,
        imagesPerSec: ips,
        fwdVsOrtOnExport: ips.ortOnExport ? round((ips.oursFwd as number) / ips.ortOnExport, 2) : null,
        bakedVsOrtOnExport: ips.ortOnExport ? round((ips.oursFwdBaked as number) / ips.ortOnExport, 2) : null,
        fwdVsTorch: ips.torchFwd ? round((ips.oursFwd as number) / ips.torchFwd, 2) : null,
        trainVsTorch: ips.torchTrain ? round((ips.oursTrain as number) / ips.torchTrain, 2) : null,
        gflopsFwd: round(gflops, 1),
        fractionOfMatmul: round(gflops / ceiling.square, 2),
      };
      console.log(JSON.stringify(r));
    }
    fwd.dispose();
    baked.dispose();
    train.dispose();
    await exported?.release();
  }
  torch?.stop();
}

await main();
