/**
 * End to end on a briefly trained fmnist-resnet20: ResRep training through `fit` (mask schedule,
 * gradient reset, BN running statistics), conversion, merged == unmerged within 1e-5·max(1, |ref|),
 * the plan re-applied to the source weights gives the same tensors, and the written checkpoint and
 * ONNX file (loaded by ONNX Runtime from bytes) compute the same logits.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { create, forward } from '../../../src/cnn/api.js';
import { fashionMnist } from '../../../src/data/index.js';
import { evalBatches } from '../../../src/data/loader.js';
import { loadCheckpoint, saveCheckpoint } from '../../../src/io/checkpoint.js';
import { applyPlan, diffParams, makePlan, parsePlan } from '../../../src/prune/plan.js';
import { convertResRep, insertCompactors } from '../../../src/prune/resrep/cnn.js';
import { cnnFromCheckpoint, equivalence, exportCnnOnnx, resrepRecipe } from '../../../src/prune/resrep/run.js';
import { maskName, type ResRepEvent, resrepTrainable } from '../../../src/prune/resrep/trainer.js';
import type { Tensor } from '../../../src/tensor/tensor.js';
import { fit as fitModel } from '../../../src/train/fit.js';
import { maxDiff, SESSION } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'resrep-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('ResRep on a briefly trained fmnist-resnet20', async () => {
  const data = await fashionMnist({ limitPerClass: 4 });
  const rr = insertCompactors(create('fmnist-resnet20', { seed: 0 }));
  const events: ResRepEvent[] = [];
  const t = await resrepTrainable(rr, {
    target: 0.5,
    warmup: 0,
    interval: 2,
    granularity: 16,
    lambda: 1e-3,
    reportEvery: 3,
    session: SESSION,
    onEvent: (e) => events.push(e),
  });
  const seen: number[] = [];
  const hooked = {
    ...t,
    beforeStep: (i: number) => {
      seen.push(i);
      return t.beforeStep?.(i);
    },
  };
  const runningVar = rr.params['layer1.0.bn1.running_var'] as Tensor<'float32'>;
  await fitModel(hooked, { ...resrepRecipe(1, { batchSize: 8, lr: 0.05 }) }, { train: data.train, out: join(dir, 'train'), maxSteps: 4 });
  const src = await loadCheckpoint(join(dir, 'train'));
  const mask = (l: string) => t.state().masks[l] as Float32Array;

  it('trains through fit: hooks per iteration, masks grow by the schedule, BN statistics and compactors move', () => {
    expect(seen).toEqual([0, 1, 2, 3]);
    expect(events.map((e) => `${e.kind}@${e.iteration}`)).toEqual(['mask@2', 'report@3']);
    const masked = rr.compactors.reduce((s, c) => s + mask(c.layer).filter((m) => m === 0).length, 0);
    expect(masked).toBe(16); // one update of granularity 16
    expect(Array.from(runningVar.data).some((v) => v !== 1)).toBe(true);
    expect(rr.params['layer1.0.conv1.compactor.weight']?.data[1]).not.toBe(0);
    expect(Object.keys(src.tensors)).toContain(maskName('layer3.2.conv1')); // masks are checkpointed
  });

  it('merged == unmerged within 1e-5·max(1, |ref|), with masked rows dropped exactly', async () => {
    for (const c of rr.compactors) {
      const q = rr.params[`${c.compactor}.weight`] as Tensor<'float32'>;
      mask(c.layer).forEach((m, j) => {
        if (m === 0) q.data.fill(0, j * c.width, (j + 1) * c.width); // as if converged
      });
    }
    const { model, layers } = convertResRep(rr);
    expect(layers.reduce((s, l) => s + l.width - l.keep.length, 0)).toBe(16);
    const images = (evalBatches(data.test, { batchSize: 16 }).next().value as { images: Tensor<'float32'> }).images;
    const e = await equivalence(rr, model, images, SESSION);
    expect(e.maxAbs).toBeLessThanOrEqual(e.bound);

    // the plan, re-applied to the source weights, reproduces the pruned tensors exactly
    const keep = Object.fromEntries(layers.map((l) => [l.layer, l.keep]));
    const plan = parsePlan(
      JSON.parse(
        JSON.stringify(
          makePlan({
            method: 'resrep',
            model: 'fmnist-resnet20',
            before: rr.base,
            after: model,
            keep,
            widths: Object.fromEntries(layers.map((l) => [l.layer, l.width])),
            source: { sha256: src.sha256 },
          }),
        ),
      ),
    );
    expect(plan.macs.after).toBeLessThan(plan.macs.before);
    expect(diffParams(applyPlan(rr, plan, { sha256: src.sha256 }).params, model.params).identical).toBe(true);

    // checkpoint round trip and the ONNX file in ONNX Runtime, from bytes
    await saveCheckpoint(join(dir, 'pruned'), { tensors: model.params, sidecar: { config: model.config as never } });
    const back = cnnFromCheckpoint(await loadCheckpoint(join(dir, 'pruned')));
    expect(maxDiff((await forward(back, images, SESSION)).data, (await forward(model, images, SESSION)).data).diff).toBe(0);
    const s = await ort.InferenceSession.create(exportCnnOnnx(model), { intraOpNumThreads: 1 });
    const y = (await s.run({ images: new ort.Tensor('float32', images.data, [...images.dims]) })).logits?.data as Float32Array;
    await s.release();
    const ref = (await forward(rr, images, SESSION)).data;
    const d = maxDiff(ref, y);
    expect(d.diff).toBeLessThanOrEqual(1e-5 * Math.max(1, d.ref));
  });
});
