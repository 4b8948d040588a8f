/**
 * apt-prune: composable pruning primitives for vision models on ONNX Runtime.
 *
 * Namespaces: `tensor` (Tensor, Rng, errors), `graph` (builder, autodiff, ONNX, sessions),
 * `train` (optimizers, schedules, losses). The headline types are re-exported at the top level.
 */

export { backward } from './graph/backward.js';
export { Graph } from './graph/builder.js';
export * as graph from './graph/index.js';
export { compile, Session } from './graph/runtime.js';
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
