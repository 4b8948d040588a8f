import type { Graph } from '../../graph/builder.js';
import type { Value } from '../../graph/types.js';
import type { Rng } from '../../tensor/rng.js';
import { full, type Tensor, zeros } from '../../tensor/tensor.js';
import type { AttnKey, LayerNormKey, LinearKey, MlpKey, Params } from '../params.js';
import { hiddenDims, loops, type SretConfig, STAGES, stageDim, stageGrids } from './config.js';

export type ConvKey = `conv${1 | 2 | 3}.${LinearKey}`;
export type BnAffineKey = `bn${1 | 2 | 3}.${'weight' | 'bias'}`;
export type BnBufferKey = `bn${1 | 2 | 3}.${'running_mean' | 'running_var'}`;
/** Trainable stem parameters (timm leaf names under `patch_embed.`). */
export type StemParamKey = ConvKey | BnAffineKey;
/** Everything the stem graph reads: parameters and BN running statistics. */
export type StemKey = StemParamKey | BnBufferKey;
/** LRC scalars α1..α4 (block) / β1, β2 (NLL), each a [1] tensor named `coefficient<i>.bias`. */
export type CoefKey<N extends number> = `coefficient${N}.bias`;
export type SharedBlockKey = `norm1.${LayerNormKey}` | `attn.${AttnKey}` | `norm2.${LayerNormKey}` | `mlp.${MlpKey}` | CoefKey<1 | 2 | 3 | 4>;
export type NllKey = `norm1.${LayerNormKey}` | `mlp.${MlpKey}` | CoefKey<1 | 2>;
/** Keys under `transformers.<s>.`: shared block k at `blocks.<2Lk>`, NLL j at `blocks.<2j+1>`. */
export type StageKey = `blocks.${number}.${SharedBlockKey | NllKey}`;
export type PoolKey = `conv.${LinearKey}`;
/** Every parameter key of an SReT (the reference checkpoint's keys, shared blocks once). */
export type SretKey =
  | `patch_embed.${StemParamKey}`
  | 'pos_embed'
  | `transformers.${number}.${StageKey}`
  | `pools.${number}.${PoolKey}`
  | `norm.${LayerNormKey}`
  | `head.${LinearKey}`;
/** Stem BatchNorm running statistics (buffers, not trained by the optimizer). */
export type SretBufferKey = `patch_embed.${BnBufferKey}`;

type Shapes = [string, number[]][];

function linearShapes(prefix: string, out: number, inp: number): Shapes {
  return [
    [`${prefix}.weight`, [out, inp]],
    [`${prefix}.bias`, [out]],
  ];
}

function normShapes(prefix: string, d: number): Shapes {
  return [
    [`${prefix}.weight`, [d]],
    [`${prefix}.bias`, [d]],
  ];
}

/** The shared block's keys and shapes under `prefix` (α last). */
export function sharedBlockShapes(prefix: string, d: number, hidden: number, qkvBias: boolean): Shapes {
  const qkv: Shapes = qkvBias ? linearShapes(`${prefix}.attn.qkv`, 3 * d, d) : [[`${prefix}.attn.qkv.weight`, [3 * d, d]]];
  return [
    ...normShapes(`${prefix}.norm1`, d),
    ...qkv,
    ...linearShapes(`${prefix}.attn.proj`, d, d),
    ...normShapes(`${prefix}.norm2`, d),
    ...linearShapes(`${prefix}.mlp.fc1`, hidden, d),
    ...linearShapes(`${prefix}.mlp.fc2`, d, hidden),
    ...[1, 2, 3, 4].map((i): [string, number[]] => [`${prefix}.coefficient${i}.bias`, [1]]),
  ];
}

/** The NLL's keys and shapes under `prefix` (β last). */
export function nllShapes(prefix: string, d: number, hidden: number): Shapes {
  return [
    ...normShapes(`${prefix}.norm1`, d),
    ...linearShapes(`${prefix}.mlp.fc1`, hidden, d),
    ...linearShapes(`${prefix}.mlp.fc2`, d, hidden),
    [`${prefix}.coefficient1.bias`, [1]],
    [`${prefix}.coefficient2.bias`, [1]],
  ];
}

/** Stem keys in module order; with `buffers`, the BN running statistics too. */
function stemShapes(c: SretConfig, buffers: boolean): Shapes {
  const c0 = stageDim(c, 0);
  const chans = [c.inChans, c0 / 2, c0, c0];
  return [1, 2, 3].flatMap((i): Shapes => {
    const [cin, cout] = [chans[i - 1] as number, chans[i] as number];
    const bn: Shapes = buffers
      ? [
          [`patch_embed.bn${i}.running_mean`, [cout]],
          [`patch_embed.bn${i}.running_var`, [cout]],
        ]
      : normShapes(`patch_embed.bn${i}`, cout);
    return buffers ? bn : [[`patch_embed.conv${i}.weight`, [cout, cin, 3, 3]], [`patch_embed.conv${i}.bias`, [cout]], ...bn];
  });
}

