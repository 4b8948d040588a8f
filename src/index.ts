/**
 * apt-prune: composable pruning primitives for vision models on ONNX Runtime.
 *
 * Namespaces: `tensor` (Tensor, Rng, errors), `graph` (builder, autodiff, ONNX, sessions),
 * `vit` (ViT blocks and models), `reward` (pure APT reward functions), `train` (optimizers,
 * schedules, gradient steps), `prune` (channel slicing, BN fold, MACs, plans, ONNX pruning,
 * ResRep), `data` (Fashion-MNIST, MNIST, IDX, batches), `io` (safetensors, checkpoints). The
 * headline classes and functions are re-exported at the top level.
 */

export * as agent from './agent/index.js';
export { type KeepPlan, TokenPruner } from './agent/index.js';
export * as cnn from './cnn/index.js';
export * as data from './data/index.js';
export { backward } from './graph/backward.js';
export { Graph } from './graph/builder.js';
export * as graph from './graph/index.js';
export { compile, Session } from './graph/runtime.js';
export * as io from './io/index.js';
export { readSafetensors, writeSafetensors } from './io/safetensors.js';
export * as prune from './prune/index.js';
export * as reward from './reward/index.js';
export {
  CheckpointError,
  DTypeError,
  GraphError,
  MissingDependencyError,
  NonFiniteLossError,
  OnnxFormatError,
  ShapeError,
  ValueError,
} from './tensor/errors.js';
export * as tensor from './tensor/index.js';
export { Rng } from './tensor/rng.js';
export type { DType, Tensor } from './tensor/tensor.js';
export * as train from './train/index.js';
export * as vit from './vit/index.js';
