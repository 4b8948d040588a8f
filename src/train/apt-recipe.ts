import type { PrunerConfig } from '../agent/config.js';
import type { RewardKind } from '../reward/pruning.js';
import { ValueError } from '../tensor/errors.js';
import { keepWarmupCounts } from './schedule.js';

/** A three-channel APT training recipe (SGD with momentum, warmup + cosine over `total` updates). */
export interface AptRecipe {
  readonly name: string;
  /** Images per update; split into `accum` micro-batches of batch/accum. */
  readonly batch: number;
  readonly accum: number;
  readonly lr: number;
  readonly momentum: number;
  readonly weightDecay: number;
  /** Warmup updates W and total updates T of the schedule λ(k). */
  readonly warmup: number;
  readonly total: number;
  /** One joint clip over the ViT and every pruner. */
  readonly maxGradNorm: number;
  /** Evaluate plain and pruned accuracy on the validation split every this many updates (and at the end). */
  readonly evalEvery: number;
  readonly rewardKind: RewardKind;
  /** Random crop + flip on the training images (APT's Fashion-MNIST setting: none). */
  readonly augment: boolean;
  readonly seed: number;
  /**
   * Extension, not in the source (absent = faithful): stream 1's loss becomes
   * (1 − alpha)·CE(pruned, y) + alpha·T²·KL(teacher ‖ pruned), a plain model teaching the pruned one.
   */
  readonly distill?: DistillOptions;
  /**
   * Extension (absent = 'plain', the source): where stream 2 measures a token's removal. 'plain':
   * from the plain model (one token dropped from all). 'pruned': inside stream 1's pruned state —
   * a token stream 1 kept at the cut is dropped, or one it dropped there is restored — so each
   * pruner learns the marginal token among those its decisions leave, on the states it sees when
   * pruning. Needs a strategy with a scorer and no fusion.
   */
  readonly rewardContext?: RewardContext;
  /**
   * Extension (absent or 0 = the source, where no task gradient reaches the pruners): weight λ of
   * stream 1's loss gradient into the pruners, through straight-through key gates — the forward keeps
   * the hard decisions, the backward sees gate = hard + λ·(s − stop(s)), s = 1 − P(drop), so a kept
   * token whose weight hurts the loss and a dropped token whose return would help both move the
   * scorer. Added to stream 2's agent loss. Needs a strategy with a scorer and no fusion.
   */
  readonly taskGrad?: number;
  /**
   * Extension (absent or 0 = the source): weight β of an EViT prior on the pruners. At every cut k
   * the pruner is also taught EViT's decision on stream 0 — drop for the patch tokens outside the
   * keep[k] the cut block's CLS attends to most, keep inside — by 2-class cross-entropy averaged
   * over the patch tokens, added to its agent loss. A ranking to start from and stay near, which the
   * reward labels (and the task gradient) correct. Needs the budget strategy (its counts) and no fusion.
   */
  readonly attentionPrior?: number;
  /**
   * Extension (absent or 0 = the counts from the first update, as the source): the static-count
   * strategies (budget, evit, random) start stream 1 at all tokens and lower their counts along a
   * cosine to the strategy's over this many updates (`keepWarmupCounts`, 8 levels) — EViT's keep-rate
   * schedule, there used when training from scratch. Validation and checkpoints always use the
   * strategy's counts; the EViT prior teaches its ranking at them. Needs a static-count strategy, no
   * fusion and `rewardContext` 'plain'.
   */
  readonly keepWarmup?: number;
}

export type RewardContext = 'plain' | 'pruned';

/**
 * Distillation of the pruned forward from a plain one: weight alpha in (0, 1], temperature T > 0.
 * `teacher`: 'frozen' (default) — the ViT as it was when training started, one more forward per
 * micro-batch; 'live' — stream 0's plain logits of the ViT being trained (free, but the teacher
 * drifts with the student).
 */
export interface DistillOptions {
  readonly alpha: number;
  readonly temperature: number;
  readonly teacher?: 'frozen' | 'live';
}

/** The source's recipe: batch 72 as 3 × 24, SGD 3e-2 momentum 0.9, no decay, W 500, clip 1, eval every 500. */
export function aptPaperRecipe(total: number, seed = 0): AptRecipe {
  return {
    name: 'apt-paper',
    batch: 72,
    accum: 3,
    lr: 3e-2,
    momentum: 0.9,
    weightDecay: 0,
    warmup: Math.min(500, total - 1),
    total,
    maxGradNorm: 1,
    evalEvery: 500,
    rewardKind: 'prob',
    augment: false,
    seed,
  };
}

