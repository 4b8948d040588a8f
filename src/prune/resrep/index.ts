/**
 * ResRep (Ding et al., ICCV 2021; specs/resrep.md): compactors, gradient reset with group lasso,
 * the mask schedule, the lossless merge, and the CNN / ViT-MLP / training wiring around them.
 */

export {
  type CompactorSite,
  type ConvertedLayer,
  type ConvertOptions,
  compactorName,
  convertResRep,
  foldCnnBatchNorms,
  insertCompactors,
  type ResRepModel,
  resrepModelFrom,
} from './cnn.js';
export { compactorOf, compactorRowNorms, insertCompactor } from './compactor.js';
export { keepRows, type MergedLayer, type MergeOptions, mergeCompactor, RESREP_THRESHOLD } from './merge.js';
export { resetCompactorGradient } from './penalty.js';
export { type ConversionReport, conversionReport, formatConversionReport } from './report.js';
export {
  cnnFromCheckpoint,
  type Equivalence,
  equivalence,
  exportCnnOnnx,
  type ResRepRunOptions,
  type ResRepRunResult,
  resrepRecipe,
  runResRep,
} from './run.js';
export { isMaskUpdate, type MaskSelection, type SelectMaskOptions, selectMask } from './schedule.js';
export { maskName, type ResRepEvent, type ResRepOptions, type ResRepWidths, resrepTrainable } from './trainer.js';
export { type MlpCompactorParams, mergeVitMlp, mlpWithCompactor } from './vit-mlp.js';
