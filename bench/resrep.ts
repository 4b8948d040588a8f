/**
 * bench/resrep: ResRep on fmnist-resnet20 to a MACs target, end to end, in one run:
 * 1. base: train fmnist-resnet20 from scratch (SGD, cosine) for --base-epochs (or load --base);
 * 2. ResRep from the base for --resrep-epochs (compactors, gradient reset, mask schedule), convert;
 * 3. the same budget without pruning: the base trained --resrep-epochs more with the same recipe;
 * 4. test accuracy of both, MACs, and ORT latency (weights baked in) of the merged model vs the
 *    BN-folded base at B=1 and B=64, interleaved, beside what the MACs ratio predicts — plus the
 *    same for kept widths rounded up to multiples of 4 and 8; ORT's profile per kernel, summed by
 *    what pruning did to it (explains a latency off the MACs ratio); onnx.checker on the written file.
 * The schedule is sized to the budget: masking should finish by --mask-by of the ResRep iterations
 * (the spec: "masking must finish long before the lr decays"), so the interval is derived from the
 * channel count the target needs (override with --interval).
 *
 * Every training phase checkpoints each epoch under --out and resumes from there, and a finished
 * phase is skipped, so the run survives interruptions. `--phase=base|resrep|same-budget|measure`
 * runs one phase (default: all, in order): after `base`, `resrep` and `same-budget` are independent
 * and can run side by side (one ORT thread each, the default); `measure` then converts (instant,
 * from the finished ResRep checkpoint), evaluates and times on a quiet machine.
 *
 * Full run (quiet machine, several hours at today's training speed):
 *   npm run bench -- resrep --base-epochs=4 --resrep-epochs=8 --target=0.5
 * Smoke run (minutes): npm run bench -- resrep --base-epochs=1 --resrep-epochs=2 --limit-per-class=30 --batch=32 --rounds=2
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type CnnModel, cnnTrainable, create, forward } from '../src/cnn/api.js';
import { fashionMnist } from '../src/data/index.js';
import { numBatches } from '../src/data/loader.js';
import { loadCheckpoint, saveCheckpoint } from '../src/io/checkpoint.js';
import { cnnChannelAnalysis } from '../src/prune/deps.js';
import { countMacs, macsFunction } from '../src/prune/macs.js';
import { convertResRep, foldCnnBatchNorms } from '../src/prune/resrep/cnn.js';
import { formatConversionReport } from '../src/prune/resrep/report.js';
import { cnnFromCheckpoint, resrepRecipe, runResRep } from '../src/prune/resrep/run.js';
import { selectMask } from '../src/prune/resrep/schedule.js';
import { Rng } from '../src/tensor/rng.js';
import { type Tensor, tensor } from '../src/tensor/tensor.js';
import { evaluate, type FitEvent, fit as fitModel } from '../src/train/fit.js';
import { arg } from './lib/args.js';
import { latency, latencyBreakdown } from './lib/cnn-latency.js';
import { round } from './lib/timing.js';

const num = (name: string, dflt: number) => Number(arg(name, String(dflt)));
const o = {
  baseEpochs: num('base-epochs', 4),
  resrepEpochs: num('resrep-epochs', 8),
  target: num('target', 0.5),
  batch: num('batch', 64),
  baseLr: num('base-lr', 0.05),
  lr: num('lr', 0.01),
  lambda: num('lambda', 2e-3),
  warmupEpochs: num('warmup-epochs', 1),
  granularity: num('granularity', 4),
  multipleOf: num('multiple-of', 1),
  maskBy: num('mask-by', 0.35),
  interval: arg('interval', 'auto'),
  limitPerClass: arg('limit-per-class', '') === '' ? undefined : num('limit-per-class', 0),
  rounds: num('rounds', 5),
  threads: num('threads', 1),
  seed: num('seed', 0),
  base: arg('base', ''),
  out: arg('out', new URL('../runs/bench-resrep/', import.meta.url).pathname),
  phase: arg('phase', 'all') as 'all' | 'base' | 'resrep' | 'same-budget' | 'measure',
};
if (!['all', 'base', 'resrep', 'same-budget', 'measure'].includes(o.phase))
  throw new Error(`--phase must be all, base, resrep, same-budget or measure, got '${o.phase}'`);
const log = (s: string) => console.error(`bench/resrep: ${s}`);
const session = { intraOpThreads: o.threads };

/** Channels the target needs (one selectMask pass from scratch with no per-update limit) → an interval that masks them by `maskBy`. */
function autoInterval(total: number, warmup: number): number {
  const c = create('fmnist-resnet20').config;
  const a = cnnChannelAnalysis(c);
  const rng = new Rng(0);
  const norms = a.groups.map((g) => Float64Array.from({ length: g.width }, () => rng.uniform()));
  const sel = selectMask(
    norms,
    a.groups.map(() => 0),
    macsFunction(c, a),
    o.target,
    { granularity: 1 },
  );
  const needed = a.groups.reduce((s, g, i) => s + g.width - (sel.widths[i] as number), 0);
  return Math.max(1, Math.floor((o.maskBy * total - warmup) / Math.ceil(needed / o.granularity)));
}

