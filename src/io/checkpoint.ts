/**
 * Checkpoints: `<prefix>.safetensors` (the tensors) + `<prefix>.json` (the sidecar: config, seed,
 * step, metrics, any JSON state, and the size and sha256 of the tensor file). Both files are
 * written atomically, tensors first: the sidecar is the commit record, so a run killed at any
 * moment leaves either a complete checkpoint or none under that prefix — never a sidecar pointing
 * at a partial or missing tensor file. Writing each step under its own prefix (the directory
 * form does) keeps the previous checkpoint intact while the next is written.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { CheckpointError, ValueError } from '../tensor/errors.js';
import type { Tensor } from '../tensor/tensor.js';
import { TEMP_MARKER, writeFileAtomic } from './atomic.js';
import { decodeIn } from './decode.js';
import { isCount, show, utf8 } from './format.js';
import { assertJson, findDuplicateKey, isPlainObject, type Json } from './json.js';
import { readBytes, writeSafetensors } from './safetensors.js';

/** Value of the sidecar's `format` field; directory scans only consider JSON files carrying it. */
export const CHECKPOINT_FORMAT = 'apt-prune.checkpoint';
const VERSION = 1;
const RESERVED = ['format', 'version', 'safetensors'] as const;

/** The caller's sidecar fields. Any further keys are allowed; every value must be JSON. */
export interface CheckpointInfo {
  readonly config?: unknown;
  /** Integer seed of the run's Rng. */
  readonly seed?: number;
  /** Non-negative integer; the directory form names the files `step-<8 digits>` after it. */
  readonly step?: number;
  readonly metrics?: Readonly<Record<string, number>>;
  readonly [key: string]: unknown;
}

/** The sidecar as stored: format marker, tensor-file fingerprint, then the caller's fields. */
export interface CheckpointSidecar {
  readonly format: typeof CHECKPOINT_FORMAT;
  readonly version: typeof VERSION;
  readonly safetensors: { readonly bytes: number; readonly sha256: string };
  readonly [key: string]: Json;
}

export interface CheckpointPaths {
  readonly tensors: string;
  readonly sidecar: string;
}

export interface SavedCheckpoint {
  readonly paths: CheckpointPaths;
  /** Size and sha256 (hex) of the tensor file: identifies this checkpoint (e.g. in pruning plans). */
  readonly bytes: number;
  readonly sha256: string;
}

export interface LoadedCheckpoint extends SavedCheckpoint {
  readonly tensors: Record<string, Tensor>;
  /** The safetensors `__metadata__` map (`{}` when absent). */
  readonly metadata: Record<string, string>;
  /** The caller's sidecar fields, as saved. */
  readonly info: { readonly [key: string]: Json };
}

/**
 * Saves a checkpoint. `target` is a path prefix (`runs/a/best` → `runs/a/best.safetensors` +
 * `runs/a/best.json`; a trailing `.safetensors`/`.json` is ignored) or a directory (existing, or
 * written with a trailing slash), in which case the prefix is `<dir>/step-<step, 8 digits>`, or
 * `<dir>/checkpoint` without a step. Parent directories are created. Input is validated before
 * any file is written (ValueError / ShapeError / DTypeError); I/O failures throw CheckpointError.
 * Re-saving one prefix replaces its two files one after the other: a crash or failure between
 * them leaves a pair that `loadCheckpoint` rejects (sha256 mismatch), never a silently wrong one.
 * Runs that must resume should save each step under its own prefix (the directory form), where a
 * failed save leaves every earlier checkpoint untouched.
 */
