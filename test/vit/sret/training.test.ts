/** Training through `train.fit`: the SReT Trainable (DropPath masks, permutations, BN batch statistics and running-stat updates), weight-decay groups, the model registry. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fromArrays } from '../../../src/data/dataset.js';
import { loadCheckpoint } from '../../../src/io/checkpoint.js';
import { Rng } from '../../../src/tensor/rng.js';
import { type FitEvent, fit as fitModel } from '../../../src/train/fit.js';
import { noDecay } from '../../../src/train/optim.js';
import { createModel, modelFromStateDict, modelSummary, modelTrainable } from '../../../src/vit/registry.js';
import * as sret from '../../../src/vit/sret/index.js';
import { SESSION, tinyConfig } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'sret-fit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** 5 classes of 16×16 images: class k is a bright horizontal band at rows 3k..3k+2, plus noise. */
function stripes(n: number, seed: number) {
  const rng = new Rng(seed);
  const images = new Uint8Array(n * 256);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const k = i % 5;
    labels[i] = k;
    for (let p = 0; p < 256; p++) {
      const row = Math.floor(p / 16);
      images[i * 256 + p] = Math.min(255, Math.floor((row >= 3 * k && row < 3 * k + 3 ? 180 : 20) + 60 * rng.uniform()));
    }
  }
  return fromArrays(images, labels, { c: 1, h: 16, w: 16 }, { classes: 5 });
}

describe('sretTrainable through fit', () => {
  it('loss falls; DropPath and permutations drawn per step; BN running stats updated and checkpointed', async () => {
    const c = tinyConfig({ bn: 'train', dropPathRate: 0.1 });
    const model = sret.create(c, { seed: 0 });
    const before = Array.from(model.buffers['patch_embed.bn2.running_mean']?.data ?? []);
    const t = await sret.sretTrainable(model, { seed: 1, session: SESSION });
    expect([...(t.buffers?.keys() ?? [])].sort()).toEqual(Object.keys(model.buffers).sort());
    const losses: number[] = [];
    const out = join(dir, 'run');
    const res = await fitModel(
      t,
      { epochs: 8, batchSize: 16, optimizer: { kind: 'adamw', lr: 3e-3, weightDecay: 0.05 }, warmupFraction: 0.1, augment: false, seed: 0 },
      { train: stripes(80, 1), evalSet: stripes(40, 2), out, onEvent: (e: FitEvent) => e.kind === 'step' && losses.push(e.loss) },
    );
    expect(res.steps).toBe(40);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(losses.slice(-5))).toBeLessThan(0.6 * mean(losses.slice(0, 5)));
    expect(res.history.at(-1)?.accuracy).toBeGreaterThan(0.6);
    expect(model.stats.numBatchesTracked).toBe(40);
    expect(Array.from(model.buffers['patch_embed.bn2.running_mean']?.data ?? [])).not.toEqual(before);
    const ck = await loadCheckpoint(out);
    const restored = modelFromStateDict(c, Object.fromEntries(Object.entries(ck.tensors).filter(([k]) => !k.startsWith('optim:'))));
    expect(Object.keys(restored.params).sort()).toEqual(Object.keys(model.params).sort());
    expect(Array.from(ck.tensors['patch_embed.bn2.running_var']?.data as Float32Array)).toEqual(
      Array.from(model.buffers['patch_embed.bn2.running_var']?.data ?? []),
    );
  });

  it('no weight decay on α/β, biases, norms and pos_embed (fit’s groups agree with sret.noDecayKey)', () => {
    const m = sret.create('fmnist-sret');
    const exempt = noDecay(new Map(Object.entries(m.params)));
    for (const k of Object.keys(m.params)) expect(exempt(k), k).toBe(sret.noDecayKey(k));
    expect(
      ['pos_embed', 'transformers.0.blocks.0.coefficient3.bias', 'transformers.1.blocks.5.coefficient2.bias', 'patch_embed.bn1.weight', 'norm.bias'].every(
        sret.noDecayKey,
      ),
    ).toBe(true);
    expect(['transformers.0.blocks.0.attn.qkv.weight', 'pools.0.conv.weight', 'head.weight', 'patch_embed.conv1.weight'].some(sret.noDecayKey)).toBe(false);
  });
});

describe('model registry', () => {
  it('createModel dispatches on the preset; summaries give params and MACs', async () => {
    const s = createModel('fmnist-sret', { seed: 0 });
    expect(s.config.kind).toBe('sret');
    expect(createModel('fmnist-vit-t').config.kind).toBe('vit');
    expect(modelSummary(s.config)).toEqual({ kind: 'sret', params: 434_922, macs: sret.sretMacs(sret.SRET_PRESETS['fmnist-sret']).total });
    expect(() => createModel('nope' as never)).toThrow(/unknown preset 'nope'/);
    const t = await modelTrainable(createModel(tinyConfig({ name: 'tiny' })), { seed: 0, session: SESSION });
    expect([t.name, [...(t.buffers?.keys() ?? [])].length]).toEqual(['tiny', 6]);
  });
});
