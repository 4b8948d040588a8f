import type { Graph } from '../graph/builder.js';
import { linear } from '../graph/nn.js';
import type { Value } from '../graph/types.js';
import type { Params } from '../vit/params.js';
import type { ScorerKey } from './params.js';

/**
 * The APT pruner: a bilinear scorer of each token and its interaction with CLS, on the detached
 * block output. x [B, N, D] → logits [B, N, 2] (index 0 = keep, 1 = drop):
 *   q = W_q·x_CLS + b_q,  k_j = W_k·x_j + b_k,  v_j = W_v·x_j + b_v,
 *   z_j = concat(v_j, q ⊙ k_j),  l_j = W_f·z_j + b_f   (no activation, no normalisation)
 */
export function prunerLogits(g: Graph, p: Params<ScorerKey>, x: Value): Value {
  return g.scope('pruner', () => {
    const h = g.StopGradient(x);
    const q = linear(g, g.Slice(h, [0], [1], [1]), p['query.weight'], p['query.bias']); // [B, 1, D]
    const k = linear(g, h, p['key.weight'], p['key.bias']); // [B, N, D]
    const v = linear(g, h, p['value.weight'], p['value.bias']);
    const z = g.Concat([v, g.Mul(q, k)], 2); // [B, N, 2D]
    return linear(g, z, p['fc.weight'], p['fc.bias']); // [B, N, 2]
  });
}

/** P(drop) = softmax(l)[…, 1] = σ(l₁ − l₀). logits [B, N, 2] → [B, N]. */
export function dropProbability(g: Graph, logits: Value): Value {
  return g.Squeeze(g.Slice(g.Softmax(logits, -1), [1], [2], [2]), [2]);
}

/**
 * l₁ − l₀ of `prunerLogits`, the drop logit (P(drop) = σ(l₁ − l₀)), by an exact refactoring that
 * skips the [B, N, D] key and value projections: with w = W_f[1] − W_f[0] split into w_v and w_k,
 *   l₁ − l₀ = w_v·v_j + w_k·(q ⊙ k_j) + Δb = (w_v·W_v + t·W_k)·x_j + w_v·b_v + t·b_k + Δb,  t = w_k ⊙ q,
 * so each sample needs one D-vector u = w_v·W_v + t·W_k and each token one dot product x_j·u:
 * 2D² + 2D + N·D multiply-adds per sample instead of D² + 2N·D² + 5N·D. Same decisions as
 * thresholding P(drop) (σ is monotonic), up to float rounding at the threshold itself.
 * x [B, N, D] → [B, N].
 */
export function dropLogit(g: Graph, p: Params<ScorerKey>, x: Value): Value {
  return g.scope('pruner', () => {
    const h = g.StopGradient(x);
    const dim = x.shape[2] as number;
    const row = (t: Value, i: number) => g.Slice(t, [i], [i + 1], [0]);
    const w = g.Sub(row(p['fc.weight'], 1), row(p['fc.weight'], 0)); // [1, 2D]
    const [wv, wk] = [g.Slice(w, [0], [dim], [1]), g.Slice(w, [dim], [2 * dim], [1])]; // [1, D] each
    const db = g.Sub(row(p['fc.bias'], 1), row(p['fc.bias'], 0)); // [1]
    const q = linear(g, g.Squeeze(g.Slice(h, [0], [1], [1]), [1]), p['query.weight'], p['query.bias']); // [B, D]
    const t = g.Mul(q, wk); // [B, D]
    const u = g.Add(g.MatMul(t, p['key.weight']), g.MatMul(wv, p['value.weight'])); // [B, D]
    const sum = (a: Value, b: Value) => g.ReduceSum(g.Mul(a, b), [1], true);
    const bias = g.Add(g.Add(sum(t, p['key.bias']), sum(wv, p['value.bias'])), db); // [B, 1]
    return g.Add(g.Squeeze(g.MatMul(h, g.Unsqueeze(u, [2])), [2]), bias); // [B, N]
  });
}
