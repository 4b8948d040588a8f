/** Shared pieces of the SReT tests: tiny configs, seeded parameter declarations, one-shot runs, a pure-TS attention. */
import { Graph } from '../../../src/graph/builder.js';
import { compile } from '../../../src/graph/runtime.js';
import type { Value } from '../../../src/graph/types.js';
import { Rng } from '../../../src/tensor/rng.js';
import { type Tensor, tensor } from '../../../src/tensor/tensor.js';
import type { SretConfig } from '../../../src/vit/sret/index.js';

export const SESSION = { intraOpThreads: 1 } as const;

/** A small config (16 px → 4×4 grid of 16 tokens, D 8/16/32); override what a test needs. */
export function tinyConfig(over: Partial<SretConfig> = {}): SretConfig {
  return {
    kind: 'sret',
    name: 'sret-test',
    imageSize: 16,
    inChans: 1,
    numClasses: 5,
    stemStrides: [2, 2, 1],
    baseDim: [4, 4, 4],
    heads: [2, 4, 8],
    depth: [2, 2, 2],
    uniqueBlocks: [1, 1, 1],
    groups: [
      [4, 2],
      [2, 1],
      [1, 1],
    ],
    mlpRatio: 2,
    nllMlpRatio: 1,
    qkvBias: true,
    lnEps: 1e-6,
    dropPathRate: 0,
    gelu: 'tanh',
    bn: 'frozen',
    permutation: { kind: 'random' },
    ...over,
  };
}

export type FloatType = 'float32' | 'float64';

/** Storage of `dtype` filled by `fill`. */
export function floats(dtype: FloatType, n: number, fill: (i: number) => number): Float32Array | Float64Array {
  const a = dtype === 'float64' ? new Float64Array(n) : new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = fill(i);
  return a;
}

/**
 * Declares `shapes` as graph inputs named by key (prefixed by `prefix`) with seeded values: normal·0.5,
 * except LRC scalars (`coefficient<i>.bias`) drawn in [0.5, 1.5] and norm weights around 1.
 */
export function declare(g: Graph, shapes: readonly [string, number[]][], rng: Rng, dtype: FloatType = 'float32', prefix = '') {
  const p: Record<string, Value> = {};
  const feeds: Record<string, Tensor> = {};
  for (const [k, dims] of shapes) {
    const n = dims.reduce((a, b) => a * b, 1);
    const coef = /coefficient\d\.bias$/.test(k);
    const normW = /norm\d?\.weight$/.test(k);
    const data = floats(dtype, n, () => (coef ? rng.uniform(0.5, 1.5) : normW ? 1 + 0.2 * rng.normal() : 0.5 * rng.normal()));
    p[k] = g.input(`${prefix}${k}`, dtype, dims);
    feeds[`${prefix}${k}`] = tensor(data, dims, dtype);
  }
  return { p, feeds };
}

/** Compiles, runs once, disposes. */
export async function run(g: Graph, feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
  using s = await compile(g, SESSION);
  return await s.run(feeds);
}

/** A seeded random tensor. */
export function randn(dims: number[], seed: number, dtype: FloatType = 'float32', scale = 1): Tensor {
  const rng = new Rng(seed);
  return tensor(
    floats(
      dtype,
      dims.reduce((a, b) => a * b, 1),
      () => scale * rng.normal(),
    ),
    dims,
    dtype,
  );
}

export function int64(values: ArrayLike<number>): Tensor<'int64'> {
  return tensor(
    BigInt64Array.from(Array.from(values), (v) => BigInt(v)),
    [values.length],
    'int64',
  );
}

/**
 * timm attention in plain TypeScript (float64): x [n, D] rows → [n, D], weights in PyTorch layout
 * (qkv [3D, D] as (3, H, d) rows, proj [D, D]).
 */
export function hostAttention(x: number[][], w: Record<string, ArrayLike<number>>, heads: number): number[][] {
  const d = (x[0] as number[]).length;
  const dh = d / heads;
  const lin = (row: number[], W: ArrayLike<number>, b: ArrayLike<number>, out: number) =>
    Array.from({ length: out }, (_, o) => row.reduce((s, v, i) => s + v * (W[o * row.length + i] as number), b[o] as number));
  const qkv = x.map((row) => lin(row, w['qkv.weight'] as ArrayLike<number>, w['qkv.bias'] as ArrayLike<number>, 3 * d));
  const out = x.map(() => new Array<number>(d).fill(0));
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < x.length; i++) {
      const q = (qkv[i] as number[]).slice(h * dh, (h + 1) * dh);
      const logits = qkv.map((r) => q.reduce((s, v, t) => s + v * (r[d + h * dh + t] as number), 0) * dh ** -0.5);
      const m = Math.max(...logits);
      const e = logits.map((l) => Math.exp(l - m));
      const z = e.reduce((a, b) => a + b, 0);
      const row = out[i] as number[];
      for (let j = 0; j < x.length; j++)
        for (let t = 0; t < dh; t++)
          row[h * dh + t] = (row[h * dh + t] as number) + ((e[j] as number) / z) * ((qkv[j] as number[])[2 * d + h * dh + t] as number);
    }
  }
  return out.map((row) => lin(row, w['proj.weight'] as ArrayLike<number>, w['proj.bias'] as ArrayLike<number>, d));
}

/** Rows of a [B, N, D] tensor for batch b. */
export function rowsOf(t: Tensor, b: number): number[][] {
  const [, n, d] = t.dims as [number, number, number];
  return Array.from({ length: n }, (_, i) => Array.from({ length: d }, (_, j) => Number(t.data[(b * n + i) * d + j])));
}

export { Graph, Rng };
