import type { Graph } from '../graph/builder.js';
import { TO_END } from '../graph/ops/slice-ops.js';
import type { Dim, Value } from '../graph/types.js';

/**
 * EViT's inattentive-token fusion (an extension; APT drops tokens outright). The tokens dropped at a
 * cut are merged into one extra token — their mean weighted by the cut block's CLS attention —
 * that rides at the end of the sequence through the later blocks. At the next cut the fused token
 * joins the newly dropped ones with its own CLS attention as weight, so there is only ever one.
 */

/** The fused slot riding at the end of a sequence. */
export interface FusedSlot {
  /** Its state at the cut [B, 1, D]. */
  readonly token: Value;
  /** The cut block's CLS attention on it [B, 1]. */
  readonly attn: Value;
}

/** Splits a block output [B, n + 1, D] and its CLS attention [B, n + 1] into the real tokens and the fused slot (last). */
export function splitFused(g: Graph, out: Value, clsAttn: Value): { tokens: Value; attn: Value; slot: FusedSlot } {
  return {
    tokens: g.Slice(out, [0], [-1], [1]),
    attn: g.Slice(clsAttn, [0], [-1], [1]),
    slot: { token: g.Slice(out, [-1], [TO_END], [1]), attn: g.Slice(clsAttn, [-1], [TO_END], [1]) },
  };
}

/** Smallest weight sum divided by; a sum of 0 means nothing to fuse (the token stays 0 and dead). */
const TINY = 1e-30;

/**
 * The fused token after a cut: Σ_j w_j·x_j / Σ_j w_j over the tokens dropped here (w = CLS
 * attention) and the previous fused token, if any. `x` [B, n, D], `dropped` [B, n] (1 where the
 * token was alive and is dropped now), `attn` [B, n]. Returns the token [B, 1, D] and whether it is
 * alive [B, 1] (something was fused: Σ w > 0).
 */
export function fuseDropped(g: Graph, x: Value, dropped: Value, attn: Value, prev?: FusedSlot): { token: Value; alive: Value } {
  const w = g.Mul(dropped, attn);
  let num = g.MatMul(g.Unsqueeze(w, [1]), x); // [B, 1, D]
  let den = g.ReduceSum(w, [1], true); // [B, 1]
  if (prev) {
    num = g.Add(num, g.Mul(prev.token, g.Unsqueeze(prev.attn, [2])));
    den = g.Add(den, prev.attn);
  }
  const token = g.Div(num, g.Unsqueeze(g.Max(den, g.constLike(den, TINY)), [2]));
  return { token, alive: g.Cast(g.Greater(den, g.constLike(den, 0)), 'float32') };
}

/** A sequence with the fused token appended: [B, n, D] ⊕ [B, 1, D] → [B, n + 1, D]; masks [B, n] ⊕ [B, 1]. */
export function appendSlot(g: Graph, x: Value, slot: Value): Value {
  return g.Concat([x, slot], 1);
}

/** Ones [B, 1] for a fused slot that is alive by construction (static counts that drop something). */
export function aliveSlot(g: Graph, like: Value): Value {
  return g.ConstantOfShape([like.shape[0] as Dim, 1], 1, 'float32');
}
