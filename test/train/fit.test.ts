/**
 * fit on a tiny ViT and 40 Fashion-MNIST images (tiny-vit.ts): determinism, exact resume (also
 * after a real SIGKILL of a child process mid-epoch), NaN loss handling, evaluate's counting.
 * One ORT thread everywhere, so "the same" means bit-identical parameters.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Batch, type Dataset, evalBatches } from '../../src/data/index.js';
import { latestCheckpoint, loadCheckpoint } from '../../src/io/index.js';
import { NonFiniteLossError } from '../../src/tensor/errors.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import type { FitEvent, FitResult, Trainable } from '../../src/train/fit.js';
import * as train from '../../src/train/fit.js';
import { PER_EPOCH, paramBytes, TOTAL, tinyData, tinyRecipe, tinyTrainable } from './tiny-vit.js';

let data: { train: Dataset; test: Dataset };
let root = '';
/** The uninterrupted reference run: init seed 0, recipe seed 1, all 10 updates, eval each epoch. */
let reference: { bytes: Buffer; result: FitResult };

beforeAll(async () => {
  data = await tinyData();
  root = await mkdtemp(join(tmpdir(), 'apt-prune-fit-'));
  const t = await tinyTrainable(0);
  const result = await train.fit(t, tinyRecipe(), { train: data.train, evalSet: data.test });
  reference = { bytes: paramBytes(t), result };
});
afterAll(() => rm(root, { recursive: true, force: true }));

const dirFor = async (name: string) => join(root, name);

describe('fit: determinism', () => {
  it('the same seeds give bit-identical parameters; another data seed does not', async () => {
    expect(reference.result.steps).toBe(TOTAL);
    expect(reference.result.history.map((h) => h.step)).toEqual([PER_EPOCH, TOTAL]);
    const again = await tinyTrainable(0);
    const start = paramBytes(again);
    await train.fit(again, tinyRecipe(), { train: data.train });
    expect(paramBytes(again).equals(start)).toBe(false); // training moved the parameters
    expect(paramBytes(again).equals(reference.bytes)).toBe(true);
    const other = await tinyTrainable(0);
    await train.fit(other, tinyRecipe(2), { train: data.train });
    expect(paramBytes(other).equals(reference.bytes)).toBe(false);
  });
});

describe('fit: resume', () => {
  it('a run stopped mid-epoch and resumed by a fresh model reaches the uninterrupted parameters and history', async () => {
    const out = await dirFor('resume');
    const first = await tinyTrainable(0);
    const saved: number[] = [];
    const onEvent = (e: FitEvent) => e.kind === 'checkpoint' && saved.push(e.step);
    const part = await train.fit(first, tinyRecipe(), { train: data.train, evalSet: data.test, out, checkpointEvery: 3, maxSteps: 7, onEvent });
    expect([part.steps, saved]).toEqual([7, [3, 6, 7]]); // every 3 updates, and where it stopped (mid-epoch 2)

    const events: FitEvent[] = [];
    const second = await tinyTrainable(99); // other init: everything must come from the checkpoint
    const rest = await train.fit(second, tinyRecipe(), {
      train: data.train,
      evalSet: data.test,
      out,
      resume: true,
      checkpointEvery: 3,
      onEvent: (e) => events.push(e),
    });
    expect(events[0]).toMatchObject({ kind: 'resume', step: 7 });
    expect(events.filter((e) => e.kind === 'step').map((e) => e.step)).toEqual([8, 9, 10]);
    expect(rest.steps).toBe(TOTAL);
    expect(paramBytes(second).equals(reference.bytes)).toBe(true);
    expect(rest.history).toEqual(reference.result.history);
  });

  it('resumes after a real SIGKILL of the training process mid-epoch', async () => {
    const out = await dirFor('killed');
    const script = fileURLToPath(new URL('kill-fit.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', script, out], { cwd: fileURLToPath(new URL('../..', import.meta.url)) });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        stdout += d;
        if (/checkpoint 3\n/.test(stdout)) resolve(); // a checkpoint exists; the child is into its next update
      });
      void exited.then(() => reject(new Error(`child exited early: ${stdout} ${stderr}`)));
    });
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    expect(stdout).not.toContain('finished');

    const latest = await latestCheckpoint(out);
    const step = latest?.step ?? -1;
    expect(step).toBeGreaterThanOrEqual(3);
    expect(step).toBeLessThan(TOTAL);
    expect(step % PER_EPOCH).not.toBe(0); // mid-epoch

    const t = await tinyTrainable(99);
    const events: FitEvent[] = [];
    const res = await train.fit(t, tinyRecipe(), { train: data.train, out, resume: true, onEvent: (e) => events.push(e) });
    expect(events[0]).toMatchObject({ kind: 'resume', step });
    expect(res.steps).toBe(TOTAL);
    expect(paramBytes(t).equals(reference.bytes)).toBe(true);
  });
  it("a checkpoint taken at an epoch's end carries that epoch's eval into the resumed history", async () => {
    const out = await dirFor('epoch-end');
    await train.fit(await tinyTrainable(0), tinyRecipe(), { train: data.train, evalSet: data.test, out, checkpointEvery: PER_EPOCH, maxSteps: 7 });
    for (const f of await readdir(out)) if (f.startsWith('step-00000007.')) await rm(join(out, f)); // as if killed before step 7's save
    expect((await latestCheckpoint(out))?.step).toBe(PER_EPOCH);
    const t = await tinyTrainable(0);
    const res = await train.fit(t, tinyRecipe(), { train: data.train, evalSet: data.test, out, resume: true });
    expect(res.history).toEqual(reference.result.history);
    expect(paramBytes(t).equals(reference.bytes)).toBe(true);
  });
});