export async function saveCheckpoint(
  target: string,
  checkpoint: { readonly tensors: Readonly<Record<string, Tensor>>; readonly sidecar?: CheckpointInfo; readonly metadata?: Readonly<Record<string, string>> },
): Promise<SavedCheckpoint> {
  const where = 'saveCheckpoint';
  if (!isPlainObject(checkpoint)) throw new ValueError(where, `checkpoint must be { tensors, sidecar?, metadata? }, got ${show(checkpoint)}`);
  const info = checkInfo(checkpoint.sidecar ?? {}, (what) => new ValueError(where, what));
  const resolved = await resolveTarget(where, target);
  const step = typeof info['step'] === 'number' ? info['step'] : undefined;
  const prefix = 'dir' in resolved ? join(resolved.dir, step === undefined ? 'checkpoint' : `step-${String(step).padStart(8, '0')}`) : resolved.prefix;
  const paths = { tensors: `${prefix}.safetensors`, sidecar: `${prefix}.json` };
  await mkdir(dirname(prefix), { recursive: true });
  const file = await writeSafetensors(paths.tensors, checkpoint.tensors, checkpoint.metadata);
  const sidecar = { format: CHECKPOINT_FORMAT, version: VERSION, safetensors: { bytes: file.bytes, sha256: file.sha256 }, ...info };
  await writeFileAtomic(paths.sidecar, utf8.encode(`${JSON.stringify(sidecar, null, 2)}\n`), where);
  return { paths, bytes: file.bytes, sha256: file.sha256 };
}

/**
 * Loads a checkpoint saved by `saveCheckpoint`. `target` is the same prefix (or either file's
 * path), or a directory, which loads its latest checkpoint (`latestCheckpoint`). Throws
 * CheckpointError when a file is missing or unreadable, the sidecar is malformed, the tensor
 * file's size or sha256 differs from what its sidecar recorded, or the tensors are malformed.
 */
export async function loadCheckpoint(target: string): Promise<LoadedCheckpoint> {
  const where = 'loadCheckpoint';
  const resolved = await resolveTarget(where, target);
  let prefix: string;
  if ('dir' in resolved) {
    const latest = await latestCheckpoint(resolved.dir);
    if (latest === undefined) throw new CheckpointError(where, `no checkpoint in ${resolved.dir} (no *.json sidecar with format "${CHECKPOINT_FORMAT}")`);
    prefix = latest.prefix;
  } else prefix = resolved.prefix;
  const paths = { tensors: `${prefix}.safetensors`, sidecar: `${prefix}.json` };
  const { safetensors: recorded, info } = parseSidecar(
    await readBytes(where, paths.sidecar),
    (what) => new CheckpointError(where, `${paths.sidecar}: ${what}`),
  );
  const bytes = await readBytes(where, paths.tensors);
  if (bytes.byteLength !== recorded.bytes) {
    throw new CheckpointError(
      where,
      `${paths.tensors} is ${bytes.byteLength} bytes but ${paths.sidecar} records ${recorded.bytes}: the files do not belong together`,
    );
  }
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  if (sha256 !== recorded.sha256) {
    throw new CheckpointError(where, `${paths.tensors} has sha256 ${sha256} but ${paths.sidecar} records ${recorded.sha256}: the files do not belong together`);
  }
  const { tensors, metadata } = decodeIn(bytes, { where, file: paths.tensors });
  return { paths, bytes: bytes.byteLength, sha256, tensors, metadata, info };
}

/**
 * The newest checkpoint in `dir`: among `*.json` files whose `format` is `apt-prune.checkpoint`,
 * the one with the highest `step` (no step counts as −1; ties go to the later file name).
 * `undefined` when there is none. Only sidecars are considered: a tensor file whose sidecar was
 * never written (a killed save) is not a checkpoint. Resolves to `{ prefix, step }` for `loadCheckpoint`.
 */
export async function latestCheckpoint(dir: string): Promise<{ prefix: string; step: number | undefined } | undefined> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (cause) {
    throw Object.assign(new CheckpointError('latestCheckpoint', `cannot list ${dir}: ${(cause as Error).message}`), { cause });
  }
  let best: { prefix: string; step: number | undefined; rank: number } | undefined;
  for (const name of names.sort()) {
    if (!name.endsWith('.json') || name.includes(TEMP_MARKER)) continue;
    const sidecar = await peekSidecar(join(dir, name));
    if (sidecar === undefined) continue;
    const step = isCount(sidecar['step']) ? sidecar['step'] : undefined;
    const rank = step ?? -1;
    if (best === undefined || rank >= best.rank) best = { prefix: join(dir, name.slice(0, -'.json'.length)), step, rank };
  }
  return best && { prefix: best.prefix, step: best.step };
}

