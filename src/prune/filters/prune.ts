/**
 * Filter pruning of a `cnn` model by ranking (specs/cops.md §7): scores → kept filters per layer →
 * structured removal through `removeCnnChannels` (the one slicing implementation: filter j, its
 * bias, BN channel j and input channel j of every consumer go together), or the same decision as
 * a mask (`maskFilters`: the removed filters zeroed in place of removed, same architecture).
 */
import type { CnnModel } from '../../cnn/api.js';
import { ShapeError, ValueError } from '../../tensor/errors.js';
import type { Tensor } from '../../tensor/tensor.js';
import { checkKeep, type Keep, removeCnnChannels } from '../channels.js';
import { cnnChannelAnalysis } from '../deps.js';
import { makePlan, type PruningPlan } from '../plan.js';
import { checkRatio, filterGroups, groupOf } from './layers.js';
import { type FilterCriterion, l1FilterScores, selectFilters } from './rank.js';

/** "independent" (default): every layer scored on the original weights; "greedy": only over still-kept input channels. */
export type FilterRanking = 'independent' | 'greedy';

export interface RankOptions {
  /** Pruning ratio p ∈ [0, 1) per layer; layers not listed keep every filter. */
  readonly ratios: Readonly<Record<string, number>>;
  /** Default 'l1'. 'entropy' needs `scores` (see `entropyScoresOf`). */
  readonly criterion?: FilterCriterion;
  /** Scores per layer ([D] each), replacing the L1 scores; required for 'entropy'. */
  readonly scores?: Readonly<Record<string, ArrayLike<number>>>;
  /** Multi-layer L1 ranking (§7); default 'independent'. */
  readonly ranking?: FilterRanking;
}

/** One ranked layer: its scores, the kept filters (sorted) and the removed ones (in pruning order). */
export interface RankedLayer {
  readonly layer: string;
  readonly width: number;
  readonly ratio: number;
  readonly scores: Float64Array;
  readonly keep: Int32Array;
  readonly removed: Int32Array;
}

/**
 * Ranks the filters of every layer in `opts.ratios` (in model order) and keeps n_keep of each.
 * Greedy L1 ranking drops, from a layer's sums, the input channels that earlier layers of the same
 * call removed. Layers that are not internal throw PruneError naming the layer and the rule.
 */
export function rankFilters(model: CnnModel, opts: RankOptions): RankedLayer[] {
  const where = 'prune.filters.rankFilters';
  const criterion = opts.criterion ?? 'l1';
  const ranking = opts.ranking ?? 'independent';
  if (criterion !== 'l1' && criterion !== 'entropy') throw new ValueError(where, `criterion must be 'l1' or 'entropy', got '${String(criterion)}'`);
  if (ranking !== 'independent' && ranking !== 'greedy') throw new ValueError(where, `ranking must be 'independent' or 'greedy', got '${String(ranking)}'`);
  if (criterion === 'entropy' && ranking === 'greedy')
    throw new ValueError(where, "greedy ranking sums L1 weights over kept inputs; it does not apply to 'entropy'");
  const named = Object.keys(opts.ratios ?? {});
  const groups = filterGroups(where, model.config, named);
  const order = cnnChannelAnalysis(model.config).groups.map((g) => g.layer);
  groups.sort((a, b) => order.indexOf(a.layer) - order.indexOf(b.layer));
  const removedBy = new Map<string, { kept: boolean[]; flattenSpatial: number }>(); // consumer weight → kept input channels
  return groups.map((g) => {
    const ratio = checkRatio(where, g.layer, opts.ratios[g.layer]);
    let scores: Float64Array;
    const given = opts.scores?.[g.layer];
    if (given !== undefined) {
      if (given.length !== g.width) throw new ShapeError(where, `scores of layer '${g.layer}' must be [${g.width}], got [${given.length}]`);
      scores = Float64Array.from(given);
    } else if (criterion === 'entropy') {
      throw new ValueError(where, `criterion 'entropy' needs scores for layer '${g.layer}' (prune.filters.entropyScoresOf)`);
    } else {
      const inputKept = ranking === 'greedy' ? removedBy.get(g.producer.weight) : undefined;
      scores = l1FilterScores(weightOf(where, model, g.producer.weight), { outAxis: g.producer.outAxis, inputKept });
    }
    const { keep, removed } = selectFilters(scores, ratio, criterion);
    const kept = Array.from({ length: g.width }, () => false);
    for (const j of keep) kept[j] = true;
    for (const c of g.consumers) removedBy.set(c.weight, { kept, flattenSpatial: c.flattenSpatial });
    return { layer: g.layer, width: g.width, ratio, scores, keep, removed };
  });
}

function weightOf(where: string, model: CnnModel, name: string): Tensor {
  const w = model.params[name];
  if (!w) throw new ValueError(where, `parameter '${name}' is missing from the model`);
  return w;
}

export interface PrunedFilters {
  /** The same layer list with narrower layers and sliced tensors. */
  readonly model: CnnModel;
  /** The pruning plan (method 'l1' or 'entropy'), with MACs before and after. */
  readonly plan: PruningPlan;
  readonly layers: readonly RankedLayer[];
}

/** Ranks (`rankFilters`) and removes the filters, with the consumers' input channels, through `removeCnnChannels`. */
export function pruneFilters(model: CnnModel, opts: RankOptions): PrunedFilters {
  const layers = rankFilters(model, opts);
  const keep = Object.fromEntries(layers.map((l) => [l.layer, l.keep]));
  const pruned = removeCnnChannels(model, keep);
  const widths = Object.fromEntries(layers.map((l) => [l.layer, l.width]));
  const plan = makePlan({ method: opts.criterion ?? 'l1', model: model.config.name, before: model, after: pruned, keep, widths });
  return { model: pruned, plan, layers };
}

/**
 * The masked form of a removal plan: same architecture, removed filters zeroed (weight rows, bias,
 * BN γ and β), so channel j is exactly 0 after its BN and every zero-preserving op after it; the
 * result computes what `removeCnnChannels(model, keep)` computes (up to float summation order).
 * Changed tensors are copied; the rest are shared with `model`.
 */
export function maskFilters(model: CnnModel, keep: Readonly<Record<string, Keep>>): CnnModel {
  const where = 'prune.filters.maskFilters';
  const params = { ...model.params };
  for (const [layer, k] of Object.entries(keep)) {
    const g = groupOf(where, model.config, layer);
    const kept = new Uint8Array(g.width);
    for (const j of checkKeep(where, layer, k, g.width)) kept[j] = 1;
    const zero = (name: string | undefined, axis: number) => {
      if (name === undefined) return;
      const t = weightOf(where, model, name) as Tensor<'float32'>;
      const data = Float32Array.from(t.data);
      const inner = t.dims.slice(axis + 1).reduce((p, d) => p * d, 1);
      for (let i = 0; i < data.length; i++) if (!kept[Math.floor(i / inner) % g.width]) data[i] = 0;
      params[name] = { ...t, data };
    };
    zero(g.producer.weight, g.producer.outAxis);
    zero(g.producer.bias, 0);
    zero(g.bn?.weight, 0);
    zero(g.bn?.bias, 0);
  }
  return { config: model.config, params };
}