describe('fit: non-finite loss', () => {
  it('stops with NonFiniteLossError naming the step; the last checkpoint stays loadable and resumable', async () => {
    const out = await dirFor('nan');
    const t = await tinyTrainable(0);
    let calls = 0;
    const poisoned: Trainable = {
      ...t,
      step: (b) => {
        if (++calls === 4) t.params.get('head.bias')?.data.fill(Number.NaN); // update 4's forward pass sees NaN
        return t.step(b);
      },
    };
    const e = await train.fit(poisoned, tinyRecipe(), { train: data.train, out, checkpointEvery: 2 }).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(NonFiniteLossError);
    expect((e as NonFiniteLossError).step).toBe(4);
    expect((e as Error).message).toBe('fit: loss is NaN at step 4; the last good checkpoint is kept');
    expect((await readdir(out)).sort()).toEqual(['step-00000002.json', 'step-00000002.safetensors']);

    const ck = await loadCheckpoint(out);
    expect(ck.info.step).toBe(2);
    for (const [k, v] of Object.entries(ck.tensors)) expect((v.data as Float32Array).every(Number.isFinite), k).toBe(true);
    const resumed = await tinyTrainable(0);
    await train.fit(resumed, tinyRecipe(), { train: data.train, out, resume: true });
    expect(paramBytes(resumed).equals(reference.bytes)).toBe(true);
  });
});

describe('evaluate', () => {
  /** Row-wise argmax of logits [B, K]. */
  const argmax = (logits: Tensor, k: number) =>
    Array.from({ length: logits.dims[0] as number }, (_, i) => {
      const row = Array.from(logits.data as Float32Array).slice(i * k, (i + 1) * k);
      return row.indexOf(Math.max(...row));
    });

  it('accuracy is the hand count of predict() hits and loss the mean cross-entropy, for any batch size', async () => {
    const t = await tinyTrainable(0);
    await train.fit(t, tinyRecipe(), { train: data.train });
    const all = evalBatches(data.test, { batchSize: data.test.n, reuseBuffers: false }).next().value as Batch;
    const logits = await t.predict(all.images);
    const pred = argmax(logits, 10);
    // Relabel: the first 13 images keep their predicted class, the other 27 get a wrong one.
    const labels = Uint8Array.from(pred, (p, i) => (i < 13 ? p : (p + 1 + (i % 9)) % 10));
    const ds: Dataset = { ...data.test, labels };
    let ce = 0;
    for (let i = 0; i < ds.n; i++) {
      const row = Array.from(logits.data as Float32Array).slice(i * 10, (i + 1) * 10);
      const m = Math.max(...row);
      ce += Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0)) + m - (row[labels[i] as number] as number);
    }
    for (const batchSize of [500, 7, 1]) {
      const r = await train.evaluate(t, ds, batchSize);
      expect(r.accuracy, `batch ${batchSize}`).toBe(13 / 40);
      expect(r.loss, `batch ${batchSize}`).toBeCloseTo(ce / ds.n, 5);
    }
    expect((await train.evaluate(t, ds)).loss).toBe(ce / ds.n); // one batch: the same logits, the same sums
    // A label the model has no logit for is refused, not read from the next row.
    const wide: Dataset = { ...ds, labels: Uint8Array.from(labels, (y, i) => (i === 5 ? 10 : y)), classes: 11 };
    await expect(train.evaluate(t, wide)).rejects.toThrow('scoreLogits: labels[5] is 10, expected an integer in [0, 10)');
  });
});
