/** §5.10–5.12, 5.16, 5.17: parameter counts, analytic MACs, shapes, DropPath rates and masks, permutation draws. */
import { describe, expect, it } from 'vitest';
import { Graph } from '../../../src/graph/builder.js';
import { Rng } from '../../../src/tensor/rng.js';
import { toNumbers } from '../../../src/tensor/tensor.js';
import * as sret from '../../../src/vit/sret/index.js';
import { expectAllclose } from '../../helpers/allclose.js';
import { randn, run, SESSION, tinyConfig } from './helpers.js';

const P = sret.SRET_PRESETS;

describe('parameter counts (§5.10)', () => {
  it('SReT-T is exactly 4,755,979, by part', () => {
    expect(sret.paramBreakdown(P['sret-t'])).toEqual({
      stem: 56_640,
      pos: 50_176,
      blocks: 3_228_603,
      nll: 1_159_208,
      pools: 3_840,
      head: 257_512,
      total: 4_755_979,
    });
  });
  it('LT, S and fmnist-sret (shared blocks once, BN buffers excluded)', () => {
    expect(sret.countParams(P['sret-lt'])).toBe(4_988_024);
    expect(sret.countParams(P['sret-s'])).toBe(20_899_692);
    expect(sret.countParams(P['fmnist-sret'])).toBe(434_922);
    const m = sret.create('fmnist-sret');
    expect(Object.values(m.params).reduce((n, t) => n + t.data.length, 0)).toBe(434_922);
  });
});

describe('analytic MACs (§5.11)', () => {
  it('T with and without slicing, S', () => {
    expect(sret.sretMacs(P['sret-t']).total).toBe(1_112_444_672);
    expect(sret.sretMacs(P['sret-t'], { slicing: false }).total).toBe(1_365_682_944);
    expect(sret.sretMacs(P['sret-s']).total).toBe(4_172_819_112);
  });
  it('pruning the last stage lowers only its blocks and NLLs', () => {
    const full = sret.sretMacs(P['sret-t']);
    const pruned = sret.sretMacs(P['sret-t'], { lastStageTokens: [49, 49, 30, 30, 20, 20] });
    expect(pruned.stem).toBe(full.stem);
    expect(pruned.total).toBeLessThan(full.total);
    expect(sret.sretMacs(P['sret-t'], { lastStageTokens: [49, 49, 49, 49, 49, 49] })).toEqual(full);
  });
});

describe('shapes (§5.12)', () => {
  it('T on [2,3,224,224]: stages [2,64,28,28], [2,128,14,14], [2,256,7,7]; logits [2,1000]; MLP widths 230/460/921', async () => {
    const c = P['sret-t'];
    const g = new Graph('shapes');
    const images = g.input('images', 'float32', [2, 3, 224, 224]);
    const perm = sret.permutationInputs(g, c);
    const { params, buffers } = sret.sretParams(g, c);
    const { logits, features } = sret.classify(g, params, buffers, images, c, { perm });
    expect(features.stages.map((v) => v.shape)).toEqual([
      [2, 64, 28, 28],
      [2, 128, 14, 14],
      [2, 256, 7, 7],
    ]);
    expect(logits.shape).toEqual([2, 1000]);
    expect([0, 1, 2].map((s) => sret.hiddenDims(c, s).mlp)).toEqual([230, 460, 921]);
    const model = sret.create(c, { seed: 0 });
    const y = await sret.forward(model, randn([2, 3, 224, 224], 1), { session: SESSION });
    expect(y.dims).toEqual([2, 1000]);
    expect(Array.from(y.data).every(Number.isFinite)).toBe(true);
  });
  it('fmnist-sret grids are 7/4/2 (49, 16, 4 tokens)', () => {
    expect(sret.stageGrids(P['fmnist-sret'])).toEqual([7, 4, 2]);
    expect(sret.stageTokens(P['fmnist-sret']).map((t) => t.tokens)).toEqual([49, 16, 4]);
  });
});

