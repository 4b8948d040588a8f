export { type CreateOptions, checkImages, create, forward, fromStateDict, inferenceSession, toStateDict, type VitModel } from './api.js';
export { type AttentionOptions, attention, block, head, mlp, patchEmbed } from './blocks.js';
export { mlpDim, numPatches, numTokens, resolveConfig, VIT_PRESETS, type VitConfig, type VitPreset } from './config.js';
export { classify, type Features, type ForwardHooks, forwardFeatures, inferenceGraph, type TrainGraphOptions, trainGraph } from './model.js';
export { type BlockKey, checkStateDict, countParams, initParams, type Params, paramShapes, type Sub, scope, type VitKey, vitParams } from './params.js';
export * from './registry.js';
export * as sret from './sret/index.js';
export { type VitTrainableOptions, vitTrainable } from './trainer.js';
