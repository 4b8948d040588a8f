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
