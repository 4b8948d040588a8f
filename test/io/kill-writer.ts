/**
 * Child process for checkpoint.test.ts: saves checkpoints step 1, 2, … into argv[2] forever,
 * printing each step once it is saved, until the parent kills it (SIGKILL, mid-write).
 * Every element of tensor `w` equals the step, so a torn write would show up as mixed values.
 */
import { saveCheckpoint } from '../../src/io/index.js';

const dir = process.argv[2];
if (dir === undefined) throw new Error('usage: kill-writer.ts <dir>');
const w = new Float32Array(1 << 21); // 8 MB: a save takes long enough to be killed inside it
for (let step = 1; ; step++) {
  w.fill(step);
  await saveCheckpoint(`${dir}/`, { tensors: { w: { type: 'float32', dims: [w.length], data: w } }, sidecar: { step, seed: 0 } });
  process.stdout.write(`${step}\n`);
}
