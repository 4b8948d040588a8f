import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CliIo, OutStream } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';

/** A stream that keeps what was written; `isTTY`/`columns` make it look like a terminal. */
export function sink(tty?: { columns: number }): OutStream & { text: () => string } {
  const chunks: string[] = [];
  return { write: (s: string) => chunks.push(s), text: () => chunks.join(''), isTTY: tty !== undefined, columns: tty?.columns };
}

export interface Ran {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** stdout parsed as JSON lines (throws if any line is not JSON). */
  readonly json: () => Record<string, unknown>[];
}

/** `apt-prune <argv>` in-process, with string sinks and a non-TTY stderr. */
export async function run(argv: readonly string[], io: Partial<CliIo> = {}): Promise<Ran> {
  const stdout = sink();
  const stderr = sink();
  const code = await main(argv, { stdout, stderr, ...io });
  const out = stdout.text();
  return {
    code,
    stdout: out,
    stderr: stderr.text(),
    json: () =>
      out
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

/** A fresh temp directory, removed by `cleanup`. */
export async function tempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'apt-prune-cli-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}
