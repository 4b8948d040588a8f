import { fmtDims, ShapeError, ValueError } from '../tensor/errors.js';
import type { Tensor } from '../tensor/tensor.js';
import { numTokens, type VitConfig } from '../vit/config.js';

/**
 * Which tokens survive each cut layer: `kept[k][b]` holds the original indices (ascending, CLS = 0
 * first) of the tokens sample b keeps after cut layer `cutLayers[k]`. Decisions are data: a plan is
 * applied to any per-token tensor by `applyPlan`, and token counts follow from it.
 */
export interface KeepPlan {
  readonly cutLayers: readonly number[];
  readonly kept: readonly (readonly Int32Array[])[];
  /** Token fusion (extension): after the first cut that drops a sample's token, one fused token rides along. */
  readonly fused?: boolean;
}

/**
 * Tokens entering each block from the tokens kept after each cut (all N before the first cut),
 * plus the fused token, with `fused`, from the first cut that drops anything on.
 */
export function tokenCounts(c: VitConfig, cutLayers: readonly number[], keptAfter: readonly number[], fused = false): number[] {
  let n = numTokens(c);
  let slot = 0;
  let k = 0;
  return Array.from({ length: c.depth }, (_, i) => {
    const here = n + slot;
    if (cutLayers[k] === i) {
      const kept = keptAfter[k++] ?? n;
      if (fused && kept < n) slot = 1;
      n = kept;
    }
    return here;
  });
}

/** Tokens entering each block, per sample: [B][depth] (all N before the first cut; the fused token counted). */
export function tokensPerLayer(plan: KeepPlan, c: VitConfig): number[][] {
  const b = plan.kept[0]?.length ?? 0;
  return Array.from({ length: b }, (_, s) =>
    tokenCounts(
      c,
      plan.cutLayers,
      plan.kept.map((per) => per[s]?.length ?? numTokens(c)),
      plan.fused,
    ),
  );
}

/** The plan that keeps everything (identity): applying it changes nothing. */
export function keepAll(cutLayers: readonly number[], batch: number, n: number): KeepPlan {
  const all = Int32Array.from({ length: n }, (_, i) => i);
  return { cutLayers: [...cutLayers], kept: cutLayers.map(() => Array.from({ length: batch }, () => all.slice())) };
}

/**
 * The tokens of sample-major `x` [B, N, …] kept after cut `k`: a list of per-sample tensors
 * [n_b, …] (counts differ per sample). CLS stays first by construction.
 */
export function applyPlan(plan: KeepPlan, k: number, x: Tensor<'float32'>): Tensor<'float32'>[] {
  const kept = plan.kept[k];
  if (!kept) throw new ValueError('applyPlan', `cut index ${k} is outside [0, ${plan.kept.length})`);
  const [b, n] = x.dims as [number, number];
  if (x.dims.length < 2 || b !== kept.length) throw new ShapeError('applyPlan', `x must be [${kept.length}, N, …], got ${fmtDims(x.dims)}`);
  const inner = x.data.length / (b * n);
  return kept.map((idx, s) => {
    const out = new Float32Array(idx.length * inner);
    idx.forEach((j, r) => {
      if (j < 0 || j >= n) throw new ValueError('applyPlan', `kept index ${j} of sample ${s} is outside [0, ${n})`);
      out.set(x.data.subarray((s * n + j) * inner, (s * n + j + 1) * inner), r * inner);
    });
    return { type: 'float32', dims: [idx.length, ...x.dims.slice(2)], data: out };
  });
}

/** Mean tokens kept after each cut layer over the samples of a plan. */
export function meanKept(plan: KeepPlan): number[] {
  return plan.kept.map((per) => per.reduce((s, idx) => s + idx.length, 0) / Math.max(1, per.length));
}

/**
 * How far two plans agree: for each cut, the share of `a`'s kept patch tokens (CLS excluded) that
 * `b` keeps too, averaged over the samples. Both plans must cover the same cut layers and batch.
 * Two independent uniform choices of k − 1 of N − 1 patches agree on (k − 1)/(N − 1) on average.
 */
export function planOverlap(a: KeepPlan, b: KeepPlan): number[] {
  if (a.cutLayers.length !== b.cutLayers.length || a.cutLayers.some((l, k) => l !== b.cutLayers[k]))
    throw new ValueError('planOverlap', `both plans must cut at the same layers, got [${a.cutLayers.join(', ')}] and [${b.cutLayers.join(', ')}]`);
  return a.kept.map((perA, k) => {
    const perB = b.kept[k] as readonly Int32Array[];
    if (perA.length !== perB.length)
      throw new ValueError('planOverlap', `both plans must hold the same batch at cut ${k}, got ${perA.length} and ${perB.length} samples`);
    let sum = 0;
    perA.forEach((idxA, s) => {
      const inB = new Set(perB[s]);
      let [shared, patches] = [0, 0];
      for (const j of idxA) {
        if (j === 0) continue;
        patches++;
        if (inB.has(j)) shared++;
      }
      sum += patches ? shared / patches : 1;
    });
    return perA.length ? sum / perA.length : 1;
  });
}
