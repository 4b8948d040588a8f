import type { OpTable } from '../types.js';
import { convOps } from './conv.js';
import { elementwiseOps } from './elementwise.js';
import { geluOps } from './gelu.js';
import { indexingOps } from './indexing.js';
import { linalgOps } from './linalg.js';
import { normOps } from './norm.js';
import { poolOps } from './pool.js';
import { reduceOps } from './reduce.js';
import { shapeOps } from './shape-ops.js';
import { sliceOps } from './slice-ops.js';

/**
 * THE op table: one record per op with its shape rule, ONNX emission, decoder and VJP. Typed as
 * `{ [K in OpName]: OpRule<K> }`, so an op named in `OpAttrs` without a record — or a record without
 * a `vjp` (`noGrad` must be said explicitly) — is a compile error.
 */
export const ops: OpTable = {
  ...elementwiseOps,
  ...geluOps,
  ...linalgOps,
  ...shapeOps,
  ...sliceOps,
  ...indexingOps,
  ...reduceOps,
  ...normOps,
  ...convOps,
  ...poolOps,
};

export { DTYPE_OF_ONNX, ONNX_TYPE } from './elementwise.js';
