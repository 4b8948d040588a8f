import type { Graph } from '../graph/builder.js';
import type { Dim, Value } from '../graph/types.js';
import { arange, tensor } from '../tensor/tensor.js';
import type { Params } from '../vit/params.js';
import type { Strategy } from './config.js';
import type { ScorerKey } from './params.js';
import { dropLogit } from './scorer.js';

/** Additive attention bias from a keep mask [B, N] (1 keep, 0 drop): −10000 on dropped keys, [B, 1, 1, N]. */
export function keyBias(g: Graph, keep: Value): Value {
  return g.Unsqueeze(g.Mul(g.Sub(g.constLike(keep, 1), keep), g.constLike(keep, -10000)), [1, 2]);
}

/**
 * The task-gradient extension's key gate after a cut: previous gate (null before the first cut) ⊙
 * (hard keep + λ·(s − stop(s))), s = 1 − P(drop) of this cut's pruner. Its value is the hard mask
 * [B, N] (the forward is unchanged); its gradient reaches the pruner as λ·∂loss/∂gate — for a kept
 * token the effect of down-weighting it, for a dropped one of restoring it (DynamicViT's
 * straight-through masks, here on APT's hard decisions).
 */
export function straightThroughGate(g: Graph, prev: Value | null, hard: Value, scorer: Params<ScorerKey>, tokens: Value, weight: number): Value {
  const soft = g.Sigmoid(g.Neg(dropLogit(g, scorer, tokens)));
  const st = g.Add(hard, g.scale(g.Sub(soft, g.StopGradient(soft)), weight));
  return prev ? g.Mul(prev, st) : st;
}

/** What a decision at one cut layer may read. */
export interface DecisionInputs {
  /** Block output [B, N, D] at the cut (the pruner detaches it). */
  readonly tokens: Value;
  /** CLS attention of the cut block, averaged over heads [B, N] (EViT's ranking). */
  readonly clsAttn: Value;
  /** Tokens still alive [B, N] (1/0); a decision never revives a dropped token. */
  readonly keep: Value;
  /** Original index of each position [B, N] int64 (CLS = 0). */
  readonly index: Value;
  /** Seeded scores for the `random` baseline [B, N], fed from the host. */
  readonly randomScore?: Value;
  /** This cut's pruner (threshold/budget). */
  readonly pruner?: Params<ScorerKey>;
}

const BIG = 1e9;
/** Larger than any token index, small enough that keep·ORDER − index is exact in float32. */
const ORDER = 1e6;

/** 1 where the token is CLS (original index 0), else 0. [B, N] float. */
function isCls(g: Graph, index: Value): Value {
  return g.Cast(g.Equal(index, g.scalar(0, 'int64')), 'float32');
}

/** Keep-scores of a static-count strategy: CLS forced first, dead tokens last. [B, N]. */
function keepScore(g: Graph, s: Strategy, d: DecisionInputs): Value {
  let score: Value;
  if (s.kind === 'budget')
    score = g.Neg(dropLogit(g, d.pruner as Params<ScorerKey>, d.tokens)); // lowest P(drop) first
  else if (s.kind === 'evit') score = d.clsAttn;
  else score = d.randomScore as Value;
  const cls = g.scale(isCls(g, d.index), BIG);
  const dead = g.Mul(g.Sub(d.keep, g.constLike(d.keep, 1)), g.constLike(d.keep, BIG));
  return g.Add(g.Add(score, cls), dead);
}

/**
 * The keep mask after the decision at one cut, for masked forwards (training, masked inference):
 * threshold — drop where P(drop) > τ (strict: ties keep), CLS never; static counts — keep the top
 * `count` by the strategy's score. Drops accumulate: the result is ≤ `keep`. [B, N] float.
 */
