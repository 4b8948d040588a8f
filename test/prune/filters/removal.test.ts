/** Structured removal through channels.ts equals the masked original (removed filters zeroed), on fmnist-vgg8 with every kind of consumer. */
import { describe, expect, it } from 'vitest';
import { create, forward } from '../../../src/cnn/api.js';
import { removeCnnChannels } from '../../../src/prune/channels.js';
import { maskFilters, pruneFilters } from '../../../src/prune/filters/prune.js';
import { macsOfRatios, uniformRatioForMacs } from '../../../src/prune/filters/uniform.js';
import { countMacs } from '../../../src/prune/macs.js';
import { Rng } from '../../../src/tensor/rng.js';
import { images, maxDiff, randomizeBn, SESSION } from './helpers.js';

const vgg = randomizeBn(create('fmnist-vgg8', { seed: 3 }), new Rng(4));
const ratios = { 'features.conv1': 0.5, 'features.conv3': 0.3, 'features.conv4': 0.25, 'features.conv5': 0.6, 'classifier.fc1': 0.7 };

describe('removal through the one slicing implementation', () => {
  it('the pruned model computes the masked original (1e-5): conv → conv, across a max-pool, Flatten → linear, linear → linear', async () => {
    const r = pruneFilters(vgg, { ratios });
    const keep = Object.fromEntries(r.layers.map((l) => [l.layer, l.keep]));
    expect(r.model.params['classifier.fc1.weight']?.dims).toEqual([76, 51 * 9]); // floor(256·0.3), floor(128·0.4) channels × 3·3 columns;
    const masked = maskFilters(vgg, keep);
    const x = images(new Rng(5), 3, 1, 28);
    const ref = await forward(masked, x, SESSION);
    const out = await forward(r.model, x, SESSION);
    const d = maxDiff(ref.data, out.data);
    expect(d.diff).toBeLessThanOrEqual(1e-5 * Math.max(1, d.ref));
    // Masking really changes the function (the removed filters mattered), and the original is untouched.
    expect(maxDiff((await forward(vgg, x, SESSION)).data, ref.data).diff).toBeGreaterThan(1e-3);
    expect(Array.from(masked.params['features.conv1.weight']?.data.slice(0, 9) ?? [])).not.toEqual(new Array(9).fill(0));
  });
  it('is removeCnnChannels: same tensors, and the plan counts the MACs of the sliced model', () => {
    const r = pruneFilters(vgg, { ratios });
    const again = removeCnnChannels(vgg, Object.fromEntries(r.layers.map((l) => [l.layer, l.keep])));
    for (const [k, t] of Object.entries(again.params)) expect(r.model.params[k]?.data, k).toEqual(t.data);
    expect(r.plan.macs.after).toBe(countMacs(r.model).total);
    expect(r.plan.macs.after).toBe(macsOfRatios(vgg.config, ratios));
  });
  it('keeping every filter is the identity; a mask of all filters shares the tensors it does not change', () => {
    const r = pruneFilters(vgg, { ratios: { 'features.conv0': 0 } });
    expect(r.model.params['features.conv0.weight']?.data).toEqual(vgg.params['features.conv0.weight']?.data);
    const m = maskFilters(vgg, { 'features.conv2': [0, 5] });
    expect(m.params['features.conv3.weight']).toBe(vgg.params['features.conv3.weight']);
    expect(() => maskFilters(vgg, { 'classifier.fc2': [0] })).toThrow(/\[not-graph-output\]/);
    expect(() => maskFilters(vgg, { 'features.conv2': [5, 0] })).toThrow(/\[plan-indices\]: indices must be strictly increasing/);
  });
  it('uniform ratio at a MACs budget: the closest achievable MACs', () => {
    const layers = ['features.conv0', 'features.conv1', 'features.conv2', 'features.conv3', 'features.conv4', 'features.conv5'];
    const target = macsOfRatios(vgg.config, ratios);
    const u = uniformRatioForMacs(vgg.config, layers, target);
    expect(u.macs).toBe(macsOfRatios(vgg.config, Object.fromEntries(layers.map((l) => [l, u.ratio]))));
    for (const p of [u.ratio - 0.02, u.ratio + 0.02]) {
      const other = macsOfRatios(vgg.config, Object.fromEntries(layers.map((l) => [l, p])));
      expect(Math.abs(other - target)).toBeGreaterThanOrEqual(Math.abs(u.macs - target));
    }
    expect(Math.abs(u.macs - target) / target).toBeLessThan(0.05);
    expect(uniformRatioForMacs(vgg.config, layers, countMacs(vgg).total)).toEqual({ ratio: 0, macs: countMacs(vgg).total });
  });
});
