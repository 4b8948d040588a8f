export { type CnnModel, cnnTrainable, create, forward, fromStateDict, toStateDict } from './api.js';
export { CNN_PRESETS, type CnnConfig, type CnnPreset, type Layer, resolveCnnConfig } from './config.js';
export { bnStatName, buildCnn, type CnnBuildOptions, type CnnForward, cnnInferenceGraph, cnnParams, cnnTrainGraph } from './model.js';
export { checkCnnStateDict, cnnParamShapes, initCnnParams, layerShapes } from './params.js';
