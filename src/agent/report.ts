import { planMacs } from '../reward/cost.js';
import type { VitConfig } from '../vit/config.js';
import { numTokens } from '../vit/config.js';
import { type KeepPlan, tokenCounts, tokensPerLayer } from './keep-plan.js';

/**
 * The source's per-image inference report (in English): the initial token shape, then the shape
 * after each cut layer. `["initial input shape::: [1, 50, 96]", "layer 1 shape::: [1, 23, 96]", …]`
 */
export function imageReport(plan: KeepPlan, sample: number, c: VitConfig): string[] {
  const lines = [`initial input shape::: [1, ${numTokens(c)}, ${c.dim}]`];
  // Tokens entering the block after each cut: the sequence's length, the fused token included.
  const entering = tokensPerLayer(plan, c)[sample] ?? [];
  plan.cutLayers.forEach((l) => {
    lines.push(`layer ${l} shape::: [1, ${entering[l + 1] ?? 0}, ${c.dim}]`);
  });
  return lines;
}

/** The closing lines of the source's report: mean cross-entropy and top-1 accuracy, 5 decimals. */
export function validLines(loss: number, accuracy: number): string[] {
  return [`Valid Loss: ${loss.toFixed(5)}`, `Valid Accuracy: ${accuracy.toFixed(5)}`];
}

/**
 * MACs of a pruned forward relative to the plain model, from mean kept tokens per cut layer
 * (pruners included). 1 when nothing is dropped and no pruner runs. `fused`: the fused token and
 * its weighted sums are counted too (token fusion, an extension).
 */
export function macsRatio(c: VitConfig, cutLayers: readonly number[], keptMean: readonly number[], withPruners = true, fused = false): number {
  return planMacs(c, tokenCounts(c, cutLayers, keptMean, fused), withPruners ? cutLayers : [], { fusedAt: fused ? cutLayers : [] }).ratio;
}