function onFit(label: string): (e: FitEvent) => void {
  return (e) => {
    if (e.kind === 'eval') log(`${label} epoch ${e.epoch}: test accuracy ${(100 * e.accuracy).toFixed(2)}%`);
    if (e.kind === 'step' && e.step % 100 === 0)
      log(`${label} step ${e.step}/${e.totalSteps} loss ${e.loss.toFixed(3)} ${e.imagesPerSec.toFixed(0)} img/s ETA ${(e.etaSec / 60).toFixed(1)} min`);
  };
}

function onnxChecker(path: string): string {
  const r = spawnSync(
    '/usr/bin/python3',
    ['-c', 'import onnx,sys; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True); print(onnx.__version__)', path],
    { encoding: 'utf8' },
  );
  if (r.error) return `skipped (${r.error.message})`;
  return r.status === 0 ? `passed (onnx ${r.stdout.trim()})` : `FAILED: ${r.stderr.trim().split('\n').at(-1)}`;
}

/** Seconds each phase took, kept beside the checkpoints so a resumed or phased run still reports them. */
function phaseSeconds(name: string, seconds?: number): number | undefined {
  const file = join(o.out, 'seconds.json');
  const all: Record<string, number> = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {};
  if (seconds === undefined) return all[name];
  all[name] = round((all[name] ?? 0) + seconds, 0);
  writeFileSync(file, `${JSON.stringify(all)}\n`);
  return all[name];
}

const runs = (phase: typeof o.phase) => o.phase === 'all' || o.phase === phase;

