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