/** Trainable parameters (de-duplicated keys) and their shapes, in the reference's module order. */
export function paramShapes(c: SretConfig): Shapes {
  const grids = stageGrids(c);
  const out: Shapes = [['pos_embed', [1, stageDim(c, 0), grids[0], grids[0]]], ...stemShapes(c, false)];
  for (const s of STAGES) {
    const d = stageDim(c, s);
    const h = hiddenDims(c, s);
    const L = loops(c, s);
    for (let k = 0; k < (c.uniqueBlocks[s] as number); k++) out.push(...sharedBlockShapes(`transformers.${s}.blocks.${2 * L * k}`, d, h.mlp, c.qkvBias));
    for (let j = 0; j < (c.depth[s] as number); j++) out.push(...nllShapes(`transformers.${s}.blocks.${2 * j + 1}`, d, h.nll));
  }
  for (const s of [0, 1]) {
    const d2 = stageDim(c, s + 1);
    out.push([`pools.${s}.conv.weight`, [d2, 1, 3, 3]], [`pools.${s}.conv.bias`, [d2]]);
  }
  const d3 = stageDim(c, 2);
  out.push(...normShapes('norm', d3), ...linearShapes('head', c.numClasses, d3));
  return out;
}

/** BN running statistics of the stem (`patch_embed.bn<i>.running_{mean,var}`). */
export function bufferShapes(c: SretConfig): Shapes {
  return stemShapes(c, true);
}

/**
 * The reference checkpoint's repeats of shared blocks: key at `blocks.<2Lk + 2r>` (r ≥ 1) → the
 * first copy's key at `blocks.<2Lk>`.
 */
export function duplicateKeys(c: SretConfig): Map<string, string> {
  const out = new Map<string, string>();
  for (const s of STAGES) {
    const d = stageDim(c, s);
    const L = loops(c, s);
    for (let k = 0; k < (c.uniqueBlocks[s] as number); k++) {
      const first = sharedBlockShapes(`transformers.${s}.blocks.${2 * L * k}`, d, 1, c.qkvBias).map(([key]) => key);
      for (let r = 1; r < L; r++) {
        const pre = `transformers.${s}.blocks.${2 * L * k}.`;
        const rep = `transformers.${s}.blocks.${2 * (L * k + r)}.`;
        for (const key of first) out.set(rep + key.slice(pre.length), key);
      }
    }
  }
  return out;
}

/** Declares every parameter and buffer of `c` as a graph param (fed at run time). */
export function sretParams(g: Graph, c: SretConfig): { params: Params<SretKey>; buffers: Params<SretBufferKey> } {
  const params: Record<string, Value> = {};
  for (const [k, dims] of paramShapes(c)) params[k] = g.param(k, dims);
  const buffers: Record<string, Value> = {};
  for (const [k, dims] of bufferShapes(c)) buffers[k] = g.param(k, dims);
  return { params: params as Params<SretKey>, buffers: buffers as Params<SretBufferKey> };
}

/** Parameter count per part (spec §5.10; BN buffers excluded). */
export function paramBreakdown(c: SretConfig): { stem: number; pos: number; blocks: number; nll: number; pools: number; head: number; total: number } {
  const parts = { stem: 0, pos: 0, blocks: 0, nll: 0, pools: 0, head: 0, total: 0 };
  for (const [k, dims] of paramShapes(c)) {
    const n = dims.reduce((p, d) => p * d, 1);
    const m = /^transformers\.(\d+)\.blocks\.(\d+)\./.exec(k);
    const part = k.startsWith('patch_embed.')
      ? 'stem'
      : k === 'pos_embed'
        ? 'pos'
        : m
          ? Number(m[2]) % 2 === 1
            ? 'nll'
            : 'blocks'
          : k.startsWith('pools.')
            ? 'pools'
            : 'head';
    parts[part] += n;
    parts.total += n;
  }
  return parts;
}

/** Total trainable parameters (shared blocks counted once; SReT-T: 4,755,979). */
export function countParams(c: SretConfig): number {
  return paramBreakdown(c).total;
}

/**
 * Initial parameters (spec §3): PyTorch's default U(±1/√fan_in) for every conv and linear weight
 * and bias (not DeiT's trunc-normal), LayerNorm and BN 1/0, α/β 1, pos_embed trunc-normal(.02).
 * Draw order follows `paramShapes`. Returns the parameters and the BN buffers (mean 0, var 1).
 */
export function initParams(c: SretConfig, rng: Rng): { params: Record<string, Tensor<'float32'>>; buffers: Record<string, Tensor<'float32'>> } {
  const params: Record<string, Tensor<'float32'>> = {};
  const fanIn = new Map<string, number>();
  for (const [k, dims] of paramShapes(c))
    if (k.endsWith('.weight') && dims.length >= 2)
      fanIn.set(
        k.slice(0, -'.weight'.length),
        dims.slice(1).reduce((p, d) => p * d, 1),
      );
  for (const [k, dims] of paramShapes(c)) {
    const owner = k.slice(0, k.lastIndexOf('.'));
    const fan = fanIn.get(owner);
    if (k === 'pos_embed') {
      const t = zeros(dims);
      for (let i = 0; i < t.data.length; i++) t.data[i] = rng.truncNormal(0, 0.02, -2, 2);
      params[k] = t;
    } else if (/\.coefficient\d\.bias$/.test(k)) params[k] = full(dims, 1, 'float32');
    else if (fan !== undefined) {
      const bound = 1 / Math.sqrt(fan);
      params[k] = { type: 'float32', dims, data: rng.fillUniform(new Float32Array(dims.reduce((p, d) => p * d, 1)), -bound, bound) };
    } else params[k] = k.endsWith('.weight') ? full(dims, 1, 'float32') : zeros(dims);
  }
  const buffers: Record<string, Tensor<'float32'>> = {};
  for (const [k, dims] of bufferShapes(c)) buffers[k] = k.endsWith('running_var') ? full(dims, 1, 'float32') : zeros(dims);
  return { params, buffers };
}
