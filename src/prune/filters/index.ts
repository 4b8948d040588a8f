/**
 * Filter ranking (specs/cops.md §7, §8): L1 filter scores (Li et al.) and entropy scores (Luo & Wu),
 * the n_keep rule, independent or greedy multi-layer ranking, structured removal through the one
 * channel-slicing implementation (`prune.removeCnnChannels`), sensitivity analysis with the δ rule,
 * its JSON and PNG plot, and the uniform ratio at a MACs budget. See docs/cops.md.
 */
export {
  activationMeans,
  balancedSubset,
  type EntropyOptions,
  entropyScores,
  entropyScoresOf,
  postActivation,
} from './entropy.js';
export { checkRatio, filterGroups, groupOf, SENSITIVITY_RATIOS } from './layers.js';
export { type PlotOptions, sensitivityPng } from './plot.js';
export { type FilterRanking, maskFilters, type PrunedFilters, pruneFilters, type RankedLayer, type RankOptions, rankFilters } from './prune.js';
export { type FilterCriterion, type L1Options, l1FilterScores, nKeep, pruneOrder, selectFilters } from './rank.js';
export { type FilterRunEvent, type FilterRunOptions, type FilterRunResult, type RatioSource, retrainRecipe, runFilterPruning } from './run.js';
export {
  type ChosenRatios,
  chooseRatios,
  deltaRule,
  parseSensitivity,
  SENSITIVITY_FORMAT,
  type SensitivityCurve,
  type SensitivityEvent,
  type SensitivityOptions,
  type SensitivityResult,
  sensitivity,
} from './sensitivity.js';
export { macsOfRatios, uniformRatioForMacs } from './uniform.js';
