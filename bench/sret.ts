/**
 * bench/sret: SReT forward (eval) at its native resolution, same weights everywhere: ours with
 * weights fed as inputs and baked in as initializers, against PyTorch CPU running the
 * re-implementation of the reference (scripts/fixtures/sret_ref.py, loading our reference-layout
 * safetensors export with strict=True) — interleaved in one run. Also achieved GFLOP/s (from the
 * analytic MACs) against ORT's MatMul GFLOP/s measured alongside. Permutations: one seeded draw,
 * fed every call (PyTorch draws torch.randperm per call, as the reference does).
 * `npm run bench -- sret [--rounds=N] [--batch=8] [--presets=sret-t]`
 */
import { mkdirSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { compile, type Session } from '../src/graph/runtime.js';
import { Rng } from '../src/tensor/rng.js';
import { type Tensor, tensor } from '../src/tensor/tensor.js';
import * as sret from '../src/vit/sret/index.js';
import { arg } from './lib/args.js';
import { matmulGflops } from './lib/matmul.js';
import { interleave, round, sessionRuns, summary } from './lib/timing.js';
import { TorchWorker } from './lib/torch.js';

const rounds = Number(arg('rounds', '5'));
const batch = Number(arg('batch', '8'));
const presets = arg('presets', 'sret-t').split(',') as sret.SretPreset[];
const tmp = new URL('../runs/bench-sret/', import.meta.url).pathname;
mkdirSync(tmp, { recursive: true });
const root = new URL('..', import.meta.url).pathname;

const timeSession = (s: Session, feeds: Record<string, Tensor>, n: number): Promise<number[]> => sessionRuns(s, feeds)(n);

async function main() {
  const started = TorchWorker.start();
  const torch = 'worker' in started ? started.worker : null;
  const info = torch ? await torch.info(2) : null;
  if (!torch) console.error(`bench/sret: PyTorch column skipped: ${(started as { reason: string }).reason}`);
  const ceiling = await matmulGflops();
  console.log(JSON.stringify({ bench: 'sret', torch: info, ortMatmulGflops: ceiling, ort: ort.env.versions }));
  const rng = new Rng(1);
  for (const preset of presets) {
    const model = sret.create(preset, { seed: 0 });
    const c = model.config;
    const weights = `${tmp}${preset}.safetensors`;
    await sret.saveSafetensors(model, weights);
    const compileStart = performance.now();
    const fwd = await compile(sret.inferenceGraph(c));
    const compileSec = (performance.now() - compileStart) / 1000;
    const baked = await compile(sret.inferenceGraph(c), { initializers: { ...model.params, ...model.buffers } });
    const macs = sret.sretMacs(c).total;
    const images = tensor(rng.fillNormal(new Float32Array(batch * c.inChans * c.imageSize ** 2)), [batch, c.inChans, c.imageSize, c.imageSize]);
    const perms = sret.drawPermutations(c, rng);
    const contenders: Record<string, (n: number) => Promise<number[]>> = {
      oursFwd: (n) => timeSession(fwd, { ...model.params, ...model.buffers, ...perms, images }, n),
      oursFwdBaked: (n) => timeSession(baked, { ...perms, images }, n),
    };
    if (torch) {
      const setup = await torch.request<{ params: number }>({
        cmd: 'setup',
        id: preset,
        case: { kind: 'sret', config: c, batch, weights, modulePath: `${root}scripts/fixtures` },
      });
      if (setup.params !== sret.countParams(c)) throw new Error(`bench/sret: PyTorch has ${setup.params} parameters, we have ${sret.countParams(c)}`);
      contenders.torchFwd = (n) => torch.time(preset, 'fwd', n);
    }
    const t = await interleave(contenders, rounds, 3);
    const ips = Object.fromEntries(Object.entries(t).map(([k, v]) => [k, round(batch / summary(v).median, 1)]));
    const gflops = (2 * macs * batch) / summary(t.oursFwd as number[]).median / 1e9;
    console.log(
      JSON.stringify({
        preset,
        batch,
        params: sret.countParams(c),
        macs,
        compileSec: round(compileSec, 2),
        imagesPerSec: ips,
        fwdVsTorch: ips.torchFwd ? round((ips.oursFwd as number) / ips.torchFwd, 2) : null,
        bakedVsTorch: ips.torchFwd ? round((ips.oursFwdBaked as number) / ips.torchFwd, 2) : null,
        gflopsFwd: round(gflops, 1),
        fractionOfMatmul: round(gflops / ceiling.square, 2),
      }),
    );
    fwd.dispose();
    baked.dispose();
  }
  torch?.stop();
}

await main();
