/**
 * Models as the commands meet them: rebuilt from a checkpoint, and run with progress. Shared by
 * `eval` and `train` now and by `prune`/`export` later.
 */
import type { Dataset } from '../data/dataset.js';
import type { LoadedCheckpoint } from '../io/checkpoint.js';
import { CheckpointError } from '../tensor/errors.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Trainable } from '../train/fit.js';
import { type Model, type ModelConfig, modelFromStateDict, resolveModelConfig } from '../vit/registry.js';
import type { Progress } from './progress.js';

/** Optimizer state rides in training checkpoints under this prefix (see train/fit.ts); a model ignores it. */
export const OPTIMIZER_PREFIX = 'optim:';

/**
 * The model a checkpoint holds (ViT or SReT): config from its sidecar, tensors minus optimizer
 * state. A missing or invalid config throws CheckpointError naming the sidecar; missing or extra
 * parameters throw CheckpointError, wrong shapes ShapeError.
 */
export function modelFromCheckpoint(ck: LoadedCheckpoint): Model {
  const where = 'checkpoint';
  const raw = ck.info['config'];
  if (raw === undefined) throw new CheckpointError(where, `${ck.paths.sidecar} has no config (was it written by apt-prune train?)`);
  let config: ModelConfig;
  try {
    config = resolveModelConfig(raw as unknown as ModelConfig);
  } catch (e) {
    throw new CheckpointError(where, `${ck.paths.sidecar}: config is not a ViT or SReT config: ${(e as Error).message}`);
  }
  const params: Record<string, Tensor> = {};
  for (const [k, t] of Object.entries(ck.tensors)) if (!k.startsWith(OPTIMIZER_PREFIX)) params[k] = t;
  return modelFromStateDict(config, params);
}

/** Throws CheckpointError unless `c` takes Fashion-MNIST (28×28×1, 10 classes). */
export function assertFashionModel(c: ModelConfig, file: string): void {
  if (c.imageSize !== 28 || c.inChans !== 1 || c.numClasses !== 10) {
    throw new CheckpointError(
      'checkpoint',
      `${file} holds ${c.name} (${c.imageSize}×${c.imageSize}×${c.inChans}, ${c.numClasses} classes); the CLI evaluates Fashion-MNIST models (28×28×1, 10 classes)`,
    );
  }
}

/**
 * `predict` that reports `evaluating <label> done/n` to `progress` as batches go by. It restarts
 * the count whenever a pass over `ds` is complete, so one wrapper serves every epoch's eval.
 */
export function withEvalProgress<T extends Pick<Trainable, 'predict'>>(t: T, ds: Dataset, label: string, progress: Progress): T {
  let done = 0;
  return {
    ...t,
    predict: async (images: Tensor<'float32'>) => {
      if (done >= ds.n) done = 0;
      if (done === 0) progress.phase(`evaluating ${label}`, 0, ds.n); // starts the phase's clock
      const out = await t.predict(images);
      done += images.dims[0] as number;
      progress.phase(`evaluating ${label}`, done, ds.n);
      return out;
    },
  };
}
