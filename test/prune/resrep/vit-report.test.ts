/** specs/resrep.md §9 tests 14 (ViT MLP) and 15 (end-of-run report). */
import { describe, expect, it } from 'vitest';
import { Graph } from '../../../src/graph/builder.js';
import { gelu, linear } from '../../../src/graph/nn.js';
import { compile } from '../../../src/graph/runtime.js';
import { analyzeChannels } from '../../../src/prune/deps.js';
import { convertResRep, insertCompactors } from '../../../src/prune/resrep/cnn.js';
import { conversionReport, formatConversionReport } from '../../../src/prune/resrep/report.js';
import { mergeVitMlp, mlpWithCompactor } from '../../../src/prune/resrep/vit-mlp.js';
import { Rng } from '../../../src/tensor/rng.js';
import { type Tensor, tensor } from '../../../src/tensor/tensor.js';
import { maxDiff, SESSION, tinyClassifier } from './helpers.js';

const rand = (rng: Rng, dims: number[], std = 0.5) => tensor(rng.fillNormal(new Float32Array(dims.reduce((a, b) => a * b, 1)), 0, std), dims, 'float32');

describe('§9.14 ViT MLP', () => {
  it('E = 8, H = 16, Q with 5 zero rows: merged fc1 [11, 8] and fc2 [8, 11] match the original on 4 tokens', async () => {
    const rng = new Rng(14);
    const p = { 'fc1.weight': rand(rng, [16, 8]), 'fc1.bias': rand(rng, [16]), 'fc2.weight': rand(rng, [8, 16]), 'fc2.bias': rand(rng, [8]) };
    const q = rand(rng, [16, 16]);
    for (const j of [0, 3, 7, 8, 15]) q.data.fill(0, j * 16, (j + 1) * 16);
    const x = rand(rng, [1, 4, 8], 1);

    const g = new Graph('mlp-q');
    const xv = g.input('x', 'float32', ['B', 4, 8]);
    const pv = { ...Object.fromEntries(Object.entries(p).map(([k, t]) => [k, g.param(k, t.dims)])), 'compactor.weight': g.param('compactor.weight', [16, 16]) };
    g.output('y', mlpWithCompactor(g, pv as never, xv, 'tanh'));
    const a = analyzeChannels(g);
    expect(a.groups.map((x) => [x.layer, x.consumers.map((c) => c.layer)])).toEqual([
      ['fc1', ['compactor']],
      ['compactor', ['fc2']],
    ]);

    const m = mergeVitMlp({ fc1: { weight: p['fc1.weight'], bias: p['fc1.bias'] }, fc2: { weight: p['fc2.weight'], bias: p['fc2.bias'] } }, q);
    expect(m.fc1.weight.dims).toEqual([11, 8]);
    expect(m.fc2.weight.dims).toEqual([8, 11]);
    const h = new Graph('mlp');
    const xh = h.input('x', 'float32', ['B', 4, 8]);
    const w = (k: string, t: Tensor) => h.param(k, t.dims);
    h.output('y', linear(h, gelu(h, linear(h, xh, w('w1', m.fc1.weight), w('b1', m.fc1.bias)), 'tanh'), w('w2', m.fc2.weight), w('b2', p['fc2.bias'])));
    const ref = await (await compile(g, SESSION)).run({ x, ...p, 'compactor.weight': q });
    const got = await (await compile(h, SESSION)).run({ x, w1: m.fc1.weight, b1: m.fc1.bias, w2: m.fc2.weight, b2: p['fc2.bias'] });
    const { diff, ref: r } = maxDiff(ref.y?.data as Float32Array, got.y?.data as Float32Array);
    expect(diff).toBeLessThanOrEqual(1e-5 * Math.max(1, r));
  });
});

describe('§9.15 end-of-run report', () => {
  it('lists masked rows still ≥ 1e-5 (and unmasked rows below it) and F/F0 after conversion', () => {
    const rr = insertCompactors(tinyClassifier(1));
    const qa = rr.params['a.compactor.weight'];
    const qb = rr.params['b.compactor.weight'];
    if (!qa || !qb) throw new Error('missing compactors');
    qa.data.fill(0, 0, 6); // row 0 of a: zero → dropped
    qb.data.fill(0, 8 * 3, 8 * 4); // row 3 of b: zero but unmasked → dropped
    const masks = { a: [0, 0, 1, 1, 1, 1], b: [1, 1, 1, 1, 1, 1, 1, 1] }; // a's row 1 masked but still norm 1 → kept
    const converted = convertResRep(rr);
    const r = conversionReport(rr.base, converted, masks, 0.9);
    expect(r.layers).toEqual([
      { layer: 'a', width: 6, kept: 5, maskedKept: [1], unmaskedDropped: [] },
      { layer: 'b', width: 8, kept: 7, maskedKept: [], unmaskedDropped: [3] },
    ]);
    expect(r.ratio).toBeCloseTo(r.macsAfter / r.macsBefore, 12);
    expect(r.ratio).toBeLessThan(0.9);
    expect(r.reached).toBe(true);
    const lines = formatConversionReport(r);
    expect(lines[0]).toBe('a: 6 → 5 · masked but kept (norm ≥ threshold): [1]');
    expect(lines.at(-1)).toMatch(/^MACs .* F\/F0 = 0\.\d{4} \(target 0\.900, reached\)$/);
  });
});
