import type { Graph } from '../graph/builder.js';
import type { Value } from '../graph/types.js';
import { CheckpointError, DTypeError, fmtDims, ShapeError } from '../tensor/errors.js';
import type { Rng } from '../tensor/rng.js';
import { full, numel, type Tensor, zeros } from '../tensor/tensor.js';
import { mlpDim, numTokens, type VitConfig } from './config.js';

export type LayerNormKey = 'weight' | 'bias';
export type LinearKey = 'weight' | 'bias';
export type AttnKey = `qkv.${LinearKey}` | `proj.${LinearKey}`;
export type MlpKey = `fc1.${LinearKey}` | `fc2.${LinearKey}`;
export type BlockKey = `norm1.${LayerNormKey}` | `attn.${AttnKey}` | `norm2.${LayerNormKey}` | `mlp.${MlpKey}`;
export type PatchEmbedKey = `proj.${LinearKey}`;
/** Every parameter key of a ViT, spelled as timm spells it. */
export type VitKey = `patch_embed.${PatchEmbedKey}` | 'cls_token' | 'pos_embed' | `blocks.${number}.${BlockKey}` | `norm.${LayerNormKey}` | `head.${LinearKey}`;

/** Graph values of parameters, keyed by timm names; a misspelt key does not compile. */
export type Params<K extends string> = { readonly [P in K]: Value };

/** Keys under `prefix.`, with the prefix removed. */
export type Sub<K extends string, P extends string> = K extends `${P}.${infer R}` ? R : never;

/** Narrows a parameter record to the keys under `prefix` (`scope(p, 'attn')` → `qkv.weight`, …). */
export function scope<K extends string, P extends string>(p: Params<K>, prefix: P): Params<Sub<K, P>> {
  const pre = `${prefix}.`;
  const out: Record<string, Value> = {};
  for (const k of Object.keys(p)) if (k.startsWith(pre)) out[k.slice(pre.length)] = (p as Record<string, Value>)[k] as Value;
  return out as Params<Sub<K, P>>;
}

/** The state dict's keys and shapes, in timm's order. `qkv.bias` only when `qkvBias`. */
export function paramShapes(c: VitConfig): [string, number[]][] {
  const { dim: d, patchSize: p, inChans, numClasses } = c;
  const m = mlpDim(c);
  const out: [string, number[]][] = [
    ['cls_token', [1, 1, d]],
    ['pos_embed', [1, numTokens(c), d]],
    ['patch_embed.proj.weight', [d, inChans, p, p]],
    ['patch_embed.proj.bias', [d]],
  ];
  for (let i = 0; i < c.depth; i++) {
    const b = `blocks.${i}`;
    out.push([`${b}.norm1.weight`, [d]], [`${b}.norm1.bias`, [d]], [`${b}.attn.qkv.weight`, [3 * d, d]]);
    if (c.qkvBias) out.push([`${b}.attn.qkv.bias`, [3 * d]]);
    out.push(
      [`${b}.attn.proj.weight`, [d, d]],
      [`${b}.attn.proj.bias`, [d]],
      [`${b}.norm2.weight`, [d]],
      [`${b}.norm2.bias`, [d]],
      [`${b}.mlp.fc1.weight`, [m, d]],
      [`${b}.mlp.fc1.bias`, [m]],
      [`${b}.mlp.fc2.weight`, [d, m]],
      [`${b}.mlp.fc2.bias`, [d]],
    );
  }
  out.push(['norm.weight', [d]], ['norm.bias', [d]], ['head.weight', [numClasses, d]], ['head.bias', [numClasses]]);
  return out;
}

/** Declares every parameter of `c` as a graph param (fed from the state dict at run time). */
export function vitParams(g: Graph, c: VitConfig): Params<VitKey> {
  const out: Record<string, Value> = {};
  for (const [k, dims] of paramShapes(c)) out[k] = g.param(k, dims);
  return out as Params<VitKey>;
}

export interface InitOptions {
  /** Head weight init: timm's trunc-normal (default) or zeros (the APT source's fine-tuning head). */
  readonly head?: 'trunc-normal' | 'zeros';
}

/**
 * timm-style init: trunc-normal(0.02) on every weight matrix, the patch projection, pos-embed and
 * CLS; biases 0; LayerNorm 1/0. Draw order follows `paramShapes`.
 */
export function initParams(c: VitConfig, rng: Rng, opts: InitOptions = {}): Record<string, Tensor<'float32'>> {
  const out: Record<string, Tensor<'float32'>> = {};
  for (const [k, dims] of paramShapes(c)) {
    const isNorm = /(^|\.)norm\d?\.(weight|bias)$/.test(k);
    if (isNorm) out[k] = k.endsWith('weight') ? full(dims, 1, 'float32') : zeros(dims);
    else if (k.endsWith('.bias') || (k === 'head.weight' && opts.head === 'zeros')) out[k] = zeros(dims);
    else {
      const t = zeros(dims);
      for (let i = 0; i < t.data.length; i++) t.data[i] = rng.truncNormal(0, 0.02, -2, 2);
      out[k] = t;
    }
  }
  return out;
}

/** Validates a state dict against `c`: missing, extra and mis-shaped keys are listed together. */
export function checkStateDict(where: string, c: VitConfig, sd: Readonly<Record<string, Tensor>>): void {
  if (typeof sd !== 'object' || sd === null) throw new CheckpointError(where, `state dict must be an object { key: Tensor }, got ${String(sd)}`);
  const want = new Map(paramShapes(c));
  const missing = [...want.keys()].filter((k) => !(k in sd));
  const extra = Object.keys(sd).filter((k) => !want.has(k));
  if (missing.length > 0 || extra.length > 0) {
    const parts = [missing.length ? `missing ${missing.join(', ')}` : '', extra.length ? `unexpected ${extra.join(', ')}` : ''].filter(Boolean);
    throw new CheckpointError(where, `state dict does not match ${c.name}: ${parts.join('; ')}`);
  }
  const badType: string[] = [];
  const bad: string[] = [];
  for (const [k, dims] of want) {
    const t = sd[k] as Tensor;
    if (t?.type !== 'float32' || !(t.data instanceof Float32Array)) badType.push(`${k}: float32 expected, got ${t?.type}`);
    else if (!Array.isArray(t.dims) || t.dims.length !== dims.length || t.dims.some((d, i) => d !== dims[i])) {
      bad.push(`${k}: ${fmtDims(dims)} expected, got ${Array.isArray(t.dims) ? fmtDims(t.dims) : String(t.dims)}`);
    } else if (t.data.length !== numel(dims)) bad.push(`${k}: ${fmtDims(dims)} needs ${numel(dims)} values, data has ${t.data.length}`);
  }
  if (badType.length > 0) throw new DTypeError(where, `state dict does not match ${c.name}: ${badType.join('; ')}`);
  if (bad.length > 0) throw new ShapeError(where, `state dict does not match ${c.name}: ${bad.join('; ')}`);
}

/** Total number of parameters of `c`. */
export function countParams(c: VitConfig): number {
  return paramShapes(c).reduce((n, [, dims]) => n + dims.reduce((p, d) => p * d, 1), 0);
}
