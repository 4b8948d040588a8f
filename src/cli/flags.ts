/**
 * Flag values → typed values, strictly: `--epochs 1.5`, `--epochs 3x` and `--lr abc` are usage
 * errors naming the flag, never silently truncated or NaN.
 */
import { Option } from 'commander';
import { UsageError } from './errors.js';

/** Commander's parsed options: strings, booleans, or undefined when absent. */
export type RawOptions = Readonly<Record<string, unknown>>;

function raw(where: string, flag: string, v: unknown): string {
  if (typeof v !== 'string') throw new UsageError(where, `${flag} needs a value`);
  return v.trim();
}

/** A decimal integer ≥ `min` (default 1). */
export function intFlag(where: string, flag: string, v: unknown, min = 1): number {
  const s = raw(where, flag, v);
  const n = /^[+-]?\d+$/.test(s) ? Number(s) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min) {
    const what = min === 1 ? 'a positive integer' : min === 0 ? 'a non-negative integer' : `an integer ≥ ${min}`;
    throw new UsageError(where, `${flag} must be ${what}, got '${s}'`);
  }
  return n;
}

/** A finite number > 0 (`1e-3`, `0.001`). */
export function positiveFlag(where: string, flag: string, v: unknown): number {
  const s = raw(where, flag, v);
  const n = s === '' ? Number.NaN : Number(s);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(where, `${flag} must be a positive number, got '${s}'`);
  return n;
}

/** An optional integer flag: undefined when absent. */
export function optionalInt(where: string, flag: string, v: unknown, min = 1): number | undefined {
  return v === undefined ? undefined : intFlag(where, flag, v, min);
}

/** A non-empty string (paths). */
export function stringFlag(where: string, flag: string, v: unknown): string {
  const s = raw(where, flag, v);
  if (s === '') throw new UsageError(where, `${flag} must not be empty`);
  return s;
}

/** One of `choices` (commander checks too; this narrows the type). */
export function choiceFlag<T extends string>(where: string, flag: string, v: unknown, choices: readonly T[]): T {
  const s = raw(where, flag, v);
  if (!(choices as readonly string[]).includes(s)) throw new UsageError(where, `${flag} must be one of ${choices.join(', ')}, got '${s}'`);
  return s as T;
}

/** A commander option whose help shows `(default: 256)` rather than commander's quoted `"256"`. */
export function option(flags: string, description: string, fallback?: string): Option {
  const o = new Option(flags, description);
  return fallback === undefined ? o : o.default(fallback, fallback);
}
