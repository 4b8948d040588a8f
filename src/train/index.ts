export {
  AdamW,
  type AdamWOptions,
  clipGradNorm,
  type GroupOptions,
  noDecay,
  type OptimizerState,
  type ParamGroup,
  type ParamStore,
  SGD,
  type SgdOptions,
} from './optim.js';
export { constantSchedule, warmupCosine } from './schedule.js';
