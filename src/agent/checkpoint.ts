import { type CheckpointInfo, loadCheckpoint, type SavedCheckpoint, saveCheckpoint } from '../io/checkpoint.js';
import { CheckpointError } from '../tensor/errors.js';
import type { Tensor } from '../tensor/tensor.js';
import { fromStateDict, type VitModel } from '../vit/api.js';
import { resolveConfig, type VitConfig } from '../vit/config.js';
import type { PrunerOptions } from './config.js';
import { TokenPruner } from './pruner.js';

/** Saves a ViT with its pruners: timm keys + `clip_layer.*` tensors, the pruner config in the sidecar. */
export function saveAptCheckpoint(target: string, model: VitModel, pruner: TokenPruner, info: CheckpointInfo = {}): Promise<SavedCheckpoint> {
  return saveCheckpoint(target, {
    tensors: { ...model.params, ...pruner.params },
    sidecar: { ...info, config: model.config, pruner: pruner.config as unknown as Record<string, unknown> },
  });
}

/**
 * Loads a checkpoint written by `saveAptCheckpoint`, or a plain ViT checkpoint (from `apt-prune
 * train`), in which case fresh pruners are created with `opts` (seeded). Optimizer tensors are ignored.
 */
export async function loadAptCheckpoint(
  target: string,
  opts: PrunerOptions & { readonly seed?: number } = {},
): Promise<{ model: VitModel; pruner: TokenPruner; info: Record<string, unknown>; sha256: string }> {
  const ck = await loadCheckpoint(target);
  const config = ck.info.config as unknown as VitConfig;
  if (!config || typeof config !== 'object') throw new CheckpointError('loadAptCheckpoint', `${ck.paths.sidecar} has no ViT config`);
  const vitConfig = resolveConfig(config);
  const vitTensors: Record<string, Tensor> = {};
  for (const [k, t] of Object.entries(ck.tensors)) if (!k.startsWith('clip_layer.') && !k.startsWith('optim:')) vitTensors[k] = t;
  const model = fromStateDict(vitConfig, vitTensors);
  const saved = ck.info.pruner as unknown as { cutLayers?: number[]; strategy?: unknown; fuse?: boolean } | undefined;
  const prunerOpts = saved ? { cutLayers: saved.cutLayers, strategy: saved.strategy as PrunerOptions['strategy'], fuse: saved.fuse, ...opts } : opts;
  const hasPruner = Object.keys(ck.tensors).some((k) => k.startsWith('clip_layer.'));
  const pruner = hasPruner ? TokenPruner.fromStateDict(vitConfig, ck.tensors, prunerOpts) : TokenPruner.create(vitConfig, prunerOpts);
  return { model, pruner, info: ck.info, sha256: ck.sha256 };
}
