/**
 * Which layers filter ranking may prune: exactly the prunable groups of the channel analysis
 * (`cnnChannelAnalysis`, specs/resrep.md §3), so "only internal layers qualify" has one source —
 * in a residual block only the first conv, never a layer feeding an Add or the logits. A layer the
 * analysis refused is named with the rule it breaks (PruneError `.layer`, `.rule`).
 */
import type { CnnConfig } from '../../cnn/config.js';
import { ValueError } from '../../tensor/errors.js';
import type { ChannelGroup } from '../channel-group.js';
import { cnnChannelAnalysis } from '../deps.js';
import { PruneError } from '../errors.js';

/** The grid of Li et al.'s sensitivity analysis: p ∈ {0.1, …, 0.9}. */
export const SENSITIVITY_RATIOS: readonly number[] = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];

/**
 * The channel group of each named layer (in the order given), or of every prunable conv when
 * `layers` is undefined (filters in Li et al.'s sense; name linears to include them). Throws
 * PruneError with the analysis' rule for a refused layer, 'plan-shapes' for an unknown name.
 */
export function filterGroups(where: string, config: CnnConfig, layers?: readonly string[]): ChannelGroup[] {
  const analysis = cnnChannelAnalysis(config);
  if (layers === undefined) {
    const convs = analysis.groups.filter((g) => g.producer.kind === 'conv');
    if (convs.length === 0) throw new ValueError(where, `${config.name} has no prunable conv layer; name linear layers with \`layers\``);
    return convs;
  }
  const seen = new Set<string>();
  return layers.map((name) => {
    if (seen.has(name)) throw new PruneError(where, name, 'plan-shapes', 'is named twice');
    seen.add(name);
    return groupOf(where, config, name);
  });
}

/** The channel group of one layer, or PruneError naming why it cannot lose filters. */
export function groupOf(where: string, config: CnnConfig, layer: string): ChannelGroup {
  const analysis = cnnChannelAnalysis(config);
  const g = analysis.groups.find((x) => x.layer === layer);
  if (g) return g;
  const r = analysis.refused.find((x) => x.layer === layer);
  if (r) throw new PruneError(where, layer, r.rule, `cannot lose filters (only internal layers qualify): ${r.reason}`);
  const names = analysis.groups.map((x) => x.layer).join(', ');
  throw new PruneError(where, layer, 'plan-shapes', `is not a conv or linear layer of ${config.name} (prunable: ${names})`);
}

/** Throws ValueError unless `p` is a pruning ratio in [0, 1). */
export function checkRatio(where: string, layer: string, p: unknown): number {
  if (typeof p !== 'number' || !Number.isFinite(p) || p < 0 || p >= 1) {
    throw new ValueError(where, `ratio of layer '${layer}' must be a number in [0, 1), got ${String(p)}`);
  }
  return p;
}
