import { ValueError } from '../tensor/errors.js';

/**
 * The rules a structured-pruning step checks (specs/resrep.md §3 and the plan format). A refused
 * layer or plan names one of them, so a user can look the rule up.
 */
export type PruneRule =
  | 'dense-target' // §3.1: the target is a conv with groups = 1, or a linear
  | 'zero-preserving-path' // §3.2: only per-channel ops with f(0) = 0 between the compactor and the consumers
  | 'dense-consumer' // §3.3: every consumer is a conv with groups = 1 or a linear
  | 'no-mixing-op' // §3.4: no Add, Mul, Concat, Split, Reshape, Transpose, channel norm or softmax on the path
  | 'not-graph-output' // §3.4: the channels must not leave the model as a graph output
  | 'finite-compactor' // a compactor (or score) with NaN or Inf cannot be ranked or merged
  | 'plan-indices' // kept indices: sorted, unique, in [0, width), at least one
  | 'plan-shapes' // the plan's widths and layers must match the model it is applied to
  | 'plan-source'; // the plan's source checkpoint sha256 must match when it is checked

/**
 * A layer that cannot be pruned, or a plan that does not fit the model: names the function, the
 * layer and the rule (`.layer`, `.rule`) with what was expected and what came.
 * A ValueError, so `catch (e) { if (e instanceof ValueError) … }` also sees it.
 */
export class PruneError extends ValueError {
  override name = 'PruneError';
  constructor(
    where: string,
    readonly layer: string,
    readonly rule: PruneRule,
    what: string,
  ) {
    super(where, `layer '${layer}' [${rule}]: ${what}`);
  }
}
