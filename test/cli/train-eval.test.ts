/**
 * `train` and `eval` end to end, in-process, on 20 images per class (fmnist-vit-t, batch 32: six
 * updates an epoch, one ORT thread): JSON events, files, eval reproducing train's accuracy, resume,
 * and bad checkpoints (exit 3, one line).
 */
import { cp, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../src/cli/errors.js';
import { loadCheckpoint } from '../../src/io/index.js';
import { VIT_PRESETS } from '../../src/vit/config.js';
import { paramShapes } from '../../src/vit/params.js';
import { type Ran, run, tempDir } from './helpers.js';

const TINY = ['--limit-per-class', '20', '--batch', '32', '--threads', '1'];
const trainArgs = (out: string, epochs: number, ...extra: string[]) => [
  'train',
  '--preset',
  'fmnist-vit-t',
  '--epochs',
  String(epochs),
  '--out',
  out,
  ...TINY,
  ...extra,
];

let tmp: { dir: string; cleanup: () => Promise<void> };
let out = '';
let first: Ran;
let events: Record<string, unknown>[] = [];

beforeAll(async () => {
  tmp = await tempDir();
  out = join(tmp.dir, 'run');
  first = await run(trainArgs(out, 1, '--checkpoint-every', '2', '--keep', '2', '--json'));
  events = first.code === 0 ? first.json() : [];
});
afterAll(() => tmp.cleanup());

const ofKind = (kind: string) => events.filter((e) => e['kind'] === kind);

describe('train --json', () => {
  it('exits 0 with only JSON on stdout and nothing on stderr', () => {
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(events.length).toBeGreaterThan(0);
  });

  it('emits fit events: every step, the epoch eval, each checkpoint, then one summary', () => {
    const steps = ofKind('step');
    expect(steps.map((e) => e['step'])).toEqual([1, 2, 3, 4, 5, 6]);
    for (const s of steps) {
      expect(s).toMatchObject({ epoch: 0, totalSteps: 6 });
      for (const k of ['loss', 'lr', 'imagesPerSec', 'etaSec']) expect(Number.isFinite(s[k])).toBe(true);
    }
    const [evalEvent, ...moreEvals] = ofKind('eval');
    expect(moreEvals).toEqual([]);
    expect(evalEvent).toMatchObject({ epoch: 1, step: 6 });
    expect(ofKind('checkpoint').map((e) => [e['step'], e['path']])).toEqual([
      [2, join(out, 'step-00000002.json')],
      [4, join(out, 'step-00000004.json')],
      [6, join(out, 'step-00000006.json')],
      [6, join(out, 'final.json')],
    ]);
    const summary = events.at(-1) as Record<string, unknown>;
    expect(summary).toMatchObject({
      kind: 'summary',
      command: 'train',
      preset: 'fmnist-vit-t',
      epochs: 1,
      steps: 6,
      checkpoint: join(out, 'final.safetensors'),
    });
    expect(summary['test']).toEqual({ accuracy: evalEvent?.['accuracy'], loss: evalEvent?.['loss'], n: 200 });
    expect(summary['history']).toEqual([{ epoch: 1, step: 6, accuracy: evalEvent?.['accuracy'], loss: evalEvent?.['loss'] }]);
  });

  it('keeps the newest --keep step checkpoints and writes final.{safetensors,json}', async () => {
    expect((await readdir(out)).sort()).toEqual([
      'final.json',
      'final.safetensors',
      'step-00000004.json',
      'step-00000004.safetensors',
      'step-00000006.json',
      'step-00000006.safetensors',
    ]);
    const ck = await loadCheckpoint(join(out, 'final'));
    const summary = events.at(-1) as { test: { accuracy: number; loss: number } };
    expect(ck.info).toMatchObject({
      step: 6,
      seed: 0,
      epochs: 1,
      config: VIT_PRESETS['fmnist-vit-t'],
      metrics: { testAccuracy: summary.test.accuracy, testLoss: summary.test.loss },
    });
    expect(ck.info['history']).toEqual((events.at(-1) as { history: unknown }).history);
    // Model parameters only (a timm state dict); optimizer state stays in the step checkpoints.
    expect(Object.keys(ck.tensors).sort()).toEqual(
      paramShapes(VIT_PRESETS['fmnist-vit-t'])
        .map(([k]) => k)
        .sort(),
    );
    const step = await loadCheckpoint(join(out, 'step-00000006'));
    expect(Object.keys(step.tensors).some((k) => k.startsWith('optim:'))).toBe(true);
  });
});

describe('eval', () => {
  it('reproduces train’s test accuracy from final, and from the run directory (latest step checkpoint, optimizer tensors ignored)', async () => {
    const summary = events.at(-1) as { test: { accuracy: number; loss: number } };
    for (const checkpoint of [join(out, 'final'), out]) {
      const r = await run(['eval', '--checkpoint', checkpoint, '--limit-per-class', '20', '--threads', '1', '--json']);
      expect([r.code, r.stderr]).toEqual([0, '']);
      const [s, ...rest] = r.json();
      expect(rest).toEqual([]);
      expect(s).toMatchObject({ kind: 'summary', command: 'eval', model: 'fmnist-vit-t', step: 6, split: 'test', n: 200, accuracy: summary.test.accuracy });
      expect(s?.['loss']).toBeCloseTo(summary.test.loss, 5);
    }
  });

  it('prints a human summary without --json', async () => {
    const r = await run(['eval', '--checkpoint', join(out, 'final.safetensors'), '--limit-per-class', '20', '--split', 'val', '--batch', '64']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /^.*final\.safetensors \(fmnist-vit-t, step 6\) on val \(200 images\):\ntop-1 accuracy \d+\.\d\d% · mean cross-entropy \d\.\d{4} · /,
    );
  });
});

describe('bad checkpoints: exit 3, one line', () => {
  const broken = async (name: string, edit: (dir: string) => Promise<void>): Promise<Ran> => {
    const dir = join(tmp.dir, name);
    await cp(out, dir, { recursive: true });
    await edit(dir);
    return run(['eval', '--checkpoint', join(dir, 'final'), '--limit-per-class', '1']);
  };
  const expectOneLine = (r: Ran, message: RegExp) => {
    expect(r.code).toBe(EXIT.badInput);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^apt-prune: [^\n]+\n$/);
    expect(r.stderr).toMatch(message);
  };

  it('a flipped byte in the tensors', async () => {
    const r = await broken('flipped', async (dir) => {
      const f = join(dir, 'final.safetensors');
      const bytes = await readFile(f);
      bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 0xff;
      await writeFile(f, bytes);
    });
    expectOneLine(
      r,
      /^apt-prune: loadCheckpoint: .*final\.safetensors has sha256 [0-9a-f]{64} but .*final\.json records [0-9a-f]{64}: the files do not belong together\n$/,
    );
  });

  it('a truncated sidecar', async () => {
    const r = await broken('truncated', async (dir) => writeFile(join(dir, 'final.json'), '{"format": "apt-prune.checkpoint", '));
    expectOneLine(r, /^apt-prune: loadCheckpoint: .*final\.json: sidecar is not valid UTF-8 JSON/);
  });

  it('a sidecar config that does not match the tensors, or none', async () => {
    const editConfig = (change: (info: Record<string, unknown>) => void) => async (dir: string) => {
      const f = join(dir, 'final.json');
      const info = JSON.parse(await readFile(f, 'utf8')) as Record<string, unknown>;
      change(info);
      await writeFile(f, JSON.stringify(info));
    };
    const wide = await broken(
      'wide',
      editConfig((i) => Object.assign(i['config'] as object, { dim: 192 })),
    );
    expectOneLine(
      wide,
      /^apt-prune: vit\.fromStateDict: state dict does not match fmnist-vit-t: cls_token: \[1,1,192\] expected, got \[1,1,96\]; .* … \(--verbose for the full message\)\n$/,
    );
    const none = await broken(
      'no-config',
      editConfig((i) => delete i['config']),
    );
    expectOneLine(none, /^apt-prune: checkpoint: .*final\.json has no config/);
  });
});

