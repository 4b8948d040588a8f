import { Graph } from '../graph/builder.js';
import { correctCount, linear, softmaxCrossEntropy } from '../graph/nn.js';
import type { Value } from '../graph/types.js';
import { addGradients } from '../train/step.js';
import type { CnnConfig, Layer } from './config.js';
import { cnnParamShapes } from './params.js';

export interface CnnBuildOptions {
  /** 'train': BN normalises with batch statistics (and returns them); 'eval': running statistics. */
  readonly mode: 'train' | 'eval';
  /** Replaces a layer's value before later layers read it (e.g. a compactor after a BN). */
  readonly transform?: (layer: Layer, value: Value) => Value;
  /** Computes a conv layer another way (e.g. float64 by MatMul, where ORT has no float64 Conv). */
  readonly conv?: (layer: Extract<Layer, { kind: 'conv' }>, x: Value, weight: Value, bias: Value | undefined) => Value;
}

export interface CnnForward {
  readonly logits: Value;
  /** Every layer's value (after `transform`), by layer name. */
  readonly values: ReadonlyMap<string, Value>;
  /** Train mode: each BN's batch mean and biased variance [C]. */
  readonly batchStats: ReadonlyMap<string, { readonly mean: Value; readonly variance: Value }>;
}

/** Graph values of a CNN's parameters and BN buffers, by PyTorch name. */
export function cnnParams(g: Graph, c: CnnConfig): Record<string, Value> {
  return Object.fromEntries(cnnParamShapes(c).map(({ name, dims }) => [name, g.param(name, dims)]));
}

/** The forward pass of `c` on images [B, C, H, W] → logits [B, classes]. */
export function buildCnn(g: Graph, c: CnnConfig, p: Readonly<Record<string, Value>>, images: Value, opts: CnnBuildOptions): CnnForward {
  const values = new Map<string, Value>([['input', images]]);
  const batchStats = new Map<string, { mean: Value; variance: Value }>();
  const v = (name: string) => values.get(name) as Value;
  const w = (l: Layer, k: string) => p[`${l.name}.${k}`] as Value;
  for (const l of c.layers) {
    const y = g.scope(l.name, (): Value => {
      switch (l.kind) {
        case 'conv':
          if (opts.conv) return opts.conv(l, v(l.input), w(l, 'weight'), l.bias ? w(l, 'bias') : undefined);
          return g.Conv(v(l.input), w(l, 'weight'), l.bias ? w(l, 'bias') : undefined, { strides: [l.stride, l.stride], pads: [l.pad, l.pad, l.pad, l.pad] });
        case 'bn': {
          const args = [v(l.input), w(l, 'weight'), w(l, 'bias'), w(l, 'running_mean'), w(l, 'running_var')] as const;
          if (opts.mode === 'eval') return g.BatchNormalization(...args, { epsilon: l.eps })[0] as Value;
          const [out, mean, variance] = g.BatchNormalization(...args, { epsilon: l.eps, training: true }) as [Value, Value, Value];
          batchStats.set(l.name, { mean, variance });
          return out;
        }
        case 'relu':
          return g.Relu(v(l.input));
        case 'add':
          return g.Add(v(l.inputs[0]), v(l.inputs[1]));
        case 'maxpool':
          return g.MaxPool(v(l.input), [l.kernel, l.kernel], { strides: [l.stride, l.stride] });
        case 'gap':
          return g.GlobalAveragePool(v(l.input));
        case 'flatten':
          return g.Flatten(v(l.input), 1);
        case 'linear':
          return linear(g, v(l.input), w(l, 'weight'), l.bias ? w(l, 'bias') : undefined);
      }
    });
    values.set(l.name, opts.transform ? opts.transform(l, y) : y);
  }
  return { logits: v(c.output), values, batchStats };
}

/** Inference graph: `images` [B, C, H, W] → `logits`, BN with running statistics. */
export function cnnInferenceGraph(c: CnnConfig): Graph {
  const g = new Graph(`${c.name}-forward`);
  const images = g.input('images', 'float32', ['B', c.inChans, c.imageSize, c.imageSize]);
  g.output('logits', buildCnn(g, c, cnnParams(g, c), images, { mode: 'eval' }).logits);
  return g;
}

/** Output name of a BN's batch statistic in the training graph. */
export const bnStatName = (bn: string, which: 'mean' | 'var'): string => `bnstat:${bn}.${which}`;

/**
 * Training graph: inputs `images`, `labels` (int64 [B]); outputs `loss` (smoothed cross-entropy),
 * `correct`, `grad:<name>` for every trainable parameter (not the BN buffers), and each BN's batch
 * mean and variance (`bnstat:<bn>.mean|var`) for the running-statistics update.
 */
export function cnnTrainGraph(c: CnnConfig, opts: { readonly labelSmoothing?: number } = {}): Graph {
  const g = new Graph(`${c.name}-train`);
  const images = g.input('images', 'float32', ['B', c.inChans, c.imageSize, c.imageSize]);
  const labels = g.input('labels', 'int64', ['B']);
  const p = cnnParams(g, c);
  const f = buildCnn(g, c, p, images, { mode: 'train' });
  const loss = softmaxCrossEntropy(g, f.logits, labels, { labelSmoothing: opts.labelSmoothing ?? 0 });
  g.output('correct', correctCount(g, f.logits, labels));
  for (const [bn, s] of f.batchStats) {
    g.output(bnStatName(bn, 'mean'), s.mean);
    g.output(bnStatName(bn, 'var'), s.variance);
  }
  const trainable = cnnParamShapes(c).filter((s) => !s.buffer);
  addGradients(g, loss, Object.fromEntries(trainable.map((s) => [s.name, p[s.name] as Value])));
  return g;
}
