/**
 * Atomic file replacement: write a sibling temp file, fsync it, rename it over the target, fsync
 * the directory. A reader (or a resumed run) sees the old file or the new one, never a mix; a
 * crash leaves at most a stray `*.tmp-<pid>-<hex>` file next to an intact target.
 */
import { randomBytes } from 'node:crypto';
import { type FileHandle, open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { CheckpointError } from '../tensor/errors.js';

// fs writes take at most 2 GiB per call; 64 MiB keeps each call short.
const MAX_WRITE = 1 << 26;

/** Marker inside temp-file names; directory scans skip files that contain it. */
export const TEMP_MARKER = '.tmp-';

/**
 * Writes `data` (one buffer, or chunks consumed lazily in order) to `path` atomically.
 * On any failure — a chunk iterator that throws, a full disk, a failed rename — the temp file is
 * removed, `path` keeps its previous content, and a CheckpointError naming `path` is thrown
 * (the original error is its `cause`). Resolves to the number of bytes written.
 */
export async function writeFileAtomic(path: string, data: Uint8Array | Iterable<Uint8Array>, where = 'writeFileAtomic'): Promise<number> {
  const tmp = `${path}${TEMP_MARKER}${process.pid}-${randomBytes(6).toString('hex')}`;
  let fh: FileHandle | undefined;
  let total = 0;
  try {
    fh = await open(tmp, 'wx', 0o644); // 'wx': never reuse someone else's temp file
    for (const chunk of data instanceof Uint8Array ? [data] : data) {
      for (let at = 0; at < chunk.byteLength; ) {
        const { bytesWritten } = await fh.write(chunk, at, Math.min(MAX_WRITE, chunk.byteLength - at));
        at += bytesWritten;
      }
      total += chunk.byteLength;
    }
    await fh.sync(); // data on disk before the rename makes it visible
    await fh.close();
    fh = undefined;
    await rename(tmp, path);
  } catch (cause) {
    await fh?.close().catch(() => undefined);
    await rm(tmp, { force: true }).catch(() => undefined);
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw Object.assign(new CheckpointError(where, `could not write ${path} (previous content kept): ${reason}`), { cause });
  }
  await syncDir(dirname(path));
  return total;
}

/** Makes the rename itself durable. Best effort: some platforms (Windows) cannot fsync a directory. */
async function syncDir(dir: string): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch {
    // The rename already happened; failing here would report a write that succeeded as failed.
  } finally {
    await fh?.close().catch(() => undefined);
  }
}
