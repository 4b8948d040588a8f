export type { AptPruneError } from './errors.js';
export {
  CheckpointError,
  DTypeError,
  fmtDims,
  GraphError,
  MissingDependencyError,
  NonFiniteLossError,
  OnnxFormatError,
  ShapeError,
  ValueError,
} from './errors.js';
export { l1Along, l2Along, permute, scaleAlong, takeAlong } from './ndarray.js';
export { Rng, type RngState } from './rng.js';
export {
  allocate,
  arange,
  assertDType,
  assertShape,
  cast,
  clone,
  type DataTypeMap,
  DTYPES,
  type DType,
  dtypeOf,
  type FloatDType,
  full,
  isDType,
  numel,
  ones,
  reshape,
  scalar,
  type Tensor,
  tensor,
  toNumbers,
  zeros,
} from './tensor.js';
