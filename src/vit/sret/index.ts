/**
 * SReT (Sliced Recursive Transformer, Shen et al. ECCV 2022): conv stem, recursive weight-shared
 * blocks with NLLs and learnable residual scalars, sliced group attention with token permutation,
 * stage pools and a GAP head. Spec: specs/sret.md; guide: docs/sret.md.
 */
export { checkImages, create, forward, inferenceSession, type SretCreateOptions, type SretForwardOptions, type SretModel } from './api.js';
export {
  type GroupAttentionOptions,
  groupAttention,
  inversePermutation,
  nll,
  recursiveStage,
  type SharedBlockOptions,
  type StageOptions,
  sharedBlock,
} from './blocks.js';
export { fromStateDict, loadSafetensors, saveSafetensors, type ToStateDictOptions, toStateDict } from './checkpoint.js';
export {
  convOut,
  type GroupSpec,
  groupsAt,
  hiddenDims,
  isSretPreset,
  loops,
  type Permutation,
  resolveSretConfig,
  SRET_PRESETS,
  type SretConfig,
  type SretPreset,
  stageDim,
  stageGrids,
  type Tri,
  validateSretConfig,
} from './config.js';
export { type SretMacs, type SretMacsOptions, sretMacs } from './flops.js';
export {
  batchMeanName,
  batchVarName,
  classify,
  dropPathInputs,
  type ForwardInputs,
  forwardFeatures,
  inferenceGraph,
  permutationInputs,
  type SretFeatures,
  type SretTrainGraphOptions,
  trainGraph,
} from './model.js';
export {
  bufferShapes,
  countParams,
  duplicateKeys,
  initParams,
  type NllKey,
  paramBreakdown,
  paramShapes,
  type SharedBlockKey,
  type SretBufferKey,
  type SretKey,
  type StageKey,
  type StemKey,
  sretParams,
} from './params.js';
export {
  type Application,
  argsort,
  DROP_PATH_INPUT,
  type DropPathSite,
  drawDropPath,
  drawPermutations,
  dropPathRates,
  dropPathSites,
  type PermutationSite,
  permName,
  permutationSites,
  stageSchedule,
  stageTrace,
} from './schedule.js';
export { BN_EPS, type BnBatchStats, convStem, forwardHead, gridToTokens, stagePool, tokensToGrid } from './stem.js';
export { assertPrunableStage, type StageTokens, stageTokens } from './tokens.js';
export { BN_MOMENTUM, noDecayKey, type SretTrainableOptions, sretTrainable, stemBnPixels, updateRunningStats } from './trainer.js';
