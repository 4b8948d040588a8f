export { attentionPriorLoss } from './attention-prior.js';
export { loadAptCheckpoint, saveAptCheckpoint } from './checkpoint.js';
export {
  defaultCutLayers,
  keepCounts,
  type PrunerConfig,
  type PrunerOptions,
  resolvePrunerConfig,
  type Strategy,
  type StrategyInput,
  usesScorer,
} from './config.js';
export { type ExploreOptions, explore, exploreInContext, oneCutMask, toggledMasks } from './explore.js';
export { type AptGraphOptions, aptTrainGraph, type PrunedForward, type PruneMode, prunedForward, prunedInferenceGraph, prunerParams } from './graphs.js';
export { applyPlan, type KeepPlan, keepAll, meanKept, planOverlap, tokenCounts, tokensPerLayer } from './keep-plan.js';
export { checkScorers, initScorers, prunerKey, type ScorerKey, scorerFeeds, scorerParamCount, scorerShapes } from './params.js';
export { type RunResult, TokenPruner } from './pruner.js';
export { imageReport, macsRatio, validLines } from './report.js';
export { dropLogit, dropProbability, prunerLogits } from './scorer.js';
export { agentLossGraph, contextTailGraph, tailGraph } from './stream2-graphs.js';
export { allTokens, decideAndGather, decideMask, type Gathered, keyBias, straightThroughGate } from './tokens.js';
export { renderTokenMaps, type TokenMapImage } from './viz.js';
