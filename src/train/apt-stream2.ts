import type { PrunerConfig } from '../agent/config.js';
import { explore, exploreInContext, oneCutMask, toggledMasks } from '../agent/explore.js';
import type { Session } from '../graph/runtime.js';
import { pruningReward, type RewardKind, rewardLabels } from '../reward/pruning.js';
import { ValueError } from '../tensor/errors.js';
import type { Rng } from '../tensor/rng.js';
import { type Tensor, tensor } from '../tensor/tensor.js';
import type { RewardContext } from './apt-recipe.js';

/** What stream 2 hands the agent of one cut: its input states, the explored token, the reward-sign label. */
export interface Stream2Sample {
  readonly h: Tensor<'float32'>;
  readonly j: Int32Array;
  readonly labels: Int32Array;
}

export interface Stream2Inputs {
  readonly k: number;
  readonly context: RewardContext;
  /** Outputs of the stream 0/1 graph (aptTrainGraph) on the micro-batch. */
  readonly a: Record<string, unknown>;
  readonly labels: Tensor;
  readonly vit: Record<string, Tensor>;
  /** The tail session of cut k: tailGraph ('plain') or contextTailGraph ('pruned'). */
  readonly tail: Session;
  readonly pruner: PrunerConfig;
  readonly rewardKind: RewardKind;
  readonly rng: Rng;
  /** The data-set rows of the micro-batch's samples (for `explore`). */
  readonly rows: Int32Array;
  readonly explore?: ExploreOverride | undefined;
}

/** Replaces stream 2's exploration (see AptOptions.explore): cut k, P(drop) [B, N], data rows, N → j per sample. */
export type ExploreOverride = (k: number, pDrop: Float32Array, rows: Int32Array, n: number) => Int32Array;

/**
 * Stream 2 for cut k. 'plain' (the source): one patch token per sample dropped from the plain
 * block output, reward p_new[y] − p_plain[y]. 'pruned' (extension): a token alive entering cut k in
 * stream 1 is toggled (dropped if stream 1 kept it, restored if stream 1 dropped it here) and the
 * reward is the change in p[y] that dropping it causes in that context: p_without[y] − p_with[y].
 * Either way the label is [r > 0] (1 = drop).
 */
export async function stream2(s: Stream2Inputs): Promise<Stream2Sample> {
  const { k, a } = s;
  const ctx = s.context === 'pruned';
  const h = a[ctx ? `h1.${k}` : `h.${k}`] as Tensor<'float32'>;
  const [b, n] = h.dims as [number, number, number];
  const pDrop = (a[ctx ? `pdrop1.${k}` : `pdrop.${k}`] as Tensor<'float32'>).data;
  if (!ctx) {
    const j = s.explore
      ? checkChosen(s.explore(k, pDrop, s.rows, n), b, n)
      : explore(pDrop, b, n, s.rng, { greedyProb: s.pruner.exploreGreedyProb, bugCompat: s.pruner.bugCompatExplore });
    const out = await s.tail.run({ ...s.vit, h, keep: tensor(oneCutMask(j, n), [b, n]) });
    const r = pruningReward({ logitsPlain: a['logits.plain'] as Tensor, logitsPruned: out.logits as Tensor, labels: s.labels, kind: s.rewardKind });
    return { h, j, labels: rewardLabels(r) };
  }
  const mask = (i: number) => (a[`mask1.${i}`] as Tensor<'float32'>).data;
  const before = k === 0 ? new Float32Array(b * n).fill(1) : mask(k - 1);
  const after = mask(k);
  const j = s.explore
    ? checkChosen(s.explore(k, pDrop, s.rows, n), b, n, before)
    : exploreInContext(pDrop, before, after, b, n, s.rng, s.pruner.exploreGreedyProb);
  const later = s.pruner.cutLayers.slice(k).map((_, i) => mask(k + i));
  const t = toggledMasks(later, j, n);
  const feeds = Object.fromEntries(t.masks.map((m, i) => [`keep.${k + i}`, tensor(m, [b, n])]));
  const out = await s.tail.run({ ...s.vit, h, ...feeds });
  // p_toggled − p_stream1: the gain of dropping j where stream 1 kept it, minus that gain where it did not.
  const r = pruningReward({ logitsPlain: a['logits.pruned'] as Tensor, logitsPruned: out.logits as Tensor, labels: s.labels, kind: s.rewardKind });
  r.forEach((v, i) => {
    if (!t.kept[i]) r[i] = -v;
  });
  return { h, j, labels: rewardLabels(r) };
}

/** An `explore` override's answer: one patch token (1…N−1) per sample, alive in `before` when given and any is. */
function checkChosen(j: Int32Array, b: number, n: number, before?: Float32Array): Int32Array {
  if (!(j instanceof Int32Array) || j.length !== b)
    throw new ValueError('train.apt', `explore must return an Int32Array of ${b} token indices, got ${j?.length} values`);
  j.forEach((t, i) => {
    if (!(t >= 1 && t < n)) throw new ValueError('train.apt', `explore chose token ${t} for sample ${i}; must be in [1, ${n - 1}]`);
    if (before && before[i * n + t] !== 1 && before.subarray(i * n + 1, (i + 1) * n).includes(1))
      throw new ValueError('train.apt', `explore chose token ${t} for sample ${i}, which an earlier cut already dropped`);
  });
  return j;
}
