import type { Graph } from '../../graph/builder.js';
import { layerNorm, linear } from '../../graph/nn.js';
import type { Value } from '../../graph/types.js';
import { fmtDims, ShapeError } from '../../tensor/errors.js';
import type { LayerNormKey, LinearKey, Params } from '../params.js';
import { type SretConfig, stageDim } from './config.js';
import type { PoolKey, StemKey } from './params.js';

/** BN epsilon of the stem (PyTorch's BatchNorm2d default); momentum 0.1 is applied in TS. */
export const BN_EPS = 1e-5;

/** Batch statistics of one stem BN in training (`bn: 'train'`): mean and biased variance [C]. */
export interface BnBatchStats {
  /** `patch_embed.bn<i>` */
  readonly key: string;
  readonly mean: Value;
  readonly variance: Value;
}

/**
 * Conv stem (spec §2.1): 3 × [Conv3×3 (stride `stemStrides[i]`, pad 1, bias) → BN → ReLU],
 * channels inChans → C0/2 → C0 → C0. images [B, C, H, W] → [B, C0, H/Πs, W/Πs] (≥ 0).
 * With `batchStats` (training with `bn: 'train'`) BN normalises by batch statistics and returns
 * them; otherwise it uses the running statistics.
 */
export function convStem(
  g: Graph,
  p: Params<StemKey>,
  images: Value,
  c: SretConfig,
  opts: { readonly batchStats?: boolean } = {},
): { y: Value; stats: BnBatchStats[] } {
  const want = [c.inChans, c.imageSize, c.imageSize];
  if (images.shape.length !== 4 || images.shape.slice(1).some((d, i) => d !== want[i])) {
    throw new ShapeError('convStem', `image must be [B, ${want.join(', ')}] float32, got ${fmtDims(images.shape)} ${images.dtype}`);
  }
  const stats: BnBatchStats[] = [];
  let x = images;
  for (const i of [1, 2, 3] as const) {
    const s = c.stemStrides[i - 1] as number;
    x = g.Conv(x, p[`conv${i}.weight`], p[`conv${i}.bias`], { strides: [s, s], pads: [1, 1, 1, 1] });
    const bn = [p[`bn${i}.weight`], p[`bn${i}.bias`], p[`bn${i}.running_mean`], p[`bn${i}.running_var`]] as const;
    const outs = g.BatchNormalization(x, ...bn, { epsilon: BN_EPS, training: opts.batchStats ?? false });
    if (opts.batchStats) stats.push({ key: `patch_embed.bn${i}`, mean: outs[1] as Value, variance: outs[2] as Value });
    x = g.Relu(outs[0] as Value);
  }
  return { y: x, stats };
}

/** [B, D, H, W] → tokens [B, H·W, D], row-major (t = row·W + col). */
export function gridToTokens(g: Graph, x: Value): Value {
  return g.Transpose(g.Reshape(x, [0, 0, -1]), [0, 2, 1]);
}

/** tokens [B, H·W, D] → [B, D, H, W]. */
export function tokensToGrid(g: Graph, x: Value, h: number, w: number): Value {
  return g.Reshape(g.Transpose(x, [0, 2, 1]), [0, 0, h, w]);
}

/**
 * Stage pool (spec §2.7): depthwise-grouped Conv3×3, stride 2, pad 1, `group = D_s`, weight
 * [D_{s+1}, 1, 3, 3] + bias. [B, D_s, H, W] → [B, D_{s+1}, ⌈H/2⌉, ⌈W/2⌉]; output channel o reads
 * input channel ⌊o·D_s/D_{s+1}⌋.
 */
export function stagePool(g: Graph, p: Params<PoolKey>, x: Value): Value {
  const d = x.shape[1];
  if (x.shape.length !== 4 || typeof d !== 'number') throw new ShapeError('stagePool', `x must be [B, D, H, W] with static D, got ${fmtDims(x.shape)}`);
  return g.Conv(x, p['conv.weight'], p['conv.bias'], { strides: [2, 2], pads: [1, 1, 1, 1], group: d });
}

/** Width of the tokens entering stage s + 1 (the pool's output channels). */
export function poolOut(c: SretConfig, s: number): number {
  return stageDim(c, s + 1);
}

/**
 * Head (spec §2.8): mean over tokens (GAP, no CLS) → LayerNorm → Linear. x [B, N', D] → logits
 * [B, K]; any N′ (token order does not matter).
 */
export function forwardHead(g: Graph, norm: Params<LayerNormKey>, head: Params<LinearKey>, x: Value, lnEps: number): Value {
  return g.scope('head', () => linear(g, layerNorm(g, g.ReduceMean(x, [1], false), norm.weight, norm.bias, lnEps), head.weight, head.bias));
}
