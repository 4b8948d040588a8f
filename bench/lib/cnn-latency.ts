/**
 * ORT latency of CNN models on 28×28×1 inputs (weights baked in): interleaved medians at B=1 and
 * B=64, and a kernel-by-kernel breakdown of base vs pruned that shows where time did not follow MACs.
 */
import * as ort from 'onnxruntime-node';
import type { CnnModel } from '../../src/cnn/api.js';
import { exportCnnOnnx } from '../../src/prune/resrep/run.js';
import { Rng } from '../../src/tensor/rng.js';
import { type NodeTime, nodeTimes } from './ort-profile.js';
import { interleave, round, summary } from './timing.js';

const BATCHES = [1, 64] as const;
const images = (rng: Rng, b: number) => new ort.Tensor('float32', rng.fillNormal(new Float32Array(b * 784)), [b, 1, 28, 28]);

/** Median ms per run of each model at B=1 and B=64, interleaved over `rounds`: `{ b1: { base: 0.75, … }, b64: … }`. */
export async function latency(
  models: Record<string, CnnModel>,
  opts: { readonly threads: number; readonly rounds: number },
): Promise<Record<string, Record<string, number>>> {
  const rng = new Rng(9);
  const sessionOpts = { intraOpNumThreads: opts.threads, graphOptimizationLevel: 'all' } as const;
  const sessions = Object.fromEntries(
    await Promise.all(Object.entries(models).map(async ([k, m]) => [k, await ort.InferenceSession.create(exportCnnOnnx(m), sessionOpts)] as const)),
  );
  const out: Record<string, Record<string, number>> = {};
  for (const b of BATCHES) {
    const x = images(rng, b);
    const contenders = Object.fromEntries(
      Object.entries(sessions).map(([k, s]) => [
        k,
        async (n: number) => {
          const ts: number[] = [];
          for (let i = 0; i < n; i++) {
            const t = performance.now();
            await s.run({ images: x });
            ts.push((performance.now() - t) / 1000);
          }
          return ts;
        },
      ]),
    );
    const t = await interleave(contenders, opts.rounds, b === 1 ? 200 : 10);
    out[`b${b}`] = Object.fromEntries(Object.entries(t).map(([k, v]) => [k, summary(v).median * 1000]));
  }
  for (const s of Object.values(sessions)) await s.release();
  return out;
}

type Kind = 'unchanged' | 'inputsCut' | 'outputsCut' | 'other';
interface Group {
  kernels: number;
  baseUs: number;
  prunedUs: number;
  baseMacs: number;
  prunedMacs: number;
}

/** What pruning did to a kernel: its weight's output rows, only its input columns, or nothing. */
function kindOf(base: NodeTime, pruned: NodeTime): Kind {
  if (base.op !== 'Conv' && base.op !== 'Gemm') return 'other';
  if (base.weight[0] !== pruned.weight[0]) return 'outputsCut';
  return base.weight[1] !== pruned.weight[1] ? 'inputsCut' : 'unchanged';
}

/**
 * ORT's profile of `models.base` and `models.pruned` (same architecture, so their kernels pair up in
 * order after ORT's fusions), summed by {@link kindOf}: time and MACs ratios and the MAC rate of each
 * group; the time ratio measured, and as it would be had every kernel kept its base MAC rate; every
 * kernel pair.
 */
export async function latencyBreakdown(models: Record<string, CnnModel>, threads: number): Promise<Record<string, unknown>> {
  const rng = new Rng(10);
  const out: Record<string, unknown> = {};
  for (const b of BATCHES) {
    const feeds = { images: images(rng, b) };
    const opts = { runs: b === 1 ? 300 : 30, threads };
    const base = await nodeTimes(exportCnnOnnx(models.base as CnnModel), feeds, opts);
    const pruned = await nodeTimes(exportCnnOnnx(models.pruned as CnnModel), feeds, opts);
    if (base.length !== pruned.length || base.some((n, i) => n.op !== pruned[i]?.op))
      throw new Error(`latencyBreakdown: base and pruned kernels do not pair up after ORT's fusions (${base.length} vs ${pruned.length})`);
    const groups = new Map<Kind, Group>();
    base.forEach((n, i) => {
      const p = pruned[i] as NodeTime;
      const kind = kindOf(n, p);
      const g = groups.get(kind) ?? { kernels: 0, baseUs: 0, prunedUs: 0, baseMacs: 0, prunedMacs: 0 };
      groups.set(kind, {
        kernels: g.kernels + 1,
        baseUs: g.baseUs + n.us,
        prunedUs: g.prunedUs + p.us,
        baseMacs: g.baseMacs + n.macs,
        prunedMacs: g.prunedMacs + p.macs,
      });
    });
    out[`b${b}`] = Object.fromEntries(
      [...groups].map(([k, g]) => [
        k,
        {
          kernels: g.kernels,
          baseUs: round(g.baseUs, 0),
          prunedUs: round(g.prunedUs, 0),
          timeRatio: round(g.prunedUs / g.baseUs),
          macsRatio: g.baseMacs ? round(g.prunedMacs / g.baseMacs) : null,
          gmacPerSec: g.baseMacs ? { base: round(g.baseMacs / g.baseUs / 1e3, 1), pruned: round(g.prunedMacs / g.prunedUs / 1e3, 1) } : null,
        },
      ]),
    );
    // What the merged model would take if every kernel kept its base MAC rate (µs scaled by the
    // kernel's MACs ratio; kernels without MACs as measured), as a fraction of the base's time.
    const total = (xs: readonly NodeTime[]) => xs.reduce((a, n) => a + n.us, 0);
    const atBaseRate = base.reduce((a, n, i) => {
      const p = pruned[i] as NodeTime;
      return a + (n.macs > 0 ? (n.us * p.macs) / n.macs : p.us);
    }, 0);
    out[`b${b}Ratios`] = {
      measured: round(total(pruned) / total(base)),
      ifEveryKernelKeptItsBaseRate: round(atBaseRate / total(base)),
      macs: round(pruned.reduce((a, n) => a + n.macs, 0) / base.reduce((a, n) => a + n.macs, 0)),
    };
    out[`b${b}Kernels`] = base.map((n, i) => {
      const p = pruned[i] as NodeTime;
      return { op: n.op, weight: `${n.weight.join('x')} → ${p.weight.join('x')}`, baseUs: round(n.us, 1), prunedUs: round(p.us, 1) };
    });
  }
  return out;
}
