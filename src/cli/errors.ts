/**
 * CLI errors and exit codes: every failure becomes one line `apt-prune: <message>` and a code that
 * says which kind of failure it was, so scripts can branch on it without parsing text.
 */
import { DataFormatError } from '../data/errors.js';
import {
  CheckpointError,
  DTypeError,
  GraphError,
  MissingDependencyError,
  NonFiniteLossError,
  OnnxFormatError,
  ShapeError,
  ValueError,
} from '../tensor/errors.js';

/** Exit codes (documented in docs/cli.md; part of the CLI's contract). */
export const EXIT = {
  ok: 0,
  /** Anything unexpected: an I/O failure, an internal error. */
  failure: 1,
  /** Bad command line: unknown command or option, bad flag value, unusable --out. */
  usage: 2,
  /** Bad input: malformed or mismatched checkpoint, data, ONNX, tensors. */
  badInput: 3,
  /** An optional package (e.g. `fashion-mnist`) is not installed. */
  missingDependency: 4,
  /** Training produced a NaN/Inf loss (the last good checkpoint is kept). */
  diverged: 5,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A bad command line: a flag value, an unusable --out, or anything commander rejects. */
export class UsageError extends Error {
  override name = 'UsageError';
  /** `where` is the command (`train`), or '' for the command line as a whole. */
  constructor(
    readonly where: string,
    what: string,
  ) {
    super(where ? `${where}: ${what}` : what);
  }
}

/** The exit code of an error thrown by a command. */
export function exitCodeOf(e: unknown): ExitCode {
  if (e instanceof UsageError) return EXIT.usage;
  if (e instanceof MissingDependencyError) return EXIT.missingDependency;
  if (e instanceof NonFiniteLossError) return EXIT.diverged;
  // ValueError reaching the CLI comes from input the user supplied (a sidecar config, a data set).
  const badInput = [CheckpointError, OnnxFormatError, DataFormatError, ShapeError, DTypeError, ValueError];
  if (badInput.some((c) => e instanceof c)) return EXIT.badInput;
  return EXIT.failure;
}

/** One line, however the underlying message was wrapped (ORT and commander messages span lines). */
export function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').trim();
}

/** Longer messages (a state dict listing every mismatched tensor) are cut at a clause boundary. */
const MAX_MESSAGE = 300;

/** `apt-prune: <message>` for `e`; unexpected errors and cut messages say how to see more. */
export function errorLine(e: unknown, verbose: boolean): string {
  const err = e instanceof Error ? e : new Error(String(e));
  let msg = oneLine(err.message || err.name);
  if (!verbose && msg.length > MAX_MESSAGE) {
    const cut = msg.lastIndexOf('; ', MAX_MESSAGE);
    msg = `${msg.slice(0, cut > MAX_MESSAGE / 2 ? cut : MAX_MESSAGE)}; … (--verbose for the full message)`;
  }
  const typed = exitCodeOf(err) !== EXIT.failure || err instanceof GraphError;
  const hint = !typed && !verbose ? ' (run with --verbose for the stack)' : '';
  return `apt-prune: ${msg}${hint}`;
}

/** The stack of `e` and of its causes, for `--verbose`. */
export function stackOf(e: unknown): string {
  const parts: string[] = [];
  for (let c: unknown = e, depth = 0; c !== undefined && depth < 5; c = (c as { cause?: unknown }).cause, depth++) {
    parts.push(c instanceof Error ? (c.stack ?? `${c.name}: ${c.message}`) : String(c));
  }
  return parts.join('\ncaused by: ');
}
