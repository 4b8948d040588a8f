import { ValueError } from '../tensor/errors.js';

/**
 * Linear warmup then cosine decay to 0, as a multiplier λ(k) of the base learning rate for update
 * k = 1, 2, …: λ(k) = k/W for k < W, else ½(1 + cos(π(min(k, T) − W)/(T − W))), so λ stays 0 after
 * T. With W = 500 and T = 50,000: λ(1) = 0.002, λ(500) = 1, λ(T) = 0 (the APT spec's schedule; the
 * ViT recipe uses W = 5% of T).
 */
export function warmupCosine(warmup: number, total: number): (k: number) => number {
  if (!Number.isInteger(total) || total < 1) throw new ValueError('warmupCosine', `total must be an integer >= 1, got ${total}`);
  if (!Number.isInteger(warmup) || warmup < 0 || warmup >= total)
    throw new ValueError('warmupCosine', `warmup must be an integer in [0, ${total}), got ${warmup}`);
  return (k) => {
    if (k < warmup) return k / warmup;
    return Math.max(0, 0.5 * (1 + Math.cos((Math.PI * (Math.min(k, total) - warmup)) / (total - warmup))));
  };
}

/** Constant multiplier 1. */
export function constantSchedule(): (k: number) => number {
  return () => 1;
}

/**
 * Keep counts on a cosine from all tokens down to `target` (EViT's keep-rate schedule, in counts):
 * update u < `warmup` is at level s = ⌊u·stages/warmup⌋, which keeps round(t + (n − t)·½(1 + cos(πs/stages)))
 * at a cut whose target is t — level 0 keeps all n — and from update `warmup` on the counts are
 * `target`. The levels bound how many distinct counts (one training graph each) a run meets.
 * Non-increasing across cuts whenever `target` is. n: the tokens entering the first cut (CLS included).
 */
export function keepWarmupCounts(target: readonly number[], n: number, warmup: number, stages = 8): (update: number) => number[] {
  const where = 'keepWarmupCounts';
  if (!Number.isInteger(warmup) || warmup < 1) throw new ValueError(where, `warmup must be an integer >= 1, got ${warmup}`);
  if (!Number.isInteger(stages) || stages < 1) throw new ValueError(where, `stages must be an integer >= 1, got ${stages}`);
  target.forEach((t, k) => {
    if (!Number.isInteger(t) || t < 1 || t > n) throw new ValueError(where, `target[${k}] = ${t} must be an integer in [1, ${n}]`);
  });
  return (update) => {
    if (update >= warmup) return [...target];
    const level = Math.floor((Math.max(0, update) * stages) / warmup);
    const f = 0.5 * (1 + Math.cos((Math.PI * level) / stages));
    return target.map((t) => Math.round(t + (n - t) * f));
  };
}
