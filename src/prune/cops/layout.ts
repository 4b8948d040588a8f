/**
 * Per-layer score records ↔ one global vector, in model order (specs/cops.md §1: conv and linear
 * weights only, flattened row-major in layer order; never biases or norm parameters), plus the
 * ℓ1 normalisation of §2 and the keep count k of §1.
 */

import type { CnnConfig } from '../../cnn/config.js';
import { cnnParamShapes } from '../../cnn/params.js';
import { ShapeError, ValueError } from '../../tensor/errors.js';
import { checkScore } from './scan.js';

/** Scores (or masks) per prunable weight, keyed by parameter name (`fc1.weight`): numel values, row-major. */
export type LayerRecord<T extends Float64Array | Uint8Array = Float64Array> = Record<string, T>;

/** Where each layer's block sits in the global vector. */
export interface ScoreLayout {
  readonly names: readonly string[];
  /** PyTorch dims of each weight ([out, in] or [out, in, kh, kw]). */
  readonly dims: readonly (readonly number[])[];
  readonly offsets: readonly number[];
  readonly sizes: readonly number[];
  /** Total weights, Σ sizes. */
  readonly d: number;
}

/** The prunable weights of a CNN config (conv and linear `.weight`), in layer order. */
export function prunableLayout(c: CnnConfig): ScoreLayout {
  const linearOrConv = new Set(c.layers.filter((l) => l.kind === 'conv' || l.kind === 'linear').map((l) => `${l.name}.weight`));
  const ws = cnnParamShapes(c).filter((s) => linearOrConv.has(s.name));
  return makeLayout(
    ws.map((s) => s.name),
    ws.map((s) => s.dims),
  );
}

function makeLayout(names: readonly string[], dims: readonly (readonly number[])[]): ScoreLayout {
  const sizes = dims.map((d) => d.reduce((p, x) => p * x, 1));
  const offsets: number[] = [];
  let d = 0;
  for (const s of sizes) {
    offsets.push(d);
    d += s;
  }
  return { names, dims, offsets, sizes, d };
}

/** The layout of a record, in its key order (the order the score functions produce), as flat blocks. */
export function layoutOf(rec: Readonly<Record<string, ArrayLike<number>>>): ScoreLayout {
  const names = Object.keys(rec);
  return makeLayout(
    names,
    names.map((n) => [(rec[n] as ArrayLike<number>).length]),
  );
}

/** One vector of every layer's values, in layout order. Throws ShapeError naming a missing or mis-sized layer. */
export function flatten(rec: Readonly<LayerRecord>, layout: ScoreLayout = layoutOf(rec)): Float64Array {
  const out = new Float64Array(layout.d);
  layout.names.forEach((name, j) => {
    const v = rec[name];
    if (!v) throw new ShapeError('cops.flatten', `no values for layer '${name}'; the record has ${Object.keys(rec).join(', ')}`);
    if (v.length !== layout.sizes[j]) throw new ShapeError('cops.flatten', `layer '${name}' has ${v.length} values, the layout expects ${layout.sizes[j]}`);
    out.set(v, layout.offsets[j] as number);
  });
  return out;
}

/** Per-layer views (no copy) of a global vector (scores or a mask): the inverse of `flatten`. */
export function unflatten<T extends Float64Array | Uint8Array>(vec: T, layout: ScoreLayout): LayerRecord<T> {
  if (vec.length !== layout.d) throw new ShapeError('cops.unflatten', `vector has ${vec.length} values, the layout has d = ${layout.d}`);
  const out: LayerRecord<T> = {};
  layout.names.forEach((name, j) => {
    const at = layout.offsets[j] as number;
    out[name] = vec.subarray(at, at + (layout.sizes[j] as number)) as T;
  });
  return out;
}

/** ŝ = s / Σ|s_i| in float64 (§2). Throws ValueError for NaN, ±Inf or an all-zero score. */
export function normalize(s: Float64Array, where = 'cops.normalize'): Float64Array {
  const l1 = checkScore(where, 'score', s);
  const out = new Float64Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = (s[i] as number) / l1;
  return out;
}

/** Global ℓ1 normalisation of a per-layer record (one Σ|s| over all layers, as the flattened vector). */
export function normalizeScores(rec: Readonly<LayerRecord>): LayerRecord {
  const layout = layoutOf(rec);
  return unflatten(normalize(flatten(rec, layout), 'cops.normalizeScores'), layout);
}

/**
 * Weights kept at sparsity σ (fraction pruned): k = clamp(floor((1 − σ)·d + 0.5), 1, d). Rounded,
 * never truncated: (1 − 0.9)·1000 is 99.99999999999997 in float64 and gives k = 100.
 */
export function keepCount(d: number, sparsity: number): number {
  if (!Number.isInteger(d) || d < 1) throw new ValueError('cops.keepCount', `d must be a positive integer, got ${d}`);
  if (!(sparsity >= 0 && sparsity <= 1)) throw new ValueError('cops.keepCount', `sparsity must be in [0, 1], got ${sparsity}`);
  return Math.min(d, Math.max(1, Math.floor((1 - sparsity) * d + 0.5)));
}
