import type { Graph } from '../graph/builder.js';
import type { Value } from '../graph/types.js';
import type { Params } from '../vit/params.js';
import type { ScorerKey } from './params.js';
import { prunerLogits } from './scorer.js';
import { allTokens, decideMask } from './tokens.js';

/**
 * The attention-prior extension's loss for one cut (not in APT): the pruner is taught EViT's
 * decision on the plain forward — label drop for every patch token outside the `count` tokens (CLS
 * included) the cut block's CLS attends to most, keep for those inside — by the same 2-class
 * cross-entropy its reward-sign labels use, averaged over the N − 1 patch tokens (CLS is never
 * decided). h [B, N, D] is the cut block's output, clsAttn [B, N] its CLS attention row (both
 * detached here: the loss reaches the pruner only). Returns a scalar.
 */
export function attentionPriorLoss(g: Graph, scorer: Params<ScorerKey>, h: Value, clsAttn: Value, count: number): Value {
  return g.scope('attention-prior', () => {
    const x = g.StopGradient(h);
    const all = allTokens(g, x);
    const keep = decideMask(g, { kind: 'evit', keep: [count] }, count, { tokens: x, clsAttn: g.StopGradient(clsAttn), keep: all.keep, index: all.index });
    const target = g.Concat([g.Unsqueeze(keep, [2]), g.Unsqueeze(g.Sub(g.constLike(keep, 1), keep), [2])], 2); // [B, N, 2]: keep, drop
    const nll = g.Neg(g.ReduceSum(g.Mul(g.LogSoftmax(prunerLogits(g, scorer, x), 2), target), [2], false)); // [B, N]
    const n = h.shape[1] as number;
    return g.ReduceMean(g.Slice(nll, [1], [n], [1]), [0, 1], false);
  });
}