/** A JSON file's parsed object if it is marked as our sidecar; anything else is someone else's file. */
async function peekSidecar(path: string): Promise<Record<string, unknown> | undefined> {
  try {
    const v: unknown = JSON.parse(new TextDecoder().decode(await readBytes('latestCheckpoint', path)));
    return isPlainObject(v) && v['format'] === CHECKPOINT_FORMAT ? v : undefined;
  } catch {
    return undefined;
  }
}

function parseSidecar(bytes: Uint8Array, fail: (what: string) => Error): { safetensors: CheckpointSidecar['safetensors']; info: Record<string, Json> } {
  let text: string;
  let v: unknown;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    v = JSON.parse(text);
  } catch (e) {
    throw fail(`sidecar is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (!isPlainObject(v)) throw fail(`sidecar must be a JSON object, got ${show(v)}`);
  const dup = findDuplicateKey(text);
  if (dup !== undefined) throw fail(`sidecar has the key ${JSON.stringify(dup)} twice`);
  const { format, version, safetensors, ...rest } = v;
  if (format !== CHECKPOINT_FORMAT) throw fail(`format must be "${CHECKPOINT_FORMAT}", got ${show(format)}`);
  if (version !== VERSION) throw fail(`version must be ${VERSION}, got ${show(version)} (written by another apt-prune version?)`);
  if (
    !isPlainObject(safetensors) ||
    !isCount(safetensors['bytes']) ||
    typeof safetensors['sha256'] !== 'string' ||
    !/^[0-9a-f]{64}$/.test(safetensors['sha256'])
  ) {
    throw fail(`safetensors must be { bytes: integer, sha256: 64 hex digits }, got ${show(safetensors)}`);
  }
  return { safetensors: { bytes: safetensors['bytes'], sha256: safetensors['sha256'] }, info: checkInfo(rest, fail) };
}

/** Validates the caller's fields (on save and on load) and returns their JSON form. */
function checkInfo(info: unknown, fail: (what: string) => Error): Record<string, Json> {
  if (!isPlainObject(info)) throw fail(`sidecar must be a plain object of JSON fields, got ${show(info)}`);
  for (const k of RESERVED) if (Object.hasOwn(info, k)) throw fail(`sidecar.${k} is reserved for the checkpoint format`);
  assertJson(info, 'sidecar', fail);
  const { step, seed, metrics } = info;
  if (step !== undefined && !isCount(step)) throw fail(`sidecar.step must be a non-negative integer, got ${show(step)}`);
  if (seed !== undefined && !Number.isSafeInteger(seed)) throw fail(`sidecar.seed must be an integer, got ${show(seed)}`);
  if (metrics !== undefined && !(isPlainObject(metrics) && Object.values(metrics).every((m) => typeof m === 'number'))) {
    throw fail(`sidecar.metrics must be an object of numbers, got ${show(metrics)}`);
  }
  return JSON.parse(JSON.stringify(info)) as Record<string, Json>;
}

/** A directory (existing, or spelt with a trailing slash) or a file prefix without extension. */
async function resolveTarget(where: string, target: string): Promise<{ dir: string } | { prefix: string }> {
  if (typeof target !== 'string' || target === '') throw new ValueError(where, `target must be a non-empty path, got ${show(target)}`);
  if (/[\\/]$/.test(target)) return { dir: target };
  const isDir = await stat(target).then(
    (s) => s.isDirectory(),
    () => false,
  );
  return isDir ? { dir: target } : { prefix: target.replace(/\.(safetensors|json)$/, '') };
}
