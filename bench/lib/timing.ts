/** Timing helpers: wall-clock per call, robust summaries, interleaved comparisons. */

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** Seconds per call of `fn`, measured `iters` times after `warmup` calls. */
export async function timeIt(fn: () => Promise<unknown> | unknown, iters: number, warmup = 2): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await fn();
  const out: number[] = [];
  for (let i = 0; i < iters; i++) {
    const t = performance.now();
    await fn();
    out.push((performance.now() - t) / 1000);
  }
  return out;
}

/**
 * Runs each contender `rounds` times in turn (A B C, A B C, …), `iters` calls per turn, so slow
 * drifts of the machine hit every contender alike. Returns all per-call seconds per contender.
 */
export async function interleave(
  contenders: Record<string, (iters: number) => Promise<number[]>>,
  rounds: number,
  iters: number,
): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = Object.fromEntries(Object.keys(contenders).map((k) => [k, []]));
  for (const [, run] of Object.entries(contenders)) await run(1); // warm every contender first
  for (let r = 0; r < rounds; r++) {
    for (const [k, run] of Object.entries(contenders)) (out[k] as number[]).push(...(await run(iters)));
  }
  return out;
}

export function summary(seconds: readonly number[]): { median: number; min: number; n: number } {
  return { median: median(seconds), min: Math.min(...seconds), n: seconds.length };
}

export const round = (x: number, d = 3): number => Number(x.toFixed(d));

/** A contender for `interleave`: `n` timed runs of `s.run(feeds)`, in seconds. */
export const sessionRuns =
  <F>(s: { run(feeds: F): Promise<unknown> }, feeds: F) =>
  async (n: number): Promise<number[]> => {
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      await s.run(feeds);
      out.push((performance.now() - t) / 1000);
    }
    return out;
  };
