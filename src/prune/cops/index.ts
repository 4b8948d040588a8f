/**
 * COPS and pruning-at-initialisation scores (specs/cops.md): keep-scores per prunable weight
 * (magnitude, SNIP, GraSP, SynFlow, random), ℓ1 normalisation and the flatten/unflatten between
 * per-layer records and one global vector, the LP combiner (`combine`: bisection on λ, κ
 * mappings, O(d) selection), unstructured masks held through training, and the end-to-end
 * pruning-at-initialisation run. See docs/cops.md.
 */
export { type CombineOptions, type CombineResult, type CombineStatus, type ControlLevel, combine } from './combine.js';
export { InfeasibleControlError } from './errors.js';
export { flatten, keepCount, type LayerRecord, layoutOf, normalize, normalizeScores, prunableLayout, type ScoreLayout, unflatten } from './layout.js';
export { applyMasks, type LayerSparsity, type Masks, maskedTrainable, type SparsityReport, sparsityReport } from './mask.js';
export {
  balancedBatch,
  copsRecipe,
  type PruneAtInitOptions,
  type PruneAtInitResult,
  type PruneMethod,
  pruneAtInit,
  SCORE_NAMES,
  type ScoreName,
  scoreModel,
} from './run.js';
export {
  cnnLossProblem,
  grasp,
  graspOf,
  type LossProblem,
  lossGradients,
  magnitude,
  magnitudeOf,
  randomScores,
  type ScoreBatch,
  snip,
  snipOf,
} from './scores.js';
export { SelectWorkspace } from './select.js';
export { synflow } from './synflow.js';
export { topKMask } from './topk.js';
