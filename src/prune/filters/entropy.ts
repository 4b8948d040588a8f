/**
 * Entropy-based filter scores (Luo & Wu, specs/cops.md §8): for each channel, the entropy of its
 * globally average-pooled post-activation response over n images of a fixed class-balanced subset,
 * histogrammed in m equal-width bins over [min_j, max_j]. Choice (the paper states neither):
 * m = 100, n = 1000 (n ≥ 10·m).
 */
import type { CnnModel } from '../../cnn/api.js';
import type { CnnConfig } from '../../cnn/config.js';
import { buildCnn, cnnParams } from '../../cnn/model.js';
import { assertDataset, type Dataset, subset } from '../../data/dataset.js';
import { evalBatches } from '../../data/loader.js';
import { Graph } from '../../graph/builder.js';
import { compile, type SessionOptions } from '../../graph/runtime.js';
import type { Value } from '../../graph/types.js';
import { fmtDims, ShapeError, ValueError } from '../../tensor/errors.js';
import type { Tensor } from '../../tensor/tensor.js';
import { assertFinite, floatTensor } from '../tensors.js';
import { filterGroups } from './layers.js';

/**
 * H_j = −Σ_b p_b·ln p_b of column j of `m` [n, c], with bin index min(bins − 1, floor((v − min_j) /
 * (max_j − min_j)·bins)) and 0·ln 0 = 0; a constant column has H = 0. → float64 [c]. §9 test 13:
 * columns [0,0,1,1], [0,0,0,1], [2,2,2,2] with bins = 2 → [ln 2, 0.5623, 0].
 */
export function entropyScores(m: Tensor, bins = 100): Float64Array {
  const where = 'prune.filters.entropyScores';
  const t = floatTensor(where, 'm', m);
  if (t.dims.length !== 2 || (t.dims[0] as number) < 1) throw new ShapeError(where, `m must be [n, c] with n ≥ 1, got ${fmtDims(t.dims)}`);
  if (!Number.isInteger(bins) || bins < 1) throw new ValueError(where, `bins must be a positive integer, got ${bins}`);
  assertFinite(where, 'm', t.data);
  const [n, c] = t.dims as [number, number];
  const h = new Float64Array(c);
  const counts = new Float64Array(bins);
  for (let j = 0; j < c; j++) {
    let lo = Number.POSITIVE_INFINITY;
    let hi = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < n; i++) {
      const v = t.data[i * c + j] as number;
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    if (hi === lo) continue; // constant: one bin holds everything, H = 0
    counts.fill(0);
    for (let i = 0; i < n; i++) counts[Math.min(bins - 1, Math.floor((((t.data[i * c + j] as number) - lo) / (hi - lo)) * bins))]! += 1;
    for (const k of counts) if (k > 0) h[j] = (h[j] as number) - (k / n) * Math.log(k / n);
  }
  return h;
}

/**
 * A fixed class-balanced subset of `n` images: the first ⌊n/C⌋ of each class in stored order (the
 * first n mod C classes give one more). No randomness, so every call picks the same images.
 */
export function balancedSubset(ds: Dataset, n: number): Dataset {
  const where = 'prune.filters.balancedSubset';
  assertDataset(where, ds);
  if (!Number.isInteger(n) || n < 1) throw new ValueError(where, `n must be a positive integer, got ${n}`);
  const want = Array.from({ length: ds.classes }, (_, c) => Math.floor(n / ds.classes) + (c < n % ds.classes ? 1 : 0));
  const picked: number[][] = want.map(() => []);
  for (let i = 0; i < ds.n; i++) {
    const c = ds.labels[i] as number;
    const list = picked[c] as number[];
    if (list.length < (want[c] as number)) list.push(i);
  }
  picked.forEach((list, c) => {
    if (list.length < (want[c] as number)) throw new ValueError(where, `class ${c} has ${list.length} images, ${want[c]} needed for ${n} balanced images`);
  });
  return subset(ds, picked.flat());
}

/** The layer whose value is `layer`'s post-activation output: through its BN (if any), then its ReLU (if any). */
export function postActivation(config: CnnConfig, layer: string): string {
  let v = layer;
  for (const kind of ['bn', 'relu'] as const) {
    const next = config.layers.find((l) => l.kind === kind && l.input === v);
    if (next) v = next.name;
  }
  return v;
}

/**
 * M [n, c] per layer: the post-activation output of each named layer (default: the prunable
 * convs), globally average-pooled (a linear's output is already [n, c]), on `ds` in stored order,
 * eval-mode BN. One ORT graph with one output per layer.
 */
export async function activationMeans(
  model: CnnModel,
  ds: Dataset,
  opts: { readonly layers?: readonly string[]; readonly batchSize?: number; readonly session?: SessionOptions } = {},
): Promise<Record<string, Tensor<'float32'>>> {
  const where = 'prune.filters.activationMeans';
  const c = model.config;
  const groups = filterGroups(where, c, opts.layers);
  const g = new Graph(`${c.name}-activation-means`);
  const images = g.input('images', 'float32', ['B', c.inChans, c.imageSize, c.imageSize]);
  const f = buildCnn(g, c, cnnParams(g, c), images, { mode: 'eval' });
  for (const grp of groups) {
    const y = f.values.get(postActivation(c, grp.layer)) as Value;
    g.output(`m:${grp.layer}`, y.shape.length === 4 ? g.Flatten(g.GlobalAveragePool(y), 1) : y);
  }
  const s = await compile(g, opts.session ?? {});
  const parts = new Map<string, Float32Array[]>(groups.map((x) => [x.layer, []]));
  try {
    for (const b of evalBatches(ds, { batchSize: opts.batchSize ?? 500 })) {
      const out = await s.run({ ...model.params, images: b.images });
      for (const grp of groups) parts.get(grp.layer)?.push(Float32Array.from((out[`m:${grp.layer}`] as Tensor<'float32'>).data));
    }
  } finally {
    s.dispose();
  }
  return Object.fromEntries(
    groups.map((grp) => {
      const data = new Float32Array(ds.n * grp.width);
      let at = 0;
      for (const p of parts.get(grp.layer) ?? []) {
        data.set(p, at);
        at += p.length;
      }
      return [grp.layer, { type: 'float32', dims: [ds.n, grp.width], data } as Tensor<'float32'>];
    }),
  );
}

export interface EntropyOptions {
  readonly layers?: readonly string[];
  /** Histogram bins m (default 100). */
  readonly bins?: number;
  /** Images n of the class-balanced subset of `ds` (default 1000). */
  readonly images?: number;
  readonly batchSize?: number;
  readonly session?: SessionOptions;
}

/** Entropy scores per layer on a fixed class-balanced subset of `ds` (default m = 100 bins, n = 1000 images). */
export async function entropyScoresOf(model: CnnModel, ds: Dataset, opts: EntropyOptions = {}): Promise<Record<string, Float64Array>> {
  const sub = balancedSubset(ds, opts.images ?? 1000);
  const m = await activationMeans(model, sub, opts);
  return Object.fromEntries(Object.entries(m).map(([layer, t]) => [layer, entropyScores(t, opts.bins ?? 100)]));
}
