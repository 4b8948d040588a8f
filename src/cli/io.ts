/**
 * What the CLI talks to: two output streams and a clock. `main` takes them as an argument so tests
 * run commands in-process with string sinks and a fake TTY.
 */

/** The part of a stream the CLI uses (`process.stdout` and `process.stderr` fit). */
export interface OutStream {
  write(chunk: string): unknown;
  readonly isTTY?: boolean;
  /** Terminal width; the progress bar never wraps past it. */
  readonly columns?: number;
}

export interface CliIo {
  /** Results: human summaries, or JSON lines with `--json`. */
  readonly stdout: OutStream;
  /** Progress, notes and errors. */
  readonly stderr: OutStream;
  /** Milliseconds from an arbitrary origin (default `performance.now`). */
  readonly now?: () => number;
  /** When stderr is not a TTY, progress prints one line per this many milliseconds (default 10 000). */
  readonly progressIntervalMs?: number;
}

/** The real process streams. */
export function processIo(): CliIo {
  return { stdout: process.stdout, stderr: process.stderr };
}

/** What a running command gets: the streams plus the global flags, and the ways to write to them. */
export interface Context {
  readonly io: CliIo;
  /** `--json`: stdout carries one JSON object per line and nothing else. */
  readonly json: boolean;
  readonly verbose: boolean;
  readonly now: () => number;
  /** A human line on stdout (skipped with --json). */
  print(line: string): void;
  /** One JSON object on stdout (only with --json). */
  emit(obj: object): void;
  /** A note on stderr (skipped with --json, where stdout's events say it all). */
  note(line: string): void;
}

/** A Context over `io`. */
export function context(io: CliIo, flags: { readonly json: boolean; readonly verbose: boolean }): Context {
  return {
    io,
    ...flags,
    now: io.now ?? (() => performance.now()),
    print: (line) => {
      if (!flags.json) io.stdout.write(`${line}\n`);
    },
    emit: (obj) => {
      if (flags.json) io.stdout.write(`${JSON.stringify(obj)}\n`);
    },
    note: (line) => {
      if (!flags.json) io.stderr.write(`${line}\n`);
    },
  };
}
