export { type AptEvent, type AptOptions, type AptResult, apt, evaluateApt } from './apt.js';
export { type AptRecipe, aptFinetuneRecipe, aptPaperRecipe, checkAptRecipe, type DistillOptions } from './apt-recipe.js';
export { evaluate, type FitEvent, type FitOptions, type FitResult, fit, type OptimizerSpec, type Recipe, type Trainable, vitRecipe } from './fit.js';
export { scoreLogits } from './metrics.js';
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
export { constantSchedule, keepWarmupCounts, warmupCosine } from './schedule.js';
export { addGradients, GradStep, gradName, type StepResult } from './step.js';
