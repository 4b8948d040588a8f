import { ShapeError, ValueError } from '../tensor/errors.js';
import { mlpDim, numTokens, type VitConfig } from '../vit/config.js';

/** MACs of one pre-LN block on n tokens: qkv + proj 4nD², attention 2n²D, MLP 2nDM. */
export function blockMacs(c: VitConfig, n: number): number {
  const d = c.dim;
  return 4 * n * d * d + 2 * n * n * d + 2 * n * d * mlpDim(c);
}

/**
 * MACs of one APT pruner deciding on n tokens. `'folded'` (default): what the library's decisions
 * run (agent/scorer.ts `dropLogit`): q on CLS D², t = q ⊙ w_k D, u = t·W_k D², t·b_k D, and one dot
 * product per token nD (w_v·W_v depends on weights only and is folded with them). `'bilinear'`: the
 * source's network as written (`prunerLogits`): q on CLS D², k and v 2nD², q⊙k nD, fc 4nD.
 */
export function prunerMacs(c: VitConfig, n: number, form: 'folded' | 'bilinear' = 'folded'): number {
  const d = c.dim;
  return form === 'folded' ? 2 * d * d + 2 * d + n * d : d * d + 2 * n * d * d + n * d + 4 * n * d;
}

/** MACs outside the blocks: patch projection and classifier head (independent of pruning). */
export function stemHeadMacs(c: VitConfig): number {
  const patches = numTokens(c) - 1;
  return patches * c.dim * c.inChans * c.patchSize * c.patchSize + c.dim * c.numClasses;
}

export interface PlanCost {
  readonly macs: number;
  readonly plainMacs: number;
  /** macs / plainMacs (1 when nothing is dropped and no pruner runs). */
  readonly ratio: number;
}

/**
 * MACs (batch 1, no factor 2) of a ViT whose block i sees `tokensPerLayer[i]` tokens (means over a
 * batch may be fractional), plus the pruners run at `cutLayers` on their block's token count, plus
 * the weighted sum of token fusion (nD) at `opts.fusedAt`. A cost term for users who add compute
 * to their reward.
 */
export function planMacs(
  c: VitConfig,
  tokensPerLayer: readonly number[],
  cutLayers: readonly number[] = [],
  opts: { readonly fusedAt?: readonly number[] } = {},
): PlanCost {
  if (tokensPerLayer.length !== c.depth) {
    throw new ShapeError('reward.planMacs', `tokensPerLayer must have ${c.depth} entries (one per block), got ${tokensPerLayer.length}`);
  }
  const n0 = numTokens(c);
  tokensPerLayer.forEach((n, i) => {
    if (!(n >= 1 && n <= n0)) throw new ValueError('reward.planMacs', `tokensPerLayer[${i}] = ${n} is outside [1, ${n0}]`);
  });
  const atCuts = (layers: readonly number[], perCut: (n: number) => number) =>
    layers.reduce((s, l) => {
      if (!Number.isInteger(l) || l < 0 || l >= c.depth) throw new ValueError('reward.planMacs', `cut layer ${l} is outside [0, ${c.depth})`);
      return s + perCut(tokensPerLayer[l] as number);
    }, 0);
  const extra = atCuts(cutLayers, (n) => prunerMacs(c, n)) + atCuts(opts.fusedAt ?? [], (n) => n * c.dim);
  const macs = stemHeadMacs(c) + tokensPerLayer.reduce((s, n) => s + blockMacs(c, n), 0) + extra;
  const plainMacs = stemHeadMacs(c) + c.depth * blockMacs(c, n0);
  return { macs, plainMacs, ratio: macs / plainMacs };
}
