import type { Graph } from '../graph/builder.js';
import { gelu, layerNorm, linear } from '../graph/nn.js';
import type { Dim, Value } from '../graph/types.js';
import { fmtDims, ShapeError } from '../tensor/errors.js';
import type { VitConfig } from './config.js';
import { type AttnKey, type BlockKey, type MlpKey, type Params, type PatchEmbedKey, scope } from './params.js';

/**
 * Patch embedding: Conv(P×P, stride P) → tokens, CLS prepended, positions added.
 * images [B, C, H, W] → [B, 1 + HW/P², D].
 */
export function patchEmbed(g: Graph, p: Params<PatchEmbedKey>, cls: Value, pos: Value, images: Value, c: VitConfig): Value {
  return g.scope('patch_embed', () => {
    const want = [c.inChans, c.imageSize, c.imageSize];
    if (images.shape.length !== 4 || images.shape.slice(1).some((d, i) => d !== want[i])) {
      throw new ShapeError('patchEmbed', `image must be [B, ${want.join(', ')}] float32, got ${fmtDims(images.shape)} ${images.dtype}`);
    }
    const grid = g.Conv(images, p['proj.weight'], p['proj.bias'], { strides: [c.patchSize, c.patchSize] }); // [B, D, h, w]
    const tokens = g.Transpose(g.Reshape(grid, [0, c.dim, -1]), [0, 2, 1]); // [B, N−1, D]
    const batch = images.shape[0] as Dim;
    const clsB = g.Expand(cls, [batch, 1, c.dim]); // [B, 1, D]
    return g.Add(g.Concat([clsB, tokens], 1), pos);
  });
}

export interface AttentionOptions {
  /** Additive bias on the attention logits, broadcast to [B, H, N, N] (e.g. −10000 on dropped keys). */
  readonly bias?: Value;
  /**
   * Multiplicative key gate [B, 1, 1, N], applied after the softmax and renormalised: attn_ij ∝
   * softmax_j · gate_j. A 0/1 gate gives the same attention as a −10000 bias on the zeros; unlike the
   * bias it is differentiable at 0 (the first-order effect of restoring a key). CLS must stay open.
   */
  readonly gate?: Value;
}

/**
 * Multi-head self-attention (timm layout: one qkv Linear, scale head_dim^−½).
 * x [B, N, D] → y [B, N, D], and clsAttn [B, N]: the CLS query's attention row averaged over heads
 * (what EViT-style pruning ranks tokens by).
 */
export function attention(g: Graph, p: Params<AttnKey>, x: Value, heads: number, opts: AttentionOptions = {}): { y: Value; clsAttn: Value } {
  return g.scope('attn', () => {
    const d = x.shape[2] as number;
    const dh = d / heads;
    const qkv = linear(g, x, p['qkv.weight'], p['qkv.bias']); // [B, N, 3D]
    const parts = g.Transpose(g.Reshape(qkv, [0, 0, 3, heads, dh]), [2, 0, 3, 1, 4]); // [3, B, H, N, dh]
    const [q, k, v] = g.Split(parts, [1, 1, 1], 0).map((t) => g.Squeeze(t, [0])) as [Value, Value, Value];
    let logits = g.MatMul(g.scale(q, dh ** -0.5), g.Transpose(k, [0, 1, 3, 2])); // [B, H, N, N]
    if (opts.bias) logits = g.Add(logits, opts.bias);
    let attn = g.Softmax(logits, -1);
    if (opts.gate) {
      const gated = g.Mul(attn, opts.gate);
      attn = g.Div(gated, g.ReduceSum(gated, [3], true));
    }
    const out = g.Reshape(g.Transpose(g.MatMul(attn, v), [0, 2, 1, 3]), [0, 0, d]); // [B, N, D]
    const clsAttn = g.ReduceMean(g.Slice(attn, [0], [1], [2]), [1, 2], false); // [B, N]
    return { y: linear(g, out, p['proj.weight'], p['proj.bias']), clsAttn };
  });
}

/** Linear → GELU → Linear. x [B, N, D] → [B, N, D]. */
export function mlp(g: Graph, p: Params<MlpKey>, x: Value, kind: VitConfig['gelu']): Value {
  return g.scope('mlp', () => linear(g, gelu(g, linear(g, x, p['fc1.weight'], p['fc1.bias']), kind), p['fc2.weight'], p['fc2.bias']));
}

/**
 * Pre-LN transformer block: x + attn(norm1(x)), then + mlp(norm2(·)).
 * x [B, N, D] → out [B, N, D], plus the block's clsAttn [B, N].
 */
export function block(g: Graph, p: Params<BlockKey>, x: Value, c: VitConfig, opts: AttentionOptions = {}): { out: Value; clsAttn: Value } {
  const a = attention(g, scope(p, 'attn'), layerNorm(g, x, p['norm1.weight'], p['norm1.bias'], c.lnEps), c.heads, opts);
  const h = g.Add(x, a.y);
  const out = g.Add(h, mlp(g, scope(p, 'mlp'), layerNorm(g, h, p['norm2.weight'], p['norm2.bias'], c.lnEps), c.gelu));
  return { out, clsAttn: a.clsAttn };
}

/** Final LayerNorm, CLS token, classifier. x [B, N, D] → logits [B, classes]. */
export function head(g: Graph, norm: Params<'weight' | 'bias'>, fc: Params<'weight' | 'bias'>, x: Value, c: VitConfig): Value {
  return g.scope('head', () => {
    // LayerNorm is per token, so norming only the CLS row equals timm's norm-then-slice.
    const cls = g.Squeeze(g.Slice(x, [0], [1], [1]), [1]); // [B, D]
    return linear(g, layerNorm(g, cls, norm.weight, norm.bias, c.lnEps), fc.weight, fc.bias);
  });
}