describe('train: existing runs and --resume', () => {
  it('refuses to write into a run directory without --resume', async () => {
    const r = await run(trainArgs(out, 1));
    expect(r.code).toBe(EXIT.usage);
    expect(r.stderr).toBe(
      `apt-prune: train: --out ${out} already holds a run (${join(out, 'step-00000006.json')}); pass --resume to continue it or choose another --out\n`,
    );
  });

  it('--resume continues the run to --epochs; a log (non-TTY) gets step, eval and checkpoint lines', async () => {
    const r = await run(trainArgs(out, 2, '--resume'), { progressIntervalMs: 0 });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /^trained fmnist-vit-t for 2 epochs \(12 steps\) in \d+\.\d s\ntest accuracy \d+\.\d\d% · loss \d\.\d{4} \(200 images\)\nfinal checkpoint: /,
    );
    expect(r.stderr).toContain(`resumed from ${join(out, 'step-00000006.json')} at step 6\n`);
    expect(r.stderr).toMatch(/^epoch 2\/2 step 7\/12 · loss \d\.\d{3} · [\d,]+ img\/s · ETA \d+s$/m);
    expect(r.stderr).toMatch(/^epoch 2\/2: test accuracy \d+\.\d\d% · loss \d\.\d{4} \(step 12\)$/m);
    expect(r.stderr).not.toContain('\r');
    const ck = await loadCheckpoint(join(out, 'final'));
    expect((ck.info['history'] as { epoch: number }[]).map((h) => h.epoch)).toEqual([1, 2]); // epoch 1 came back with the checkpoint
  });
});

describe('train --val', () => {
  it('evaluates each epoch on the validation split and the final model on test', async () => {
    const dir = join(tmp.dir, 'val');
    const r = await run([
      'train',
      '--preset',
      'fmnist-vit-t',
      '--epochs',
      '1',
      '--out',
      dir,
      '--limit-per-class',
      '10',
      '--batch',
      '32',
      '--threads',
      '1',
      '--val',
      '--json',
    ]);
    expect(r.code).toBe(0);
    const lines = r.json();
    expect(lines.filter((e) => e['kind'] === 'step')).toHaveLength(3); // 100 train images, batch 32, last partial batch dropped
    const summary = lines.at(-1) as { test: { n: number; accuracy: number }; history: { accuracy: number }[] };
    expect(summary.test.n).toBe(100);
    expect(summary.history).toHaveLength(1);
    const ck = await loadCheckpoint(join(dir, 'final'));
    expect(ck.info).toMatchObject({ data: { evalSplit: 'val', limitPerClass: 10, train: 100, test: 100 }, metrics: { testAccuracy: summary.test.accuracy } });
    const test = await run(['eval', '--checkpoint', join(dir, 'final'), '--limit-per-class', '10', '--threads', '1', '--json']);
    expect(test.json()[0]?.['accuracy']).toBe(summary.test.accuracy);
  });
});
