import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { io, readSafetensors, writeSafetensors } from '../../src/index.js';
import { CHECKPOINT_FORMAT, type CheckpointInfo, latestCheckpoint, loadCheckpoint, saveCheckpoint } from '../../src/io/index.js';
import { CheckpointError, ValueError } from '../../src/tensor/errors.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { bytesOf, ls, tempDir } from './helpers.js';

const tensors: Record<string, Tensor> = {
  'blocks.0.attn.qkv.weight': { type: 'float32', dims: [6, 2], data: Float32Array.from({ length: 12 }, (_, i) => i / 7) },
  'agent.steps': { type: 'int64', dims: [], data: new BigInt64Array([123n]) },
  'keep.mask': { type: 'bool', dims: [3], data: new Uint8Array([1, 0, 1]) },
};
const sidecar = { config: { preset: 'fmnist-vit-t', cutLayers: [1, 2, 4] }, seed: 0, step: 100, metrics: { loss: 0.25, acc: 0.9 }, optimizer: { lr: 1e-3 } };

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => ({ dir, cleanup } = await tempDir()));
afterEach(() => cleanup());

describe('saveCheckpoint / loadCheckpoint', () => {
  it('round-trips tensors, sidecar fields and metadata; the sha256 identifies the tensor file', async () => {
    const prefix = join(dir, 'run', 'best');
    const saved = await saveCheckpoint(prefix, { tensors, sidecar, metadata: { format: 'pt' } });
    expect(saved.paths).toEqual({ tensors: `${prefix}.safetensors`, sidecar: `${prefix}.json` });
    const fileBytes = await readFile(saved.paths.tensors);
    expect(saved.sha256).toBe(createHash('sha256').update(fileBytes).digest('hex'));
    const loaded = await loadCheckpoint(prefix);
    expect(loaded.info).toEqual(sidecar);
    expect(loaded.metadata).toEqual({ format: 'pt' });
    expect(loaded.sha256).toBe(saved.sha256);
    for (const [k, t] of Object.entries(tensors)) expect(bytesOf(loaded.tensors[k]!)).toEqual(bytesOf(t));
    // The sidecar is plain JSON a Python user can read next to the safetensors file.
    const json = JSON.parse(await readFile(saved.paths.sidecar, 'utf8'));
    expect(json).toEqual({ format: CHECKPOINT_FORMAT, version: 1, safetensors: { bytes: fileBytes.length, sha256: saved.sha256 }, ...sidecar });
    expect(await ls(join(dir, 'run'))).toEqual(['best.json', 'best.safetensors']);
  });

  it('accepts either file path as the prefix', async () => {
    const prefix = join(dir, 'c');
    await saveCheckpoint(`${prefix}.safetensors`, { tensors, sidecar });
    expect((await loadCheckpoint(`${prefix}.json`)).info['step']).toBe(100);
    expect((await loadCheckpoint(prefix)).info['step']).toBe(100);
  });

  it('names files by step in a directory and loads the latest one, skipping other files', async () => {
    for (const step of [2, 10, 9]) await saveCheckpoint(`${dir}/`, { tensors, sidecar: { step } });
    await saveCheckpoint(dir, { tensors }); // no step: <dir>/checkpoint, ranks below every step
    await writeFile(join(dir, 'config.json'), '{"step": 1000}'); // not a sidecar
    await writeFile(join(dir, 'step-00000011.json.tmp-1-ab'), 'partial'); // a killed sidecar write
    await writeSafetensors(join(dir, 'step-00000012.safetensors'), tensors); // tensors saved, sidecar never written
    expect(await ls(dir)).toContain('step-00000010.json');
    expect(await latestCheckpoint(dir)).toEqual({ prefix: join(dir, 'step-00000010'), step: 10 });
    expect((await loadCheckpoint(dir)).info).toEqual({ step: 10 });
    await expect(latestCheckpoint(join(dir, 'nothing-here'))).rejects.toThrow(CheckpointError);
    await mkdir(join(dir, 'empty'));
    expect(await latestCheckpoint(join(dir, 'empty'))).toBeUndefined();
  });

  it('overwrites a checkpoint under the same prefix', async () => {
    await saveCheckpoint(join(dir, 'last'), { tensors, sidecar: { step: 1 } });
    const w = { type: 'float32', dims: [1], data: new Float32Array([7]) } as Tensor;
    await saveCheckpoint(join(dir, 'last'), { tensors: { w }, sidecar: { step: 2 } });
    const loaded = await loadCheckpoint(join(dir, 'last'));
    expect(loaded.info['step']).toBe(2);
    expect(Object.keys(loaded.tensors)).toEqual(['w']);
  });

  it('is exported from the package root (io namespace, readSafetensors, writeSafetensors)', () => {
    expect(io.saveCheckpoint).toBe(saveCheckpoint);
    expect(io.readSafetensors).toBe(readSafetensors);
    expect(io.writeSafetensors).toBe(writeSafetensors);
  });
});

