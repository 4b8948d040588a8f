export { writeFileAtomic } from './atomic.js';
export {
  CHECKPOINT_FORMAT,
  type CheckpointInfo,
  type CheckpointPaths,
  type CheckpointSidecar,
  type LoadedCheckpoint,
  latestCheckpoint,
  loadCheckpoint,
  type SavedCheckpoint,
  saveCheckpoint,
} from './checkpoint.js';
export { decodeSafetensors, type Safetensors } from './decode.js';
export type { Json } from './json.js';
export { encodePng } from './png.js';
export { encodeSafetensors, readSafetensors, type SafetensorsFile, writeSafetensors } from './safetensors.js';
