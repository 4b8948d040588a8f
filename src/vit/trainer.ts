import { promiseCache, type SessionOptions } from '../graph/runtime.js';
import type { Trainable } from '../train/fit.js';
import type { ParamStore } from '../train/optim.js';
import { GradStep } from '../train/step.js';
import { forward, type VitModel } from './api.js';
import { trainGraph } from './model.js';

export interface VitTrainableOptions {
  /** Label smoothing of the training loss (the reference recipe: 0.1). */
  readonly labelSmoothing?: number;
  readonly session?: SessionOptions;
}

const steps = promiseCache<GradStep>();

/**
 * A ViT as `fit` trains it: the parameter store shares the model's tensors (updates land in
 * `model.params`), one compiled forward+backward graph per config, and `vit.forward` to predict.
 */
export async function vitTrainable(model: VitModel, opts: VitTrainableOptions = {}): Promise<Trainable & { readonly model: VitModel }> {
  const step = steps(JSON.stringify([model.config, opts]), () =>
    GradStep.compile(trainGraph(model.config, { labelSmoothing: opts.labelSmoothing ?? 0 }), Object.keys(model.params), opts.session),
  );
  const s = await step;
  const params: ParamStore = new Map(Object.entries(model.params));
  return {
    name: model.config.name,
    config: model.config,
    model,
    params,
    step: (batch) => s.run(params, { images: batch.images, labels: batch.labels }),
    predict: (images) => forward(model, images, opts.session),
  };
}