describe('loadCheckpoint failures → CheckpointError', () => {
  const prefix = () => join(dir, 'ck');
  const save = () => saveCheckpoint(prefix(), { tensors, sidecar });
  const editSidecar = async (edit: (j: Record<string, unknown>) => void) => {
    const j = JSON.parse(await readFile(`${prefix()}.json`, 'utf8'));
    edit(j);
    await writeFile(`${prefix()}.json`, JSON.stringify(j));
  };
  const fails = (message: RegExp) => expect(loadCheckpoint(prefix())).rejects.toSatisfy((e) => e instanceof CheckpointError && message.test(e.message));

  it('missing sidecar', async () => {
    await save();
    await rm(`${prefix()}.json`);
    await fails(/loadCheckpoint: cannot read .*ck\.json: ENOENT/);
  });

  it('missing tensor file', async () => {
    await save();
    await rm(`${prefix()}.safetensors`);
    await fails(/cannot read .*ck\.safetensors: ENOENT/);
  });

  it('tensor file replaced by another valid one of the same size (sha256 mismatch)', async () => {
    const saved = await save();
    const other = { ...tensors, 'keep.mask': { type: 'bool', dims: [3], data: new Uint8Array([0, 1, 1]) } as Tensor };
    await writeSafetensors(saved.paths.tensors, other);
    await fails(/ck\.safetensors has sha256 [0-9a-f]{64} but .*ck\.json records [0-9a-f]{64}: the files do not belong together/);
  });

  it('tensor file of another size', async () => {
    await save();
    await writeSafetensors(`${prefix()}.safetensors`, {});
    await fails(/ck\.safetensors is \d+ bytes but .*ck\.json records \d+/);
  });

  it('sidecar that is not JSON, or a JSON array', async () => {
    await save();
    await writeFile(`${prefix()}.json`, '{"format": ');
    await fails(/ck\.json: sidecar is not valid UTF-8 JSON/);
    await writeFile(`${prefix()}.json`, '[]');
    await fails(/sidecar must be a JSON object/);
  });

  it('sidecar with wrong format, version or fingerprint', async () => {
    await save();
    await editSidecar((j) => (j['format'] = 'other'));
    await fails(/format must be "apt-prune.checkpoint", got "other"/);
    await save();
    await editSidecar((j) => (j['version'] = 2));
    await fails(/version must be 1, got 2/);
    await save();
    await editSidecar((j) => (j['safetensors'] = { bytes: 10, sha256: 'abc' }));
    await fails(/safetensors must be \{ bytes: integer, sha256: 64 hex digits \}/);
    await save();
    await editSidecar((j) => (j['step'] = -1));
    await fails(/sidecar.step must be a non-negative integer, got -1/);
  });

  it('corrupt tensor file with a matching sidecar names the file', async () => {
    const saved = await save();
    const bytes = new Uint8Array(await readFile(saved.paths.tensors));
    bytes[8] = 0x20; // header no longer starts with "{"
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    await writeFile(saved.paths.tensors, bytes);
    await editSidecar((j) => (j['safetensors'] = { bytes: bytes.length, sha256 }));
    await fails(/loadCheckpoint: .*ck\.safetensors: header must be a JSON object/);
  });

  it('a directory without checkpoints', async () => {
    await expect(loadCheckpoint(dir)).rejects.toThrow(/no checkpoint in/);
  });
});

describe('saveCheckpoint input validation (nothing written)', () => {
  it.each([
    ['a NaN metric', { metrics: { loss: Number.NaN } }, /sidecar.metrics.loss must be a finite number/],
    ['a reserved key', { format: 'x' }, /sidecar.format is reserved/],
    ['a fractional step', { step: 1.5 }, /sidecar.step must be a non-negative integer/],
    ['a fractional seed', { seed: 0.5 }, /sidecar.seed must be an integer/],
    ['a non-numeric metric', { metrics: { name: 'x' } }, /sidecar.metrics must be an object of numbers/],
    ['a class instance', { config: new Date(0) }, /sidecar.config must be a plain object, got Date/],
    ['a bigint', { config: { n: 1n } }, /sidecar.config.n must be JSON, got bigint/],
  ])('rejects %s', async (_what, bad, message) => {
    await expect(saveCheckpoint(join(dir, 'x'), { tensors, sidecar: bad as CheckpointInfo })).rejects.toSatisfy(
      (e) => e instanceof ValueError && message.test(e.message),
    );
    expect(await ls(dir)).toEqual([]);
  });

  it('rejects a cyclic sidecar', async () => {
    const config: Record<string, unknown> = {};
    config['self'] = config;
    await expect(saveCheckpoint(join(dir, 'x'), { tensors, sidecar: { config } })).rejects.toThrow(/sidecar.config.self refers to itself/);
  });
});

describe('a killed run', () => {
  it('resumes from the last completed checkpoint when killed mid-save', async () => {
    const script = fileURLToPath(new URL('kill-writer.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', script, dir], { cwd: fileURLToPath(new URL('../..', import.meta.url)) });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    let lastSaved = 0;
    child.stdout.on('data', (d: Buffer) => (lastSaved = Math.max(lastSaved, ...String(d).trim().split('\n').map(Number))));
    // Once two saves are complete, kill as soon as a save is in flight (a temp file exists).
    let alive = true;
    void exited.then(() => (alive = false));
    while (alive && !(lastSaved >= 2 && (await ls(dir)).some((f) => f.includes('.tmp-')))) await new Promise((r) => setTimeout(r, 1));
    expect(alive, `writer exited early: ${stderr}`).toBe(true);
    child.kill('SIGKILL');
    await exited;
    const loaded = await loadCheckpoint(dir);
    const step = loaded.info['step'] as number;
    expect(step).toBeGreaterThanOrEqual(lastSaved);
    expect((loaded.tensors['w']!.data as Float32Array).every((v) => v === step)).toBe(true);
  });
});