async function main() {
  mkdirSync(o.out, { recursive: true });
  const data = await fashionMnist({ limitPerClass: o.limitPerClass });
  log(`Fashion-MNIST ${data.train.n} train / ${data.test.n} test; ${JSON.stringify(o)}`);
  const started = performance.now();
  const perEpoch = numBatches(data.train.n, o.batch, true);

  // 1. base (resumable; skipped when written or given)
  const basePath = o.base || join(o.out, 'base');
  if (!o.base && !existsSync(`${basePath}.json`)) {
    if (!runs('base')) throw new Error(`phase '${o.phase}' needs the base: run --phase=base first (or pass --base)`);
    const t0 = performance.now();
    const base = create('fmnist-resnet20', { seed: o.seed });
    const t = await cnnTrainable(base, { session });
    const r = await fitModel(t, resrepRecipe(o.baseEpochs, { batchSize: o.batch, lr: o.baseLr, seed: o.seed }), {
      train: data.train,
      evalSet: data.test,
      out: join(o.out, 'base-train'),
      checkpointEvery: perEpoch,
      resume: true,
      onEvent: onFit('base'),
    });
    await saveCheckpoint(basePath, { tensors: base.params, sidecar: { config: base.config as never, history: r.history, seed: o.seed } });
    phaseSeconds('base', (performance.now() - t0) / 1000);
  }
  if (o.phase === 'base') return;

  // 2. ResRep from the base (resumable: a finished run only converts again)
  let rr: Awaited<ReturnType<typeof runResRep>> | undefined;
  const total = perEpoch * o.resrepEpochs;
  const warmup = Math.round(o.warmupEpochs * perEpoch);
  const interval = o.interval === 'auto' ? autoInterval(total, warmup) : Number(o.interval);
  if (runs('resrep') || runs('measure')) {
    log(`ResRep: ${total} iterations, warm-up ${warmup}, interval ${interval}, granularity ${o.granularity}, λ ${o.lambda}`);
    const t0 = performance.now();
    const resrepOut = join(o.out, 'resrep');
    if (o.phase === 'measure' && !existsSync(join(resrepOut, 'pruned.json')))
      throw new Error(`phase 'measure' needs a finished ResRep run in ${resrepOut}: run --phase=resrep first`);
    const trained = existsSync(join(resrepOut, 'pruned.json'));
    rr = await runResRep({
      target: o.target,
      epochs: o.resrepEpochs,
      out: resrepOut,
      train: data.train,
      test: data.test,
      base: basePath,
      batchSize: o.batch,
      lr: o.lr,
      lambda: o.lambda,
      warmupEpochs: o.warmupEpochs,
      interval,
      granularity: o.granularity,
      multipleOf: o.multipleOf,
      seed: o.seed,
      reportEvery: Math.max(1, Math.round(total / 10)),
      resume: true,
      session,
      onEvent: (e) => {
        if (e.kind === 'mask' && e.exhausted) log(`warning: iteration ${e.iteration}: target ${e.target} unreachable`);
        if (e.kind === 'report')
          log(`iteration ${e.iteration}: F/F0 masked ${e.maskedRatio.toFixed(3)} thresholded ${e.thresholdRatio.toFixed(3)} (target ${e.target})`);
        else if (e.kind === 'resume') log(`ResRep resumes at iteration ${e.step} (${e.path})`);
        else if (e.kind !== 'mask' && e.kind !== 'phase') onFit('resrep')(e);
      },
    });
    if (!trained) phaseSeconds('resrep', (performance.now() - t0) / 1000);
    for (const line of formatConversionReport(rr.report)) log(line);
  }

  // 3. the same budget without pruning (resumable)
  const ftPath = join(o.out, 'same-budget');
  if (!existsSync(`${ftPath}.json`) && (runs('same-budget') || o.phase === 'measure')) {
    if (o.phase === 'measure') throw new Error(`phase 'measure' needs the same-budget base in ${ftPath}: run --phase=same-budget first`);
    const t0 = performance.now();
    const ft = cnnFromCheckpoint(await loadCheckpoint(basePath));
    await fitModel(await cnnTrainable(ft, { session }), resrepRecipe(o.resrepEpochs, { batchSize: o.batch, lr: o.lr, seed: o.seed }), {
      train: data.train,
      evalSet: data.test,
      out: join(o.out, 'same-budget-train'),
      checkpointEvery: perEpoch,
      resume: true,
      onEvent: onFit('same-budget base'),
    });
    await saveCheckpoint(ftPath, { tensors: ft.params, sidecar: { config: ft.config as never, seed: o.seed } });
    phaseSeconds('sameBudget', (performance.now() - t0) / 1000);
  }
  if (!rr || !existsSync(`${ftPath}.json`)) return;
  const baseModel = cnnFromCheckpoint(await loadCheckpoint(basePath));
  const baseAcc = (await evaluate({ predict: (x) => forward(baseModel, x, session) }, data.test)).accuracy;
  const ft = cnnFromCheckpoint(await loadCheckpoint(ftPath));
  const ftAcc = (await evaluate({ predict: (x) => forward(ft, x, session) }, data.test)).accuracy;

  // 4. MACs and latency, with rounded widths
  const baseDeploy = foldCnnBatchNorms(ft);
  const f32 = (p: Record<string, Tensor>) =>
    Object.fromEntries(Object.entries(p).map(([k, t]) => [k, tensor(Float32Array.from(t.data as Float64Array), t.dims, 'float32')]));
  const models: Record<string, CnnModel> = { base: { config: baseDeploy.config, params: f32(baseDeploy.params) }, pruned: rr.pruned };
  for (const m of [4, 8]) models[`pruned_x${m}`] = convertResRep(rr.rr, { multipleOf: m }).model;
  const macs = Object.fromEntries(Object.entries(models).map(([k, m]) => [k, countMacs(m).total]));
  const lat = await latency(models, { threads: o.threads, rounds: o.rounds });
  const vs = (b: string, k: string) => {
    const measured = (lat[b]?.[k] as number) / (lat[b]?.base as number);
    const predicted = (macs[k] as number) / (macs.base as number);
    return { measured: round(measured), predicted: round(predicted), deviation: round(measured / predicted - 1) };
  };
  const breakdown = await latencyBreakdown(models, o.threads);
  const onnxPath = rr.files.onnx;
  const result = {
    bench: 'resrep',
    settings: { ...o, interval },
    data: { train: data.train.n, test: data.test.n },
    seconds: {
      base: phaseSeconds('base'),
      resrep: phaseSeconds('resrep'),
      sameBudget: phaseSeconds('sameBudget'),
      thisRun: round((performance.now() - started) / 1000, 0),
    },
    accuracy: {
      base: round(baseAcc, 4),
      sameBudgetBase: round(ftAcc, 4),
      resrepUnmerged: round(rr.accuracy.unmerged, 4),
      resrepMerged: round(rr.accuracy.merged, 4),
    },
    dropPoints: round(100 * (ftAcc - rr.accuracy.merged), 2),
    macs: { ...macs, removedFraction: round(1 - (macs.pruned as number) / (macs.base as number), 4), target: o.target },
    widths: Object.fromEntries(rr.report.layers.map((l) => [l.layer, `${l.width}→${l.kept}`])),
    equivalence: rr.equivalence,
    latencyMs: Object.fromEntries(Object.entries(lat).map(([b, v]) => [b, Object.fromEntries(Object.entries(v).map(([k, ms]) => [k, round(ms, 3)]))])),
    latencyVsMacs: Object.fromEntries(
      ['b1', 'b64'].map((b) => [
        b,
        Object.fromEntries(
          Object.keys(models)
            .filter((k) => k !== 'base')
            .map((k) => [k, vs(b, k)]),
        ),
      ]),
    ),
    latencyBreakdown: breakdown,
    onnxChecker: onnxChecker(onnxPath),
    files: rr.files,
  };
  writeFileSync(join(o.out, 'result.json'), `${JSON.stringify(result, null, 1)}\n`);
  console.log(JSON.stringify(result));
}

await main();
