import { Graph } from '../graph/builder.js';
import { correctCount, softmaxCrossEntropy } from '../graph/nn.js';
import type { Value } from '../graph/types.js';
import { addGradients } from '../train/step.js';
import { block, head, patchEmbed } from './blocks.js';
import type { VitConfig } from './config.js';
import { type Params, scope, type VitKey, vitParams } from './params.js';

/** Where token pruning plugs into the forward pass. */
export interface ForwardHooks {
  /** Additive attention-logit bias for block i (e.g. −10000 on masked keys), or undefined. */
  readonly attnBias?: (i: number) => Value | undefined;
  /** Multiplicative key gate for block i ([B, 1, 1, N], see `attention`), or undefined. */
  readonly attnGate?: (i: number) => Value | undefined;
  /** Sees block i's output [B, N, D] and CLS attention [B, N]; may return a replacement (e.g. kept tokens only). */
  readonly afterBlock?: (i: number, out: Value, clsAttn: Value) => Value | undefined;
  /** First block to run (default 0); with `start > 0`, `images` is ignored and `tokens` is block start's input. */
  readonly start?: number;
  readonly tokens?: Value;
}

export interface Features {
  /** Final token states [B, N', D]. */
  readonly tokens: Value;
  /** Per block: its output before any hook replaced it. */
  readonly blockOutputs: readonly Value[];
  /** Per block: CLS attention row averaged over heads [B, N]. */
  readonly clsAttn: readonly Value[];
}

/** Patch embedding and blocks (timm's forward_features without the final norm). */
export function forwardFeatures(g: Graph, p: Params<VitKey>, images: Value | null, c: VitConfig, hooks: ForwardHooks = {}): Features {
  const start = hooks.start ?? 0;
  let x = start > 0 || !images ? (hooks.tokens as Value) : patchEmbed(g, scope(p, 'patch_embed'), p.cls_token, p.pos_embed, images, c);
  const blockOutputs: Value[] = [];
  const clsAttn: Value[] = [];
  for (let i = start; i < c.depth; i++) {
    const r = g.scope(`blocks.${i}`, () => block(g, scope(p, `blocks.${i}`), x, c, { bias: hooks.attnBias?.(i), gate: hooks.attnGate?.(i) }));
    blockOutputs.push(r.out);
    clsAttn.push(r.clsAttn);
    x = hooks.afterBlock?.(i, r.out, r.clsAttn) ?? r.out;
  }
  return { tokens: x, blockOutputs, clsAttn };
}

/** Logits [B, classes] of a ViT for images [B, C, H, W] (both graph values). */
export function classify(g: Graph, p: Params<VitKey>, images: Value | null, c: VitConfig, hooks: ForwardHooks = {}): { logits: Value; features: Features } {
  const features = forwardFeatures(g, p, images, c, hooks);
  return { logits: head(g, scope(p, 'norm'), scope(p, 'head'), features.tokens, c), features };
}

/** The inference graph: input `images` [B, C, H, W], parameters by timm key, output `logits`. */
export function inferenceGraph(c: VitConfig): Graph {
  const g = new Graph(`${c.name}-forward`);
  const images = g.input('images', 'float32', ['B', c.inChans, c.imageSize, c.imageSize]);
  const p = vitParams(g, c);
  g.output('logits', classify(g, p, images, c).logits);
  return g;
}

export interface TrainGraphOptions {
  /** Label smoothing ε of the cross-entropy (the reference recipe uses 0.1). */
  readonly labelSmoothing?: number;
}

/**
 * The training graph: inputs `images` [B, C, H, W] and `labels` [B] int64; outputs `loss` (mean
 * smoothed cross-entropy), `correct` (top-1 hits in the batch) and `grad:<key>` for every parameter.
 */
export function trainGraph(c: VitConfig, opts: TrainGraphOptions = {}): Graph {
  const g = new Graph(`${c.name}-train`);
  const images = g.input('images', 'float32', ['B', c.inChans, c.imageSize, c.imageSize]);
  const labels = g.input('labels', 'int64', ['B']);
  const p = vitParams(g, c);
  const { logits } = classify(g, p, images, c);
  const loss = softmaxCrossEntropy(g, logits, labels, { labelSmoothing: opts.labelSmoothing ?? 0 });
  g.output('correct', correctCount(g, logits, labels));
  addGradients(g, loss, p);
  return g;
}
