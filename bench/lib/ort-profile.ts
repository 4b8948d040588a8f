/**
 * Where an ORT session spends its time, kernel by kernel: runs a model with ORT's profiler on and
 * reads back each kernel's time and shapes. Used to explain a latency that does not follow the MACs
 * ratio (which kernels shrank in proportion to their MACs and which did not).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';

interface ProfileEvent {
  readonly cat?: string;
  readonly name?: string;
  readonly dur?: number;
  readonly args?: {
    readonly op_name?: string;
    readonly input_type_shape?: readonly Record<string, number[]>[];
    readonly output_type_shape?: readonly Record<string, number[]>[];
  };
}

/** One kernel of the optimized graph (fused nodes count once), in execution order. */
export interface NodeTime {
  readonly node: string;
  readonly op: string;
  /** Mean microseconds per run. */
  readonly us: number;
  /** Multiply-accumulates at this batch for Conv (groups = 1) and Gemm; 0 for the rest. */
  readonly macs: number;
  /** Weight shape `[out, in, …]` for Conv/Gemm (logical, not blocked), else []. */
  readonly weight: readonly number[];
}

const shapeOf = (t: Record<string, number[]> | undefined): number[] => Object.values(t ?? {})[0] ?? [];
const prod = (xs: readonly number[]) => xs.reduce((a, b) => a * b, 1);

/**
 * Profiles `warmup + runs` runs of `model` on `feeds` and keeps the last `runs` (ORT profiles every
 * run of a session, so the warm-up runs' events are dropped by position).
 * @returns per kernel of the optimized graph: mean µs per run and MACs (from the logged shapes).
 */
export async function nodeTimes(
  model: Uint8Array,
  feeds: Record<string, ort.Tensor>,
  opts: { readonly runs: number; readonly warmup?: number; readonly threads: number },
): Promise<NodeTime[]> {
  const dir = mkdtempSync(join(tmpdir(), 'apt-prune-profile-'));
  try {
    const s = await ort.InferenceSession.create(model, {
      intraOpNumThreads: opts.threads,
      graphOptimizationLevel: 'all',
      enableProfiling: true,
      profileFilePrefix: join(dir, 'p'),
    });
    const warmup = opts.warmup ?? 3;
    for (let i = 0; i < warmup + opts.runs; i++) await s.run(feeds);
    s.endProfiling();
    await s.release();
    const file = readdirSync(dir).find((f) => f.endsWith('.json'));
    if (!file) throw new Error(`ORT wrote no profile in ${dir}`);
    const events = JSON.parse(readFileSync(join(dir, file), 'utf8')) as ProfileEvent[];
    const kernels = events.filter((e) => e.cat === 'Node' && e.name?.endsWith('_kernel_time'));
    const perRun = kernels.length / (warmup + opts.runs);
    const byNode = new Map<string, NodeTime>();
    for (const e of kernels.slice(Math.round(perRun * warmup))) {
      const node = (e.name as string).replace(/_kernel_time$/, '');
      const prev = byNode.get(node);
      const us = (prev?.us ?? 0) + (e.dur ?? 0) / opts.runs;
      if (prev) {
        byNode.set(node, { ...prev, us });
        continue;
      }
      const op = e.args?.op_name ?? 'unknown';
      const out = shapeOf(e.args?.output_type_shape?.[0]);
      const input = shapeOf(e.args?.input_type_shape?.[0]);
      // Conv: every output element costs C_in·kh·kw. Gemm: ORT logs a prepacked weight without its
      // shape, so the weight is read as [out features, in features] from the activations.
      const weight = op === 'Conv' ? shapeOf(e.args?.input_type_shape?.[1]) : op === 'Gemm' ? [out.at(-1) ?? 0, input.at(-1) ?? 0] : [];
      const macs = op === 'Conv' ? (prod(out) * prod(weight)) / (weight[0] ?? 1) : op === 'Gemm' ? prod(out) * (weight[1] ?? 0) : 0;
      byNode.set(node, { node, op, us, macs, weight });
    }
    return [...byNode.values()];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
