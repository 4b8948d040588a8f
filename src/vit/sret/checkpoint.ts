import { readSafetensors, type SafetensorsFile, writeSafetensors } from '../../io/safetensors.js';
import { CheckpointError, DTypeError, fmtDims, ShapeError } from '../../tensor/errors.js';
import { clone, type Tensor, tensor } from '../../tensor/tensor.js';
import type { SretModel } from './api.js';
import { resolveSretConfig, type SretConfig, type SretPreset } from './config.js';
import { bufferShapes, duplicateKeys, paramShapes } from './params.js';

const TRACKED = /^patch_embed\.bn[123]\.num_batches_tracked$/;

function listed(keys: readonly string[]): string {
  return keys.length <= 12 ? keys.join(', ') : `${keys.slice(0, 12).join(', ')} … and ${keys.length - 12} more`;
}

/** First index where two float tensors differ (bitwise, so NaN = NaN), or -1. */
function firstDifference(a: Tensor, b: Tensor): number {
  const [x, y] = [a.data as Float32Array, b.data as Float32Array];
  for (let i = 0; i < x.length; i++) if (!Object.is(x[i], y[i])) return i;
  return -1;
}

/**
 * An SReT from a state dict in the reference checkpoint's layout (`SReT.py`'s `state_dict()`:
 * each shared block repeated at `blocks.<2Lk+2r>`), or in the compact layout without repeats. Each
 * repeat must equal its first copy exactly and is dropped; `num_batches_tracked` is read, not
 * required. Missing and unexpected keys → CheckpointError (listed together); a repeat that differs →
 * CheckpointError naming both keys; wrong dims → ShapeError naming the key and both shapes.
 */
export function fromStateDict(presetOrConfig: SretPreset | SretConfig, sd: Readonly<Record<string, Tensor>>): SretModel {
  const where = 'sret.fromStateDict';
  const config = resolveSretConfig(presetOrConfig, where);
  const want = new Map([...paramShapes(config), ...bufferShapes(config)]);
  const dups = duplicateKeys(config);
  const reference = [...dups.keys()].some((k) => k in sd);
  const required = reference ? [...want.keys(), ...dups.keys()] : [...want.keys()];
  const missing = required.filter((k) => !(k in sd));
  const extra = Object.keys(sd).filter((k) => !want.has(k) && !(reference && dups.has(k)) && !TRACKED.test(k));
  if (missing.length > 0 || extra.length > 0) {
    const parts = [missing.length ? `missing ${listed(missing)}` : '', extra.length ? `unexpected ${listed(extra)}` : ''].filter(Boolean);
    const layout = reference ? 'the reference layout (shared blocks repeated)' : 'the compact layout';
    throw new CheckpointError(where, `state dict does not match ${config.name} in ${layout}: ${parts.join('; ')}`);
  }
  const bad: string[] = [];
  for (const k of required) {
    const t = sd[k] as Tensor;
    const dims = want.get(k) ?? want.get(dups.get(k) as string) ?? [];
    if (t.type !== 'float32') throw new DTypeError(where, `${k} must be float32, got ${t.type}`);
    if (t.dims.length !== dims.length || t.dims.some((d, i) => d !== dims[i])) bad.push(`${k}: expected ${fmtDims(dims)}, got ${fmtDims(t.dims)}`);
  }
  if (bad.length > 0) throw new ShapeError(where, `state dict does not match ${config.name}: ${bad.join('; ')}`);
  if (reference) {
    for (const [rep, first] of dups) {
      const i = firstDifference(sd[rep] as Tensor, sd[first] as Tensor);
      if (i >= 0) {
        const [a, b] = [(sd[first] as Tensor).data[i], (sd[rep] as Tensor).data[i]];
        throw new CheckpointError(where, `shared block copies differ: ${rep} != ${first} (first at flat index ${i}: ${String(b)} vs ${String(a)})`);
      }
    }
  }
  const pick = (keys: Iterable<string>) => Object.fromEntries([...keys].map((k) => [k, sd[k] as Tensor<'float32'>]));
  const tracked = Object.keys(sd).filter((k) => TRACKED.test(k));
  const numBatchesTracked = tracked.length > 0 ? Number((sd[tracked[0] as string] as Tensor).data[0] ?? 0) : 0;
  return {
    config,
    params: pick(paramShapes(config).map(([k]) => k)),
    buffers: pick(bufferShapes(config).map(([k]) => k)),
    stats: { numBatchesTracked },
  };
}

export interface ToStateDictOptions {
  /** `'reference'` (default): repeats written back and `num_batches_tracked` (int64 0-d) added, as `SReT.py` saves; `'compact'`: each tensor once. */
  readonly layout?: 'reference' | 'compact';
}

/** The model as a state dict (copies): parameters, BN buffers and, in the reference layout, the shared-block repeats. */
export function toStateDict(model: SretModel, opts: ToStateDictOptions = {}): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const [k, t] of Object.entries({ ...model.params, ...model.buffers })) out[k] = clone(t);
  if ((opts.layout ?? 'reference') === 'reference') {
    for (const [rep, first] of duplicateKeys(model.config)) out[rep] = clone(model.params[first] as Tensor<'float32'>);
    for (const i of [1, 2, 3]) out[`patch_embed.bn${i}.num_batches_tracked`] = tensor(BigInt64Array.of(BigInt(model.stats.numBatchesTracked)), [], 'int64');
  }
  return out;
}

/** Writes the model as safetensors (reference layout by default), atomically. */
export function saveSafetensors(model: SretModel, path: string, opts: ToStateDictOptions = {}): Promise<SafetensorsFile> {
  return writeSafetensors(path, toStateDict(model, opts), { format: 'apt-prune.sret', preset: model.config.name });
}

/** Reads a safetensors state dict (reference or compact layout) into a model for `presetOrConfig`. */
export async function loadSafetensors(presetOrConfig: SretPreset | SretConfig, path: string | URL | Uint8Array): Promise<SretModel> {
  return fromStateDict(presetOrConfig, await readSafetensors(path));
}