/**
 * Fine-tuning a trained fmnist-vit-t with the TokenPruner: the source's SGD setting at a lower
 * rate, since the ViT is already trained (3e-2 is for ImageNet-21k → CIFAR) and the pruners start
 * from scratch. Batch 96 (4 × 24), lr 1e-2, warmup 5% of the updates, cosine to 0, clip 1.
 */
export function aptFinetuneRecipe(total: number, seed = 0): AptRecipe {
  return {
    name: 'fmnist-finetune',
    batch: 96,
    accum: 4,
    lr: 1e-2,
    momentum: 0.9,
    weightDecay: 0,
    warmup: Math.max(1, Math.round(0.05 * total)),
    total,
    maxGradNorm: 1,
    evalEvery: Math.max(50, Math.round(total / 10)),
    rewardKind: 'prob',
    augment: false,
    seed,
  };
}

export function checkAptRecipe(r: AptRecipe): void {
  const where = 'train.apt';
  const posInt = (k: keyof AptRecipe) => {
    const v = r[k] as number;
    if (!Number.isInteger(v) || v < 1) throw new ValueError(where, `recipe.${String(k)} must be a positive integer, got ${v}`);
  };
  (['batch', 'accum', 'total', 'evalEvery'] as const).forEach(posInt);
  if (r.batch % r.accum !== 0) throw new ValueError(where, `recipe.batch ${r.batch} must be divisible by recipe.accum ${r.accum}`);
  if (!Number.isInteger(r.warmup) || r.warmup < 0 || r.warmup >= r.total)
    throw new ValueError(where, `recipe.warmup must be in [0, ${r.total}), got ${r.warmup}`);
  if (!(r.lr > 0) || !(r.maxGradNorm > 0)) throw new ValueError(where, `recipe.lr and recipe.maxGradNorm must be > 0, got ${r.lr} and ${r.maxGradNorm}`);
  if (r.rewardContext !== undefined && r.rewardContext !== 'plain' && r.rewardContext !== 'pruned')
    throw new ValueError(where, `recipe.rewardContext must be 'plain' or 'pruned', got ${JSON.stringify(r.rewardContext)}`);
  if (r.taskGrad !== undefined && !(Number.isFinite(r.taskGrad) && r.taskGrad >= 0))
    throw new ValueError(where, `recipe.taskGrad must be a finite number ≥ 0, got ${r.taskGrad}`);
  if (r.attentionPrior !== undefined && !(Number.isFinite(r.attentionPrior) && r.attentionPrior >= 0))
    throw new ValueError(where, `recipe.attentionPrior must be a finite number ≥ 0, got ${r.attentionPrior}`);
  if (r.keepWarmup !== undefined && !(Number.isInteger(r.keepWarmup) && r.keepWarmup >= 0 && r.keepWarmup < r.total))
    throw new ValueError(where, `recipe.keepWarmup must be an integer in [0, ${r.total}), got ${r.keepWarmup}`);
  if (r.distill !== undefined) {
    const { alpha, temperature, teacher = 'frozen' } = r.distill;
    if (!(alpha > 0 && alpha <= 1) || !(temperature > 0))
      throw new ValueError(where, `recipe.distill needs alpha in (0, 1] and temperature > 0, got alpha ${alpha}, temperature ${temperature}`);
    if (teacher !== 'frozen' && teacher !== 'live') throw new ValueError(where, `recipe.distill.teacher must be 'frozen' or 'live', got '${teacher}'`);
  }
}

/** The keep warmup's counts by update (`recipe.keepWarmup`) from all n tokens, or null without one. */
export function keepSchedule(pc: PrunerConfig, recipe: AptRecipe, context: RewardContext, n: number): ((update: number) => number[]) | null {
  const warmup = recipe.keepWarmup ?? 0;
  if (warmup === 0) return null;
  if (pc.strategy.kind === 'threshold' || pc.fuse || context !== 'plain')
    throw new ValueError(
      'train.apt',
      `recipe.keepWarmup needs static counts (budget, evit, random) without fusion and rewardContext 'plain', got ${pc.strategy.kind}${pc.fuse ? ' with fuse' : ''}, context ${context}`,
    );
  return keepWarmupCounts(pc.strategy.keep, n, warmup);
}
