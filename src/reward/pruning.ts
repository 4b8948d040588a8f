import { DTypeError, fmtDims, ShapeError, ValueError } from '../tensor/errors.js';
import type { Tensor } from '../tensor/tensor.js';

export type RewardKind = 'prob' | 'logprob';

export interface RewardInput {
  /** Logits of the unpruned model [B, K]. */
  readonly logitsPlain: Tensor;
  /** Logits with the pruning action applied [B, K]. */
  readonly logitsPruned: Tensor;
  /** True classes [B] (int32, int64 or uint8). */
  readonly labels: Tensor;
  /**
   * `'prob'` (APT's rule, default): p_pruned[y] − p_plain[y], in float32 arithmetic, so a saturated
   * p_y gives exactly 0. `'logprob'`: CE_plain − CE_pruned = log p_pruned[y] − log p_plain[y].
   */
  readonly kind?: RewardKind;
}

const f = Math.fround;

function checkLogits(where: string, name: string, t: Tensor): [number, number] {
  if (t?.type !== 'float32' && t?.type !== 'float64') throw new DTypeError(where, `${name} must be float32 or float64 [B, K], got ${t?.type}`);
  if (t.dims.length !== 2 || (t.dims[1] as number) < 1) throw new ShapeError(where, `${name} must be [B, K], got ${fmtDims(t.dims)}`);
  return [t.dims[0] as number, t.dims[1] as number];
}

/** Labels as numbers, checked against B and K. */
export function labelValues(where: string, labels: Tensor, b: number, k: number): number[] {
  if (!['int32', 'int64', 'uint8'].includes(labels?.type)) throw new DTypeError(where, `labels must be int32, int64 or uint8 [B], got ${labels?.type}`);
  if (labels.dims.length !== 1 || labels.dims[0] !== b) throw new ShapeError(where, `labels must be [${b}], got ${fmtDims(labels.dims)}`);
  const ys = Array.from(labels.data as ArrayLike<number | bigint>, Number);
  ys.forEach((y, i) => {
    if (!Number.isInteger(y) || y < 0 || y >= k) throw new ValueError(where, `label ${y} at index ${i} is outside [0, ${k})`);
  });
  return ys;
}

/** p[y] of one row by a max-subtracted softmax, every operation rounded to float32 (as PyTorch fp32). */
function probF32(row: ArrayLike<number>, y: number): number {
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < row.length; i++) max = Math.max(max, f(row[i] as number));
  let sum = 0;
  let ey = 0;
  for (let i = 0; i < row.length; i++) {
    const e = f(Math.exp(f(f(row[i] as number) - max)));
    sum = f(sum + e);
    if (i === y) ey = e;
  }
  return f(ey / sum);
}

/** log p[y] of one row in float64 (log-sum-exp). */
function logProb(row: ArrayLike<number>, y: number): number {
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < row.length; i++) max = Math.max(max, row[i] as number);
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += Math.exp((row[i] as number) - max);
  return (row[y] as number) - max - Math.log(sum);
}

/**
 * Per-sample reward of a pruning action: how much the pruned model's belief in the true class
 * rose (positive = pruning helped). Pure: no session, no state. Returns Float32Array [B].
 */
export function pruningReward({ logitsPlain, logitsPruned, labels, kind = 'prob' }: RewardInput): Float32Array {
  const where = 'reward.pruningReward';
  const [b, k] = checkLogits(where, 'logitsPlain', logitsPlain);
  const [b2, k2] = checkLogits(where, 'logitsPruned', logitsPruned);
  if (b !== b2 || k !== k2) throw new ShapeError(where, `logitsPlain ${fmtDims(logitsPlain.dims)} and logitsPruned ${fmtDims(logitsPruned.dims)} must match`);
  if (kind !== 'prob' && kind !== 'logprob') throw new ValueError(where, `kind must be 'prob' or 'logprob', got '${String(kind)}'`);
  const ys = labelValues(where, labels, b, k);
  const plain = logitsPlain.data as Float32Array;
  const pruned = logitsPruned.data as Float32Array;
  const out = new Float32Array(b);
  for (let i = 0; i < b; i++) {
    const a = plain.subarray(i * k, (i + 1) * k);
    const p = pruned.subarray(i * k, (i + 1) * k);
    const y = ys[i] as number;
    out[i] = kind === 'prob' ? f(probF32(p, y) - probF32(a, y)) : logProb(p, y) - logProb(a, y);
  }
  return out;
}

/** Reward-sign labels: 1 where r > 0 (the action helped: drop), else 0 (ties keep). */
export function rewardLabels(rewards: ArrayLike<number>): Int32Array {
  const out = new Int32Array(rewards.length);
  for (let i = 0; i < rewards.length; i++) {
    const r = rewards[i] as number;
    if (Number.isNaN(r)) throw new ValueError('reward.rewardLabels', `reward at index ${i} is NaN`);
    out[i] = r > 0 ? 1 : 0;
  }
  return out;
}

/**
 * The agent's loss on its chosen actions: mean 2-class cross-entropy of `chosenLogits` [B, 2]
 * (index 0 = keep, 1 = drop) against reward-sign `labels`, and its gradient w.r.t. the logits
 * ((softmax − onehot)/B), so a custom loop can backpropagate it into any scorer.
 */
export function agentLoss(chosenLogits: Tensor, labels: ArrayLike<number> | Tensor): { loss: number; gradLogits: Float32Array } {
  const where = 'reward.agentLoss';
  const [b, k] = checkLogits(where, 'chosenLogits', chosenLogits);
  if (k !== 2) throw new ShapeError(where, `chosenLogits must be [B, 2], got ${fmtDims(chosenLogits.dims)}`);
  const lab = 'dims' in labels ? labelValues(where, labels, b, 2) : Array.from(labels);
  if (lab.length !== b) throw new ShapeError(where, `labels must have ${b} entries, got ${lab.length}`);
  const x = chosenLogits.data as Float32Array;
  const grad = new Float32Array(b * 2);
  let loss = 0;
  for (let i = 0; i < b; i++) {
    const c = lab[i] as number;
    if (c !== 0 && c !== 1) throw new ValueError(where, `label ${c} at index ${i} must be 0 or 1`);
    const row = x.subarray(2 * i, 2 * i + 2);
    loss -= logProb(row, c);
    const p1 = 1 / (1 + Math.exp((row[0] as number) - (row[1] as number)));
    grad[2 * i] = (1 - p1 - (c === 0 ? 1 : 0)) / b;
    grad[2 * i + 1] = (p1 - (c === 1 ? 1 : 0)) / b;
  }
  return { loss: loss / b, gradLogits: grad };
}
