/** ResRep state survives a checkpoint/resume; `apt-prune prune` and `export` validate flags and write a checkable model. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { forward } from '../../../src/cnn/api.js';
import { fromArrays } from '../../../src/data/dataset.js';
import { saveCheckpoint } from '../../../src/io/checkpoint.js';
import { insertCompactors } from '../../../src/prune/resrep/cnn.js';
import { resrepRecipe } from '../../../src/prune/resrep/run.js';
import { resrepTrainable } from '../../../src/prune/resrep/trainer.js';
import { Rng } from '../../../src/tensor/rng.js';
import { fit as fitModel } from '../../../src/train/fit.js';
import { run } from '../../cli/helpers.js';
import { images, maxDiff, SESSION, tinyClassifier } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'resrep-resume-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const rng = new Rng(5);
const n = 48;
const data = fromArrays(
  Uint8Array.from({ length: n * 64 }, () => rng.int(256)),
  Array.from({ length: n }, (_, i) => i % 10),
  { c: 1, h: 8, w: 8 },
  { classes: 10 },
);

async function train(out: string, maxSteps?: number, resume = false) {
  const rr = insertCompactors(tinyClassifier(2));
  const t = await resrepTrainable(rr, { target: 0.6, warmup: 1, interval: 1, granularity: 2, lambda: 1e-2, session: SESSION });
  await fitModel(t, resrepRecipe(2, { batchSize: 8, lr: 0.05 }), { train: data, out, maxSteps, resume, checkpointEvery: 3 });
  return { rr, masks: t.state().masks };
}

describe('ResRep resume', () => {
  it('a run stopped at step 5 and resumed reaches the same parameters and masks as an uninterrupted one', async () => {
    const whole = await train(join(dir, 'a'));
    await train(join(dir, 'b'), 5);
    const resumed = await train(join(dir, 'b'), undefined, true);
    for (const [k, t] of Object.entries(whole.rr.params)) expect(maxDiff(t.data, resumed.rr.params[k]?.data ?? []).diff, k).toBe(0);
    expect(resumed.masks).toEqual(whole.masks);
    expect(Object.values(whole.masks).some((m) => m.includes(0))).toBe(true);
  });
});

describe('CLI', () => {
  it('prune refuses bad flags with exit code 2', async () => {
    expect((await run(['prune', 'bogus'])).stderr).toMatch(/method must be one of resrep, l1, entropy/);
    const r = await run(['prune', 'resrep', '--target', '1.5', '--epochs', '1', '--out', dir]);
    expect([r.code, r.stderr]).toEqual([2, expect.stringMatching(/--target is the remaining MACs fraction/)]);
  });
  it('export writes an ONNX file that ONNX Runtime runs like cnn.forward (--json summary)', async () => {
    const m = tinyClassifier(4);
    await saveCheckpoint(join(dir, 'm'), { tensors: m.params, sidecar: { config: m.config as never } });
    const r = await run(['export', '--checkpoint', join(dir, 'm'), '--out', join(dir, 'm.onnx'), '--json']);
    expect(r.code).toBe(0);
    expect(r.json()[0]).toMatchObject({ kind: 'summary', command: 'export', model: 'tiny-cls' });
    const x = images(new Rng(1), 2, 1, 8);
    const s = await ort.InferenceSession.create(new Uint8Array(readFileSync(join(dir, 'm.onnx'))), { intraOpNumThreads: 1 });
    const y = (await s.run({ images: new ort.Tensor('float32', x.data, [...x.dims]) })).logits?.data as Float32Array;
    await s.release();
    expect(maxDiff((await forward(m, x, SESSION)).data, y).diff).toBeLessThan(1e-6);
  });
});
