import type { SessionOptions } from '../../graph/runtime.js';
import { promiseCache } from '../../graph/runtime.js';
import { GraphError } from '../../tensor/errors.js';
import { Rng } from '../../tensor/rng.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { Trainable } from '../../train/fit.js';
import type { ParamStore } from '../../train/optim.js';
import { updateRunningStats as updateRunning } from '../../train/running-stats.js';
import { GradStep } from '../../train/step.js';
import { forward, type SretModel } from './api.js';
import { convOut, type SretConfig } from './config.js';
import { batchMeanName, batchVarName, trainGraph } from './model.js';
import { DROP_PATH_INPUT, drawDropPath, drawPermutations } from './schedule.js';

/** BN momentum of the running statistics (PyTorch's default). */
export const BN_MOMENTUM = 0.1;

/** Pixels per channel each stem BN normalises over, per image: H_i·W_i after conv i. */
export function stemBnPixels(c: SretConfig): number[] {
  let side = c.imageSize;
  return c.stemStrides.map((s) => {
    side = convOut(side, s);
    return side * side;
  });
}

/**
 * PyTorch's running-statistics update, in place on `model.buffers`, from one training step's
 * outputs (`batch_mean:<bn>`, `batch_var:<bn>`, biased): running ← (1 − m)·running + m·batch, with
 * the variance made unbiased by M/(M − 1), M = B·H·W. Increments `numBatchesTracked`.
 */
export function updateRunningStats(model: SretModel, outputs: Readonly<Record<string, Tensor>>, batchSize: number, momentum = BN_MOMENTUM): void {
  stemBnPixels(model.config).forEach((pixels, i) => {
    const key = `patch_embed.bn${i + 1}`;
    const [mean, variance] = [outputs[batchMeanName(key)], outputs[batchVarName(key)]];
    if (!mean || !variance)
      throw new GraphError('sret.updateRunningStats', `outputs lack ${batchMeanName(key)} / ${batchVarName(key)} (train graph without bn: 'train'?)`);
    const rm = (model.buffers[`${key}.running_mean`] as Tensor<'float32'>).data;
    const rv = (model.buffers[`${key}.running_var`] as Tensor<'float32'>).data;
    updateRunning(rm, rv, mean.data as Float32Array, variance.data as Float32Array, momentum, batchSize * pixels);
  });
  model.stats.numBatchesTracked++;
}

export interface SretTrainableOptions {
  readonly labelSmoothing?: number;
  /** Seeds the permutation and DropPath draws (training) and the eval permutations. */
  readonly seed?: number;
  readonly session?: SessionOptions;
}

const steps = promiseCache<GradStep>();

/** The cached forward+backward step of a config. */
function gradStep(model: SretModel, opts: SretTrainableOptions): Promise<GradStep> {
  const key = JSON.stringify([model.config, opts.labelSmoothing ?? 0, opts.session ?? {}]);
  return steps(key, () => GradStep.compile(trainGraph(model.config, { labelSmoothing: opts.labelSmoothing ?? 0 }), Object.keys(model.params), opts.session));
}

/**
 * An SReT as `train.fit` trains it. Each step draws fresh permutations and per-sample DropPath
 * scales from a seeded stream, runs the compiled forward+backward graph and, with `bn: 'train'`,
 * updates the stem's running statistics. `params` shares the model's parameter tensors (the
 * optimizer updates them in place) and `buffers` its BN running statistics (checkpointed with the
 * parameters by `fit`); weight-decay groups come from `train.noDecay`, which exempts α/β, biases,
 * norms and pos_embed (`sret.noDecayKey` says the same per key). `predict` is the eval forward
 * (running statistics, no DropPath, permutations from a seeded eval stream).
 */
export async function sretTrainable(model: SretModel, opts: SretTrainableOptions = {}): Promise<Trainable & { readonly model: SretModel }> {
  const s = await gradStep(model, opts);
  const c = model.config;
  const params: ParamStore = new Map(Object.entries(model.params));
  const buffers: ParamStore = new Map(Object.entries(model.buffers));
  const root = new Rng(opts.seed ?? 0);
  const trainRng = root.split();
  const evalRng = root.split();
  return {
    name: c.name,
    config: c,
    model,
    params,
    buffers,
    step: async (batch) => {
      const b = batch.images.dims[0] as number;
      const drop = drawDropPath(c, b, trainRng);
      const feeds: Record<string, Tensor> = { images: batch.images, labels: batch.labels, ...model.buffers, ...drawPermutations(c, trainRng) };
      if (drop) feeds[DROP_PATH_INPUT] = drop;
      const res = await s.run(model.params, feeds);
      if (c.bn === 'train') updateRunningStats(model, res.outputs, b);
      return res;
    },
    predict: (images) => forward(model, images, { rng: evalRng.split(), session: opts.session }),
  };
}

/** Whether AdamW recipes exempt `key` from weight decay: α/β (`coefficient<i>.bias`), biases, norms (LN and BN) and `pos_embed`. */
export function noDecayKey(key: string): boolean {
  return key === 'pos_embed' || /\.coefficient\d\.bias$/.test(key) || /\.bias$/.test(key) || /(^|\.)(norm\d?|bn\d)\.weight$/.test(key);
}
