/**
 * SReT on Fashion-MNIST: build `fmnist-sret`, run a forward pass, train a few steps through the
 * same loop as the ViT (`train.fit`), evaluate, and save a checkpoint in the reference layout.
 *   npx tsx examples/sret.ts [--steps=20] [--limit=200] [--batch=64]
 * (`--limit`: images per class kept from each split, for a quick run.)
 */
import { mkdirSync } from 'node:fs';
import { data, train, vit } from '../src/index.js';

const { sret } = vit;
const arg = (name: string, dflt: number) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? dflt);
const [steps, limit, batchSize] = [arg('steps', 20), arg('limit', 200), arg('batch', 64)];

const model = sret.create('fmnist-sret', { seed: 0 });
const c = model.config;
console.log(`${c.name}: ${sret.countParams(c)} parameters, ${sret.sretMacs(c).total} MACs/image, grids ${sret.stageGrids(c).join('/')}`);

const { train: trainSet, test } = await data.fashionMnist({ limitPerClass: limit });
const first = data.evalBatches(test, { batchSize: 8 }).next().value;
if (!first) throw new Error('empty test set');
const logits = await sret.forward(model, first.images); // eval: BN running stats, no DropPath, seeded π
console.log(`forward: logits ${JSON.stringify(logits.dims)}`);

const t = await sret.sretTrainable(model, { seed: 0, labelSmoothing: 0.1 });
const recipe = { ...train.vitRecipe(1, 0), batchSize }; // AdamW 1e-3, wd 0.05 (not on α/β, biases, norms, pos_embed), warmup + cosine
const epochs = Math.max(1, Math.ceil(steps / Math.floor(trainSet.n / batchSize)));
const res = await train.fit(
  t,
  { ...recipe, epochs },
  {
    train: trainSet,
    maxSteps: steps,
    onEvent: (e) => {
      if (e.kind === 'step' && (e.step % 10 === 0 || e.step === 1))
        console.log(`step ${e.step}: loss ${e.loss.toFixed(4)}, ${e.imagesPerSec.toFixed(0)} images/s`);
    },
  },
);
const m = await train.evaluate(t, test);
console.log(`after ${res.steps} steps: test accuracy ${(100 * m.accuracy).toFixed(1)}% on ${test.n} images`);

mkdirSync('runs/examples', { recursive: true });
await sret.saveSafetensors(model, 'runs/examples/fmnist-sret.safetensors'); // reference layout: loads into SReT.py-style modules
console.log('saved runs/examples/fmnist-sret.safetensors');
