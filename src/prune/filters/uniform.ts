/**
 * MACs of filter-pruning ratios, and the uniform ratio that matches a MACs budget: the baseline
 * "uniform pruning at the same MACs" against which the sensitivity-chosen ratios are compared.
 */
import type { CnnConfig } from '../../cnn/config.js';
import { ValueError } from '../../tensor/errors.js';
import { cnnChannelAnalysis } from '../deps.js';
import { macsFunction } from '../macs.js';
import { checkRatio, groupOf } from './layers.js';
import { nKeep } from './rank.js';

/** MACs (batch 1, specs/resrep.md §7) of `config` with n_keep(width, p) filters in each layer of `ratios`. */
export function macsOfRatios(config: CnnConfig, ratios: Readonly<Record<string, number>>): number {
  const where = 'prune.filters.macsOfRatios';
  for (const [layer, p] of Object.entries(ratios)) {
    groupOf(where, config, layer);
    checkRatio(where, layer, p);
  }
  return ratioMacs(config)(ratios);
}

/** (ratios) → MACs, with the graph walked once. */
function ratioMacs(config: CnnConfig): (ratios: Readonly<Record<string, number>>) => number {
  const analysis = cnnChannelAnalysis(config);
  const f = macsFunction(config, analysis);
  return (ratios) => f(analysis.groups.map((g) => (ratios[g.layer] === undefined ? g.width : nKeep(g.width, ratios[g.layer] as number))));
}

/**
 * The one ratio p for every layer of `layers` whose MACs come closest to `targetMacs` (ties: the
 * smaller p). MACs change only where some n_keep does, at p = 1 − k/width, so those candidates are
 * searched exhaustively (Σ width evaluations of the O(nodes) MACs function).
 */
export function uniformRatioForMacs(config: CnnConfig, layers: readonly string[], targetMacs: number): { ratio: number; macs: number } {
  const where = 'prune.filters.uniformRatioForMacs';
  if (!(targetMacs > 0)) throw new ValueError(where, `targetMacs must be positive, got ${targetMacs}`);
  if (layers.length === 0) throw new ValueError(where, 'layers must name at least one layer');
  const widths = layers.map((l) => groupOf(where, config, l).width);
  const candidates = new Set<number>([0]);
  for (const w of widths) for (let k = 1; k < w; k++) candidates.add(1 - k / w);
  const macsOf = ratioMacs(config);
  let best = { ratio: 0, macs: Number.POSITIVE_INFINITY };
  for (const p of [...candidates].sort((a, b) => a - b)) {
    const macs = macsOf(Object.fromEntries(layers.map((l) => [l, p])));
    if (Math.abs(macs - targetMacs) < Math.abs(best.macs - targetMacs)) best = { ratio: p, macs };
  }
  return best;
}
