/**
 * Child process for fit.test.ts: trains the tiny ViT into argv[2] with a checkpoint every 3
 * updates, slowed by a pause before each update (which changes no number), and prints
 * `checkpoint <step>` after each save, until the parent SIGKILLs it mid-epoch.
 */
import * as train from '../../src/train/fit.js';
import { tinyData, tinyRecipe, tinyTrainable } from './tiny-vit.js';

const dir = process.argv[2];
if (dir === undefined) throw new Error('usage: kill-fit.ts <dir>');
const t = await tinyTrainable(0);
const data = await tinyData();
const pause = () => new Promise((resolve) => setTimeout(resolve, 250));
const slow: train.Trainable = {
  ...t,
  step: async (b) => {
    await pause();
    return t.step(b);
  },
};
await train.fit(slow, tinyRecipe(), {
  train: data.train,
  out: dir,
  checkpointEvery: 3,
  onEvent: (e) => {
    if (e.kind === 'checkpoint') process.stdout.write(`checkpoint ${e.step}\n`);
  },
});
process.stdout.write('finished\n');
