/**
 * The run directory `--out`: checked before any work, inspected for an earlier run, and kept to
 * the newest few step checkpoints. Checkpoint files themselves are io/checkpoint's business.
 */
import { constants, readdirSync, unlinkSync } from 'node:fs';
import { access, mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { latestCheckpoint } from '../io/checkpoint.js';
import { UsageError } from './errors.js';

/** Creates `dir` when missing; throws UsageError unless it is then a writable directory. */
export async function prepareOutDir(where: string, dir: string): Promise<void> {
  const st = await stat(dir).catch(() => undefined);
  if (st && !st.isDirectory()) throw new UsageError(where, `--out ${dir} exists and is not a directory`);
  try {
    await mkdir(dir, { recursive: true });
    await access(dir, constants.W_OK);
  } catch (e) {
    throw new UsageError(where, `--out ${dir} is not a writable directory (${(e as Error).message})`);
  }
}

/** The newest checkpoint in `dir` with its sidecar fields, or undefined when there is none. */
export async function latestRun(
  dir: string,
): Promise<{ readonly sidecar: string; readonly step: number | undefined; readonly info: Record<string, unknown> } | undefined> {
  const latest = await latestCheckpoint(dir).catch(() => undefined);
  if (!latest) return undefined;
  const sidecar = `${latest.prefix}.json`;
  // latestCheckpoint only returns sidecars it parsed, so this parse succeeds unless the file changed since.
  const info = JSON.parse(await readFile(sidecar, 'utf8')) as Record<string, unknown>;
  return { sidecar, step: latest.step, info };
}

const STEP_FILE = /^step-(\d{8})\.json$/;

/**
 * Deletes all but the newest `keep` `step-<n>` checkpoints in `dir` (keep 0: delete nothing) and
 * returns the removed sidecars. Each sidecar goes before its tensor file, so a checkpoint is never
 * left looking complete while half deleted. Synchronous: it runs inside fit's event callback.
 */
export function pruneCheckpoints(dir: string, keep: number): string[] {
  if (keep <= 0) return [];
  const sidecars = readdirSync(dir)
    .filter((f) => STEP_FILE.test(f))
    .sort();
  const removed: string[] = [];
  for (const f of sidecars.slice(0, Math.max(0, sidecars.length - keep))) {
    for (const file of [f, f.replace(/\.json$/, '.safetensors')]) {
      try {
        unlinkSync(join(dir, file));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
    }
    removed.push(join(dir, f));
  }
  return removed;
}
