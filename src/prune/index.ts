/**
 * Structured pruning: channel slicing (the one implementation, ./channels.ts), the eligibility
 * analysis on op graphs (./deps.ts), BN folding, MACs, pruning plans, ONNX model pruning, and
 * ResRep (`prune.resrep.*`).
 */
export {
  type BatchNormParams,
  checkKeep,
  type Keep,
  removeCnnChannels,
  type SliceInputOptions,
  sliceBatchNorm,
  sliceChannelGroup,
  sliceInputChannels,
  sliceOutputChannels,
  withWidths,
} from './channels.js';
export * as cops from './cops/index.js';
export {
  type AnalyzeOptions,
  analyzeChannels,
  type BatchNormRef,
  type ChannelAnalysis,
  type ChannelGroup,
  type ConsumerRef,
  cnnChannelAnalysis,
  type ProducerRef,
  type RefusedLayer,
} from './deps.js';
export { PruneError, type PruneRule } from './errors.js';
export * as filters from './filters/index.js';
export { type BatchNormTensors, foldBatchNorm, type LayerTensors } from './fold-bn.js';
export { convMacs, countMacs, linearMacs, type MacsReport, macsFunction, vitMlpMacs } from './macs.js';
export { analyzeOnnx, filterNormPlan, groupOf, type ImportedModel, type PrunedOnnx, pruneOnnx, rebuildGraph } from './onnx.js';
export { applyPlan, diffParams, makePlan, type ParamDiff, PLAN_FORMAT, type PlanLayer, type PruningPlan, parsePlan, planKeep } from './plan.js';
export * as resrep from './resrep/index.js';
