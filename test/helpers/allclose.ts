import { expect } from 'vitest';

type Numeric = ArrayLike<number> | ArrayLike<bigint>;

export interface CloseOptions {
  readonly rtol?: number;
  readonly atol?: number;
  /** Name shown in the failure message. */
  readonly what?: string;
}

/**
 * Worst violation of |a − e| ≤ atol + rtol·|e| over all elements, or null when all are close.
 * NaN matches only NaN.
 */
export function worstMismatch(actual: Numeric, expected: Numeric, { rtol = 1e-5, atol = 1e-8 }: CloseOptions = {}) {
  if (actual.length !== expected.length) return { index: -1, actual: actual.length, expected: expected.length, excess: Number.POSITIVE_INFINITY };
  let worst: { index: number; actual: number; expected: number; excess: number } | null = null;
  for (let i = 0; i < actual.length; i++) {
    const a = Number(actual[i]);
    const e = Number(expected[i]);
    if (Number.isNaN(a) && Number.isNaN(e)) continue;
    const excess = Math.abs(a - e) - (atol + rtol * Math.abs(e));
    if (!(excess <= 0) && (!worst || !(excess <= worst.excess))) worst = { index: i, actual: a, expected: e, excess };
  }
  return worst;
}

/** Asserts element-wise closeness; the failure names the worst index and both values. */
export function expectAllclose(actual: Numeric, expected: Numeric, opts: CloseOptions = {}): void {
  const w = worstMismatch(actual, expected, opts);
  if (!w) return;
  const what = opts.what ? `${opts.what}: ` : '';
  if (w.index < 0) expect.fail(`${what}length ${w.actual} vs expected ${w.expected}`);
  expect.fail(
    `${what}not close at index ${w.index}: actual ${w.actual}, expected ${w.expected} ` +
      `(|Δ| = ${Math.abs(w.actual - w.expected).toExponential(3)}, rtol ${opts.rtol ?? 1e-5}, atol ${opts.atol ?? 1e-8})`,
  );
}
