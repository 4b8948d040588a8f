/** Sensitivity analysis (specs/cops.md §7): §9 test 12 (the δ rule), per-stage ratios, the sweep against sliced models, JSON and PNG. */
import { inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { create, forward } from '../../../src/cnn/api.js';
import { fromArrays } from '../../../src/data/dataset.js';
import { sensitivityPng } from '../../../src/prune/filters/plot.js';
import { pruneFilters } from '../../../src/prune/filters/prune.js';
import { chooseRatios, deltaRule, parseSensitivity, type SensitivityEvent, sensitivity } from '../../../src/prune/filters/sensitivity.js';
import { countMacs } from '../../../src/prune/macs.js';
import { ValueError } from '../../../src/tensor/errors.js';
import { Rng } from '../../../src/tensor/rng.js';
import { evaluate } from '../../../src/train/fit.js';
import { config, randomizeBn, SESSION } from './helpers.js';

const GRID = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];

describe('§9 test 12: the δ rule', () => {
  it('drops [0.1, 0.2, 0.5, 0.9, 1.5, …] with δ = 1 give p = 0.4', () => {
    expect(deltaRule([0.1, 0.2, 0.5, 0.9, 1.5, 2, 3, 5, 8], GRID, 1)).toBe(0.4);
  });
  it('drops starting at 1.2 give "skip"', () => {
    expect(deltaRule([1.2, 1.5, 2, 3, 4, 5, 6, 7, 8], GRID, 1)).toBe('skip');
  });
  it('every ratio up to p must pass: a later recovery does not count; a drop of exactly δ passes', () => {
    expect(deltaRule([0.1, 1.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8], GRID, 1)).toBe(0.1);
    expect(deltaRule([100 * (0.9 - 0.89), 2, 3, 4, 5, 6, 7, 8, 9], GRID, 1)).toBe(0.1); // 1.0000000000000009
    expect(deltaRule(new Array(9).fill(-0.5), GRID, 1)).toBe(0.9);
    expect(() => deltaRule([0.1], GRID)).toThrow(ValueError);
  });
  it('per stage: the smallest ratio of the stage, skipped layers stay skipped', () => {
    const curve = (layer: string, drops: number[]) => ({ layer, width: 8, keep: [], accuracy: [], drop: drops, macs: [] });
    const r = {
      format: 'apt-prune.sensitivity' as const,
      version: 1 as const,
      model: 'm',
      criterion: 'l1' as const,
      images: 1,
      baseAccuracy: 0.9,
      baseMacs: 1,
      ratios: [0.1, 0.2, 0.3],
      curves: [curve('layer1.0.conv1', [0, 0, 0]), curve('layer1.1.conv1', [0, 2, 2]), curve('layer1.2.conv1', [2, 2, 2]), curve('layer2.0.conv1', [0, 0, 5])],
    };
    expect(chooseRatios(r).perLayer).toEqual({ 'layer1.0.conv1': 0.3, 'layer1.1.conv1': 0.1, 'layer1.2.conv1': 'skip', 'layer2.0.conv1': 0.2 });
    const staged = chooseRatios(r, { stage: (l) => l.split('.')[0] as string });
    expect(staged.ratios).toEqual({ 'layer1.0.conv1': 0.1, 'layer1.1.conv1': 0.1, 'layer2.0.conv1': 0.2 });
    expect(staged.skipped).toEqual(['layer1.2.conv1']);
    expect(parseSensitivity(JSON.parse(JSON.stringify(r)))).toEqual(r);
    expect(() => parseSensitivity({ ...r, curves: [{ layer: 'x', drop: [1] }] })).toThrow(/each curve must be/);
  });
});

describe('the sweep', () => {
  const bn = (name: string, input: string) => ({ kind: 'bn' as const, name, input, eps: 1e-5, momentum: 0.1 });
  const cfg = config('sweep', 1, 6, [
    { kind: 'conv', name: 'a', input: 'input', out: 5, kernel: 3, stride: 1, pad: 1, bias: false },
    bn('bn_a', 'a'),
    { kind: 'relu', name: 'relu_a', input: 'bn_a' },
    { kind: 'conv', name: 'b', input: 'relu_a', out: 10, kernel: 3, stride: 2, pad: 1, bias: false },
    bn('bn_b', 'b'),
    { kind: 'relu', name: 'relu_b', input: 'bn_b' },
    { kind: 'flatten', name: 'flatten', input: 'relu_b' },
    { kind: 'linear', name: 'fc', input: 'flatten', out: 10, bias: true },
  ]);
  const model = randomizeBn(create(cfg, { seed: 1 }), new Rng(1));
  const rng = new Rng(3);
  const val = fromArrays(
    Uint8Array.from({ length: 60 * 36 }, () => rng.int(256)),
    Array.from({ length: 60 }, () => rng.int(10)),
    { c: 1, h: 6, w: 6 },
    { classes: 10 },
  );
  it('records, per layer and ratio, the accuracy of the sliced model; equal n_keep is evaluated once', async () => {
    const events: SensitivityEvent[] = [];
    const r = await sensitivity(model, val, { batchSize: 32, session: SESSION, onProgress: (e) => events.push(e) });
    expect(r.curves.map((c) => [c.layer, c.width, c.keep])).toEqual([
      ['a', 5, [4, 4, 3, 3, 2, 2, 1, 1, 1]],
      ['b', 10, [9, 8, 7, 6, 5, 4, 3, 2, 1]],
    ]);
    expect(events.map((e) => e.done)).toEqual(Array.from({ length: 18 }, (_, i) => i + 1));
    const acc = async (m: typeof model) => (await evaluate({ predict: (x) => forward(m, x, SESSION) }, val)).accuracy;
    expect(r.baseAccuracy).toBe(await acc(model));
    expect(r.baseMacs).toBe(countMacs(model).total);
    for (const [layer, k] of [
      ['a', 4],
      ['b', 2],
    ] as const) {
      const c = r.curves.find((x) => x.layer === layer);
      const p = pruneFilters(model, { ratios: { [layer]: GRID[k] as number } });
      expect(c?.accuracy[k]).toBeCloseTo(await acc(p.model), 10);
      expect(c?.drop[k]).toBeCloseTo(100 * (r.baseAccuracy - (c?.accuracy[k] as number)), 10);
      expect(c?.macs[k]).toBe(countMacs(p.model).total);
    }
    // The PNG: signature, size, and pixels that are not all white.
    const png = sensitivityPng(r, { width: 700, height: 400 });
    expect(Array.from(png.slice(0, 8))).toEqual([137, 80, 78, 71, 13, 10, 26, 10]);
    const view = new DataView(png.buffer, png.byteOffset);
    expect([view.getUint32(16), view.getUint32(20)]).toEqual([700, 400]);
    const idat = png.indexOf(0x49, 33); // 'I' of IDAT
    const raw = inflateSync(png.subarray(idat + 4, idat + 4 + view.getUint32(idat - 4)));
    expect(raw.length).toBe(400 * (1 + 700 * 3));
    expect(raw.some((b, i) => i % 2101 !== 0 && b < 200)).toBe(true);
  });
  it('bad grids and refused layers are typed errors', async () => {
    await expect(sensitivity(model, val, { ratios: [0.5, 0.2] })).rejects.toThrow(/ratios must increase within \(0, 1\)/);
    await expect(sensitivity(model, val, { ratios: [0.5, 1] })).rejects.toThrow(/must be a number in \[0, 1\), got 1/);
    await expect(sensitivity(model, val, { layers: ['fc'] })).rejects.toThrow(/layer 'fc' \[not-graph-output\]/);
  });
});
