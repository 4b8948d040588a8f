import { ValueError } from '../tensor/errors.js';
import { numTokens, type VitConfig } from '../vit/config.js';

/**
 * How the pruners' scores become decisions. `threshold` is APT (drop when P(drop) > τ, CLS kept,
 * ties keep); the rest are extensions and baselines at a fixed number of kept tokens per cut layer:
 * `budget` keeps the tokens with the lowest P(drop), `evit` those the CLS token attends to most,
 * `random` a seeded uniform subset. `keep[k]` counts the tokens kept at cut layer k, CLS included.
 */
export type Strategy =
  | { readonly kind: 'threshold'; readonly tau: number }
  | { readonly kind: 'budget'; readonly keep: readonly number[] }
  | { readonly kind: 'evit'; readonly keep: readonly number[] }
  | { readonly kind: 'random'; readonly keep: readonly number[] };

/** Whether decisions run the learned pruners (`threshold`, `budget`); `evit` and `random` do not. */
export const usesScorer = (s: Strategy): boolean => s.kind === 'threshold' || s.kind === 'budget';

export type StrategyInput = 'threshold' | Strategy | { readonly kind: 'budget' | 'evit' | 'random'; readonly keepRate: number };

export interface PrunerConfig {
  /** Ascending 0-based block indices whose output the pruners read. */
  readonly cutLayers: readonly number[];
  readonly strategy: Strategy;
  /** Exploration (stream 2): probability of the greedy choice (argmax P(drop)). */
  readonly exploreGreedyProb: number;
  /** The source's exploration range bug (1..B−1 instead of 1..N−1), for parity fixtures only. */
  readonly bugCompatExplore: boolean;
  /**
   * Extension (EViT's inattentive-token fusion; not in APT): the tokens dropped at a cut are not
   * lost but merged into one extra token, their mean weighted by the cut block's CLS attention.
   */
  readonly fuse: boolean;
}

/** APT's cut layers for depth L: unique(ceil(k·L/4) − 1), k = 1..3 → [1, 2, 4] for L = 6, [2, 5, 8] for 12. */
export function defaultCutLayers(depth: number): number[] {
  return [...new Set([1, 2, 3].map((k) => Math.ceil((k * depth) / 4) - 1))].filter((l) => l >= 0 && l < depth - 1);
}

/**
 * Tokens kept per cut layer for a keep rate r applied at every cut (EViT's schedule): the patch
 * tokens entering cut k are multiplied by r, rounded, at least 1; CLS is added back.
 */
export function keepCounts(vit: VitConfig, cuts: number, rate: number): number[] {
  if (!(rate > 0 && rate <= 1)) throw new ValueError('TokenPruner', `keepRate must be in (0, 1], got ${rate}`);
  const out: number[] = [];
  let patches = numTokens(vit) - 1;
  for (let k = 0; k < cuts; k++) {
    patches = Math.max(1, Math.round(patches * rate));
    out.push(patches + 1);
  }
  return out;
}

export interface PrunerOptions {
  readonly cutLayers?: readonly number[];
  readonly strategy?: StrategyInput;
  readonly threshold?: number;
  readonly exploreGreedyProb?: number;
  readonly bugCompatExplore?: boolean;
  readonly fuse?: boolean;
}

/** Normalises options once, at the boundary: cut layers, strategy sugar, ranges. */
export function resolvePrunerConfig(vit: VitConfig, o: PrunerOptions = {}): PrunerConfig {
  const where = 'TokenPruner.create';
  const cuts = [...(o.cutLayers ?? defaultCutLayers(vit.depth))];
  cuts.forEach((l, i) => {
    if (!Number.isInteger(l) || l < 0 || l >= vit.depth - 1) {
      throw new ValueError(where, `cut layer ${l} is outside [0, ${vit.depth - 2}] (a decision must leave at least one block to act on; depth ${vit.depth})`);
    }
    if (i > 0 && l <= (cuts[i - 1] as number)) throw new ValueError(where, `cutLayers must be strictly ascending, got [${cuts.join(', ')}]`);
  });
  if (cuts.length === 0) throw new ValueError(where, 'cutLayers must name at least one block');
  const n = numTokens(vit);
  let strategy: Strategy;
  const s = o.strategy ?? 'threshold';
  if (s === 'threshold') strategy = { kind: 'threshold', tau: o.threshold ?? 0.5 };
  else if ('keepRate' in s) strategy = { kind: s.kind, keep: keepCounts(vit, cuts.length, s.keepRate) };
  else strategy = s;
  if (strategy.kind === 'threshold') {
    if (!(strategy.tau >= 0 && strategy.tau < 1)) throw new ValueError(where, `threshold must be in [0, 1), got ${strategy.tau}`);
  } else {
    const keep = strategy.keep;
    if (keep.length !== cuts.length) throw new ValueError(where, `keep must give one count per cut layer (${cuts.length}), got [${keep.join(', ')}]`);
    keep.forEach((k, i) => {
      const prev = i === 0 ? n : (keep[i - 1] as number);
      if (!Number.isInteger(k) || k < 2 || k > prev) {
        throw new ValueError(where, `keep[${i}] = ${k} must be an integer in [2, ${prev}] (CLS plus at least one patch, at most the tokens left)`);
      }
    });
  }
  if (o.fuse !== undefined && typeof o.fuse !== 'boolean') throw new ValueError(where, `fuse must be true or false, got ${JSON.stringify(o.fuse)}`);
  const greedy = o.exploreGreedyProb ?? 0.5;
  if (!(greedy >= 0 && greedy <= 1)) throw new ValueError(where, `exploreGreedyProb must be in [0, 1], got ${greedy}`);
  return { cutLayers: cuts, strategy, exploreGreedyProb: greedy, bugCompatExplore: o.bugCompatExplore ?? false, fuse: o.fuse ?? false };
}