export function decideMask(g: Graph, s: Strategy, count: number, d: DecisionInputs): Value {
  if (s.kind === 'threshold') {
    // P(drop) > τ  ⟺  l₁ − l₀ > logit τ (τ = 0: −∞, every patch token drops).
    const z = dropLogit(g, d.pruner as Params<ScorerKey>, d.tokens);
    const notCls = g.Sub(g.scalar(1), isCls(g, d.index));
    const drop = g.Mul(g.Cast(g.Greater(z, g.constLike(z, Math.log(s.tau / (1 - s.tau)))), 'float32'), notCls);
    return g.Mul(d.keep, g.Sub(g.constLike(drop, 1), drop));
  }
  const idx = g.TopK(keepScore(g, s, d), count, 1, true)[1] as Value; // [B, count]
  const ones = g.ConstantOfShape([d.keep.shape[0] as Dim, count], 1, 'float32');
  return g.ScatterElements(g.zerosLike(d.keep), idx, ones, 1, 'none');
}

/** Token state through a gathered (physically pruned) forward. */
export interface Gathered {
  readonly tokens: Value; // [B, n, D]
  /** Alive mask over the n positions (padding is 0 when samples keep different counts). */
  readonly keep: Value; // [B, n]
  /** Original token index of each position (CLS = 0), ascending. */
  readonly index: Value; // [B, n] int64
}

/** The starting state: all N tokens alive, positions = original indices. */
export function allTokens(g: Graph, x: Value): Gathered {
  const [b, n] = x.shape as [Dim, number];
  const index = g.Expand(g.constant(tensor(arange(0, n, 1, 'int64').data, [1, n])), [b, n]);
  return { tokens: x, keep: g.ConstantOfShape([b, n], 1, 'float32'), index };
}

/**
 * Decides at one cut and gathers the kept tokens, ascending, CLS first: x [B, N, D] → [B, n, D].
 * Threshold: n is the batch's largest kept count (run time), shorter samples padded and masked.
 * Static counts: n = count for every sample (static shapes, nothing padded). `chosen` [B, N] marks
 * the positions kept, over the positions before the gather (for fusing the dropped ones).
 */
export function decideAndGather(
  g: Graph,
  s: Strategy,
  count: number,
  state: Gathered,
  d: Omit<DecisionInputs, 'tokens' | 'keep' | 'index'>,
  sym: string,
): Gathered & { readonly chosen: Value } {
  const inputs = { ...d, tokens: state.tokens, keep: state.keep, index: state.index };
  const dim = state.tokens.shape[2] as number;
  let sel: Value;
  if (s.kind === 'threshold') {
    const mask = decideMask(g, s, count, inputs);
    const n = g.Reshape(g.Cast(g.ReduceMax(g.ReduceSum(mask, [1], false), [0], false), 'int64'), [1]);
    // Kept tokens first, each group in ascending original order: score = keep·ORDER − original index,
    // exact in float32 (integers below 2²⁴), so the order never rests on TopK's tie rule.
    const score = g.Sub(g.scale(mask, ORDER), g.Cast(state.index, 'float32'));
    sel = g.TopKDynamic(score, n, sym, 1, true)[1] as Value;
    return { ...gatherAt(g, state, sel, g.GatherElements(mask, sel, 1), dim), chosen: mask };
  }
  const top = g.TopK(keepScore(g, s, inputs), count, 1, true)[1] as Value;
  sel = g.Cast(g.TopK(g.Cast(top, 'float32'), count, 1, false)[0] as Value, 'int64'); // ascending positions
  const ones = g.ConstantOfShape([state.tokens.shape[0] as Dim, count], 1, 'float32');
  return { ...gatherAt(g, state, sel, ones, dim), chosen: g.ScatterElements(g.zerosLike(state.keep), top, ones, 1, 'none') };
}

function gatherAt(g: Graph, state: Gathered, sel: Value, keep: Value, dim: number): Gathered {
  const [b, n] = sel.shape as [Dim, Dim];
  const tokens = g.GatherElements(state.tokens, g.Expand(g.Unsqueeze(sel, [2]), [b, n, dim]), 1);
  return { tokens, keep, index: g.GatherElements(state.index, sel, 1) };
}
