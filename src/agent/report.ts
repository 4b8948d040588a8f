import { planMacs } from '../reward/cost.js';
import type { VitConfig } from '../vit/config.js';
import { numTokens } from '../vit/config.js';
import type { KeepPlan } from './keep-plan.js';

/**
 * The source's per-image inference report (in English): the initial token shape, then the shape
 * after each cut layer. `["initial input shape::: [1, 50, 96]", "layer 1 shape::: [1, 23, 96]", …]`
 */
export function imageReport(plan: KeepPlan, sample: number, c: VitConfig): string[] {
  const lines = [`initial input shape::: [1, ${numTokens(c)}, ${c.dim}]`];
  plan.cutLayers.forEach((l, k) => {
    lines.push(`layer ${l} shape::: [1, ${plan.kept[k]?.[sample]?.length ?? 0}, ${c.dim}]`);
  });
  return lines;
}

/** The closing lines of the source's report: mean cross-entropy and top-1 accuracy, 5 decimals. */
export function validLines(loss: number, accuracy: number): string[] {
  return [`Valid Loss: ${loss.toFixed(5)}`, `Valid Accuracy: ${accuracy.toFixed(5)}`];
}

/**
 * MACs of a pruned forward relative to the plain model, from mean kept tokens per cut layer
 * (pruners included). 1 when nothing is dropped and no pruner runs.
 */
export function macsRatio(c: VitConfig, cutLayers: readonly number[], keptMean: readonly number[], withPruners = true): number {
  const perBlock: number[] = [];
  let n = numTokens(c);
  let k = 0;
  for (let i = 0; i < c.depth; i++) {
    perBlock.push(n);
    if (cutLayers[k] === i) n = keptMean[k++] as number;
  }
  return planMacs(c, perBlock, withPruners ? cutLayers : []).ratio;
}