describe('DropPath (§5.16)', () => {
  it('rates of T at 0.1', () => {
    const want = [
      [0, 0.005],
      [0.02, 0.025, 0.03, 0.035, 0.04],
      [0.07, 0.075, 0.08],
    ];
    sret.dropPathRates(P['sret-t']).forEach((rates, s) => {
      expectAllclose(rates, want[s] as number[], { rtol: 0, atol: 1e-12 });
    });
    // block 0 of stage 1 has rate 0: its 2 applications × 2 branches carry no mask
    expect(sret.dropPathSites(P['sret-t'])).toHaveLength(2 * (20 - 2));
  });

  it('is the identity in eval, and a per-sample mask in training', async () => {
    const c = tinyConfig({ dropPathRate: 0.3 });
    const model = sret.create(c, { seed: 1 });
    expect(sret.inferenceGraph(c).inputs.some((v) => v.source.kind === 'input' && v.source.name === sret.DROP_PATH_INPUT)).toBe(false);
    const g = new Graph('dp');
    const images = g.input('images', 'float32', ['B', 1, 16, 16]);
    const perm = sret.permutationInputs(g, c);
    const dropPath = sret.dropPathInputs(g, c);
    const { params, buffers } = sret.sretParams(g, c);
    g.output('logits', sret.classify(g, params, buffers, images, c, { perm, dropPath }).logits);
    const x = randn([2, 1, 16, 16], 3);
    const perms = sret.drawPermutations(c, new Rng(4));
    const sites = sret.dropPathSites(c).length;
    const ones = { type: 'float32', dims: [2, sites], data: new Float32Array(2 * sites).fill(1) } as const;
    const evalLogits = await sret.forward(model, x, { perms, session: SESSION });
    const kept = await run(g, { ...model.params, ...model.buffers, ...perms, images: x, [sret.DROP_PATH_INPUT]: ones });
    expectAllclose(kept.logits?.data as Float32Array, evalLogits.data, { rtol: 0, atol: 1e-6, what: 'mask of ones = eval' });
    const mask = new Float32Array(2 * sites).fill(1);
    mask.fill(0, 0, sites); // drop every branch of sample 0 only
    const dropped = await run(g, { ...model.params, ...model.buffers, ...perms, images: x, [sret.DROP_PATH_INPUT]: { ...ones, data: mask } });
    const d = dropped.logits?.data as Float32Array;
    expectAllclose(d.slice(5), evalLogits.data.slice(5), { rtol: 0, atol: 1e-6, what: 'sample 1 untouched' });
    expect(Math.max(...Array.from(d.slice(0, 5), (v, i) => Math.abs(v - (evalLogits.data[i] as number))))).toBeGreaterThan(1e-4);
  });

  it('the same seed gives the same masks; entries are 0 or 1/keep', () => {
    const c = P['sret-t'];
    const a = sret.drawDropPath(c, 8, new Rng(11));
    expect(a?.dims).toEqual([8, 36]);
    expect(sret.drawDropPath(c, 8, new Rng(11))?.data).toEqual(a?.data);
    expect(sret.drawDropPath(c, 8, new Rng(12))?.data).not.toEqual(a?.data);
    const sites = sret.dropPathSites(c);
    a?.data.forEach((v, i) => {
      const keep = 1 - (sites[i % sites.length]?.rate as number);
      expect([0, Math.fround(1 / keep)]).toContain(v);
    });
    expect(sret.drawDropPath(P['fmnist-sret'], 8, new Rng(1))).toBeNull();
  });
});

describe('permutation draws (§5.17)', () => {
  it('same seed same π; different applications different π; T draws exactly 2 per forward', () => {
    const c = P['sret-t'];
    expect(sret.permutationSites(c).map((s) => [s.name, s.tokens])).toEqual([
      ['perm.0.1', 784],
      ['perm.0.3', 784],
    ]);
    const a = sret.drawPermutations(c, new Rng(5));
    expect(Object.keys(a)).toEqual(['perm.0.1', 'perm.0.3']);
    expect(toNumbers(a['perm.0.1'] as never)).toEqual(toNumbers(sret.drawPermutations(c, new Rng(5))['perm.0.1'] as never));
    expect(toNumbers(a['perm.0.1'] as never)).not.toEqual(toNumbers(a['perm.0.3'] as never));
    expect([...toNumbers(a['perm.0.3'] as never)].sort((x, y) => x - y)).toEqual(Array.from({ length: 784 }, (_, i) => i));
    const rng = new Rng(5);
    sret.drawPermutations(c, rng);
    expect(toNumbers(sret.drawPermutations(c, rng)['perm.0.1'] as never)).not.toEqual(toNumbers(a['perm.0.1'] as never)); // a fresh π per forward
    expect(sret.permutationSites({ ...c, permutation: { kind: 'none' } })).toEqual([]);
  });
});
