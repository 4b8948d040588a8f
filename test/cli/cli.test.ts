/**
 * The command line itself: help, parsing into the tagged union, usage errors (exit 2, one line),
 * error → exit-code mapping, and the real `bin.ts` as a child process.
 */
import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT, errorLine, exitCodeOf, UsageError } from '../../src/cli/errors.js';
import { parseArgv } from '../../src/cli/main.js';
import { COMMANDS } from '../../src/cli/registry.js';
import { DataFormatError } from '../../src/data/errors.js';
import { CheckpointError, GraphError, MissingDependencyError, NonFiniteLossError, ShapeError, ValueError } from '../../src/tensor/errors.js';
import { run, sink, tempDir } from './helpers.js';

let tmp: { dir: string; cleanup: () => Promise<void> };
beforeAll(async () => {
  tmp = await tempDir();
});
afterAll(() => tmp.cleanup());

// Parsing rejects these before `run` looks at --out, so the directory is never created.
const train = (...extra: string[]) => ['train', '--preset', 'fmnist-vit-t', '--epochs', '1', '--out', join(tmpdir(), 'apt-prune-cli-never'), ...extra];

describe('help and version', () => {
  it('--help lists every registered command and the exit codes, on stdout, exit 0', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    for (const name of Object.keys(COMMANDS)) expect(r.stdout).toMatch(new RegExp(`^  ${name}\\b`, 'm'));
    expect(r.stdout).toContain('Exit codes: 0 ok');
  });

  it('train --help shows its flags and the global ones', async () => {
    const r = await run(['train', '--help']);
    expect(r.code).toBe(0);
    for (const f of [
      '--preset',
      '--epochs',
      '--out',
      '--batch',
      '--lr',
      '--seed',
      '--resume',
      '--checkpoint-every',
      '--limit-per-class',
      '--threads',
      '--val',
      '--json',
      '--verbose',
    ]) {
      expect(r.stdout).toContain(f);
    }
    expect(r.stdout).toContain('(default: 256)');
  });

  it('--version prints the package version', async () => {
    const r = await run(['--version']);
    expect([r.code, r.stdout.trim()]).toEqual([0, '0.1.0']);
  });

  it('no command: help on stderr, exit 2', async () => {
    const r = await run([]);
    expect(r.code).toBe(EXIT.usage);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('Usage: apt-prune');
  });
});

describe('parsing into the tagged union', () => {
  it('train: defaults filled, numbers typed, flags anywhere', () => {
    const inv = parseArgv(['train', '--preset', 'fmnist-vit-s', '--epochs', '3', '--out', 'runs/x', '--lr', '5e-4', '--resume', '--json'], {
      stdout: sink(),
      stderr: sink(),
    });
    expect(inv).toEqual({
      kind: 'run',
      json: true,
      verbose: false,
      command: {
        kind: 'train',
        args: {
          preset: 'fmnist-vit-s',
          epochs: 3,
          out: 'runs/x',
          batch: 256,
          lr: 5e-4,
          seed: 0,
          resume: true,
          checkpointEvery: undefined,
          keep: 2,
          limitPerClass: undefined,
          threads: undefined,
          val: false,
        },
      },
    });
  });

  it('eval and demo', () => {
    const io = { stdout: sink(), stderr: sink() };
    expect(parseArgv(['--verbose', 'eval', '--checkpoint', 'runs/x/final', '--split', 'val'], io)).toEqual({
      kind: 'run',
      json: false,
      verbose: true,
      command: { kind: 'eval', args: { checkpoint: 'runs/x/final', split: 'val', batch: 500, limitPerClass: undefined, threads: undefined } },
    });
    expect(parseArgv(['demo'], io)).toMatchObject({ kind: 'run', command: { kind: 'demo', args: {} } });
  });
});

