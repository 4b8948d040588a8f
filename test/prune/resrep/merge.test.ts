/** specs/resrep.md §9 tests 1–4 and 10: identity insertion, the worked merge, random merges, the threshold. */
import { describe, expect, it } from 'vitest';
import { forward } from '../../../src/cnn/api.js';
import { sliceInputChannels } from '../../../src/prune/channels.js';
import { foldBatchNorm } from '../../../src/prune/fold-bn.js';
import { convertResRep, insertCompactors } from '../../../src/prune/resrep/cnn.js';
import { keepRows, mergeCompactor } from '../../../src/prune/resrep/merge.js';
import { Rng } from '../../../src/tensor/rng.js';
import { tensor } from '../../../src/tensor/tensor.js';
import { expectAllclose } from '../../helpers/allclose.js';
import { convBnReluConv, images, maxDiff, SESSION } from './helpers.js';

const f32 = (v: number[], dims: number[]) => tensor(Float32Array.from(v), dims, 'float32');
const f64 = (v: number[], dims: number[]) => tensor(Float64Array.from(v), dims, 'float64');

describe('§9.1 identity', () => {
  it('a random conv→BN→ReLU→conv net with Q = I inserted gives the same output (≤ 1e-6)', async () => {
    const m = convBnReluConv(3, 8, 8, 1);
    const rr = insertCompactors(m);
    expect(rr.compactors.map((s) => s.layer)).toEqual(['a']);
    expect(rr.config.layers.map((l) => l.name)).toEqual(['a', 'bn', 'a.compactor', 'relu', 'b']);
    const x = images(new Rng(2), 4, 3, 8);
    const { diff } = maxDiff((await forward(m, x, SESSION)).data, (await forward(rr, x, SESSION)).data);
    expect(diff).toBeLessThanOrEqual(1e-6);
  });
});

describe('§9.2 worked merge', () => {
  const eps = 1e-5;
  const bn = { gamma: f64([1, 1, 2], [3]), beta: f64([0.5, 1, 0], [3]), mean: f64([0, 2, 1], [3]), var: f64([1 - eps, 1 - eps, 1 - eps], [3]), eps };
  const fused = foldBatchNorm({ weight: f64([1, 2, 3], [3, 1, 1, 1]) }, bn);
  const q = f64([1, 0, 0, 0, 0, 0, 0.5, 0, 1], [3, 3]);
  const merged = mergeCompactor(fused, q);
  const consumer = sliceInputChannels({ weight: f64([1, 10, 100], [1, 3, 1, 1]) }, merged.keep);

  it('fuses BN: K̂ = [1, 2, 6], b̂ = [0.5, −1, −2]', () => {
    expectAllclose(fused.weight.data, [1, 2, 6], { atol: 1e-12 });
    expectAllclose(fused.bias.data, [0.5, -1, -2], { atol: 1e-12 });
  });
  it('drops row 1: K′ = [1, 6.5], b′ = [0.5, −1.75]; the consumer becomes [[1, 100]]', () => {
    expect(Array.from(merged.keep)).toEqual([0, 2]);
    expect(merged.weight.dims).toEqual([2, 1, 1, 1]);
    expectAllclose(merged.weight.data, [1, 6.5], { atol: 1e-12 });
    expectAllclose(merged.bias.data, [0.5, -1.75], { atol: 1e-12 });
    expect(Array.from(consumer.weight.data)).toEqual([1, 100]);
  });
  it('x = 1 gives 476.5 and x = −1 gives 0, both ways', () => {
    const relu = (v: number) => Math.max(0, v);
    for (const [x, want] of [
      [1, 476.5],
      [-1, 0],
    ] as const) {
      // unmerged: conv → BN → Q → ReLU → consumer
      const y = [1, 2, 3].map((k, j) => ((k * x - (bn.mean.data[j] as number)) * (bn.gamma.data[j] as number)) / Math.sqrt(1) + (bn.beta.data[j] as number));
      const qy = [0, 1, 2].map((j) => [0, 1, 2].reduce((s, i) => s + (q.data[j * 3 + i] as number) * (y[i] as number), 0));
      const unmerged = [1, 10, 100].reduce((s, w, j) => s + w * relu(qy[j] as number), 0);
      const mergedOut = [0, 1].reduce(
        (s, r) => s + (consumer.weight.data[r] as number) * relu((merged.weight.data[r] as number) * x + (merged.bias.data[r] as number)),
        0,
      );
      expect(unmerged).toBeCloseTo(want, 9);
      expect(mergedOut).toBeCloseTo(want, 9);
    }
  });
});

async function randomMerge(zeroRows: number[]) {
  const m = convBnReluConv(5, 6, 9, 3);
  const rr = insertCompactors(m);
  const rng = new Rng(4);
  const q = rr.params['a.compactor.weight'];
  if (!q) throw new Error('no compactor');
  rng.fillNormal(q.data, 0, 0.5);
  for (const j of zeroRows) q.data.fill(0, j * 6, (j + 1) * 6);
  const { model } = convertResRep(rr);
  const x = images(new Rng(5), 3, 5, 9);
  const { diff, ref } = maxDiff((await forward(rr, x, SESSION)).data, (await forward(model, x, SESSION)).data);
  return { model, diff, ref };
}

describe('§9.3–9.4 random merges (float32, §8 bound)', () => {
  it('conv 3×3 (5 → 6, stride 2, pad 1), random BN and Q, ReLU, 3×3 consumer with bias: merged == unmerged', async () => {
    const { model, diff, ref } = await randomMerge([]);
    expect(model.params['a.weight']?.dims).toEqual([6, 5, 3, 3]);
    expect(model.config.layers.map((l) => l.kind)).toEqual(['conv', 'relu', 'conv']); // BN folded, compactor merged
    expect(diff).toBeLessThanOrEqual(1e-5 * Math.max(1, ref));
  });
  it('with rows 1 and 4 of Q zero: width 4, consumer [·, 4, 3, 3], same bound', async () => {
    const { model, diff, ref } = await randomMerge([1, 4]);
    expect(model.params['a.weight']?.dims).toEqual([4, 5, 3, 3]);
    expect(model.params['b.weight']?.dims).toEqual([4, 4, 3, 3]);
    expect(diff).toBeLessThanOrEqual(1e-5 * Math.max(1, ref));
  });
});

describe('§9.10 threshold', () => {
  it('row norms [2e-5, 5e-6, 1.0] keep rows 0 and 2 whatever the mask', () => {
    expect(Array.from(keepRows([2e-5, 5e-6, 1.0]))).toEqual([0, 2]);
    const q = f32([2e-5, 0, 0, 0, 5e-6, 0, 0, 0, 1], [3, 3]);
    expect(Array.from(mergeCompactor({ weight: f32([1, 2, 3], [3, 1]) }, q).keep)).toEqual([0, 2]);
  });
  it('all rows below 1e-5: only the largest is kept', () => {
    expect(Array.from(keepRows([2e-6, 5e-6, 1e-7]))).toEqual([1]);
  });
  it('multipleOf rounds the kept count up with the largest dropped rows', () => {
    expect(Array.from(keepRows([1, 0, 0.5, 1e-7, 0.2, 0], { multipleOf: 4 }))).toEqual([0, 2, 3, 4]);
  });
});