describe('usage errors: exit 2, one line, before any work', () => {
  const cases: [string, string[], RegExp][] = [
    ['unknown command', ['bogus'], /^apt-prune: unknown command 'bogus'$/],
    ['misspelt command', ['trian'], /^apt-prune: unknown command 'trian' \(did you mean train\?\)$/],
    ['unknown option', train('--epoch', '2'), /^apt-prune: unknown option '--epoch' \(did you mean --epochs\?\)$/],
    ['missing required flag', ['train', '--preset', 'fmnist-vit-t', '--epochs', '1'], /^apt-prune: required option '--out <dir>' not specified$/],
    [
      'unknown preset',
      ['train', '--preset', 'vit-huge', '--epochs', '1', '--out', 'x'],
      /^apt-prune: train: unknown preset 'vit-huge'; presets: fmnist-vit-t, fmnist-vit-s, fmnist-sret$/,
    ],
    ['zero epochs', ['train', '--preset', 'fmnist-vit-t', '--epochs', '0', '--out', 'x'], /^apt-prune: train: --epochs must be a positive integer, got '0'$/],
    ['fractional epochs', ['train', '--preset', 'fmnist-vit-t', '--epochs', '1.5', '--out', 'x'], /--epochs must be a positive integer, got '1.5'$/],
    ['bad lr', train('--lr', 'fast'), /^apt-prune: train: --lr must be a positive number, got 'fast'$/],
    ['negative seed', train('--seed', '-1'), /--seed must be a non-negative integer, got '-1'$/],
    ['batch larger than the data', train('--limit-per-class', '2', '--batch', '32'), /--batch 32 exceeds the 20 training images$/],
    ['bad split', ['eval', '--checkpoint', 'x', '--split', 'dev'], /^apt-prune: eval: --split must be one of test, val, train, got 'dev'$/],
    ['extra operand', ['eval', '--checkpoint', 'x', 'y'], /^apt-prune: too many arguments for 'eval'/],
  ];
  it.each(cases)('%s', async (_name, argv, message) => {
    const r = await run(argv);
    expect(r.code).toBe(EXIT.usage);
    expect(r.stdout).toBe('');
    expect(r.stderr.endsWith('\n')).toBe(true);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr.trimEnd()).toMatch(message);
  });

  it('--out that is a file is refused before loading anything', async () => {
    const file = join(tmp.dir, 'a-file');
    await writeFile(file, 'x');
    const r = await run(['train', '--preset', 'fmnist-vit-t', '--epochs', '1', '--out', file]);
    expect(r.code).toBe(EXIT.usage);
    expect(r.stderr).toBe(`apt-prune: train: --out ${file} exists and is not a directory\n`);
  });

  it('with --json the error is also a JSON object on stdout', async () => {
    const r = await run(['--json', 'train', '--preset', 'nope', '--epochs', '1', '--out', 'x']);
    expect(r.code).toBe(EXIT.usage);
    expect(r.json()).toEqual([
      { kind: 'error', exitCode: 2, error: 'UsageError', message: "train: unknown preset 'nope'; presets: fmnist-vit-t, fmnist-vit-s, fmnist-sret" },
    ]);
  });
});

describe('errors → exit codes', () => {
  it('maps each typed error to its code', () => {
    expect(exitCodeOf(new UsageError('train', 'x'))).toBe(2);
    for (const e of [new CheckpointError('f', 'x'), new DataFormatError('f', 'x'), new ShapeError('f', 'x'), new ValueError('f', 'x')])
      expect(exitCodeOf(e)).toBe(3);
    expect(exitCodeOf(new MissingDependencyError('fashionMnist', 'x'))).toBe(4);
    expect(exitCodeOf(new NonFiniteLossError('fit', 4, Number.NaN))).toBe(5);
    expect(exitCodeOf(new GraphError('g', 'x'))).toBe(1);
    expect(exitCodeOf(new Error('boom'))).toBe(1);
  });

  it('one line always; unexpected errors point at --verbose', () => {
    expect(errorLine(new CheckpointError('loadCheckpoint', 'a\n  b'), false)).toBe('apt-prune: loadCheckpoint: a b');
    expect(errorLine(new Error('boom'), false)).toBe('apt-prune: boom (run with --verbose for the stack)');
    expect(errorLine(new Error('boom'), true)).toBe('apt-prune: boom');
    const long = new CheckpointError('vit.fromStateDict', Array.from({ length: 40 }, (_, i) => `blocks.${i}.weight: [8] expected, got [4]`).join('; '));
    const line = errorLine(long, false);
    expect(line.length).toBeLessThan(400);
    expect(line).toMatch(/^apt-prune: vit\.fromStateDict: blocks\.0\.weight: .*\[4\]; … \(--verbose for the full message\)$/);
    expect(errorLine(long, true)).toBe(`apt-prune: ${long.message}`);
  });
});

describe('demo', () => {
  it('validates its flags and names a missing starting checkpoint on one line (exit 2)', async () => {
    const bad = await run(['demo', '--updates', '0']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--updates must be a positive integer, got '0'/);
    const missing = await run(['demo', '--checkpoint', 'no/such/checkpoint']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/no checkpoint at no\/such\/checkpoint\.safetensors/);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
  });
});

describe('bin.ts as a process', () => {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const bin = (...argv: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/bin.ts', ...argv], { cwd: root, encoding: 'utf8' });

  it('exits with the codes main returns, errors on one stderr line', () => {
    const help = bin('--help');
    expect([help.status, help.stdout.startsWith('Usage: apt-prune')]).toEqual([0, true]);
    const bad = bin('eval', '--checkpoint', join(tmp.dir, 'missing'));
    expect(bad.status).toBe(EXIT.badInput);
    expect(bad.stderr).toMatch(/^apt-prune: loadCheckpoint: cannot read .*missing\.json: ENOENT[^\n]*\n$/);
  });
});
