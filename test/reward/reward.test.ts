/**
 * §10.6 reward sign (specs/apt.md §4 step 4, §9.3–4), the agent's loss, and §10.15's MAC counts
 * (planMacs; the report lines are in test/agent/pruner.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { aptTrainGraph, explore, oneCutMask, TokenPruner, tailGraph } from '../../src/agent/index.js';
import { blockMacs, planMacs, prunerMacs, stemHeadMacs } from '../../src/reward/cost.js';
import { agentLoss, pruningReward, rewardLabels } from '../../src/reward/pruning.js';
import { DTypeError, ShapeError, ValueError } from '../../src/tensor/errors.js';
import { Rng } from '../../src/tensor/rng.js';
import { type Tensor, tensor } from '../../src/tensor/tensor.js';
import { create, VIT_PRESETS } from '../../src/vit/index.js';
import { N, randomImages, runGraph, TINY } from '../helpers/apt.js';

const rows = (...r: number[][]) => tensor(Float32Array.from(r.flat()), [r.length, (r[0] as number[]).length]);
const ys = (...y: number[]) => tensor(BigInt64Array.from(y, BigInt), [y.length]);
const reward = (plain: Tensor, pruned: Tensor, labels: Tensor, kind?: 'prob' | 'logprob') =>
  pruningReward({ logitsPlain: plain, logitsPruned: pruned, labels, kind });
const up = Math.log(0.6 / 0.4); // σ(up) = 0.6: p_y from 0.5 to 0.6

describe('§10.6 reward sign', () => {
  it('p_new − p_old = +0.1 → label 1, −0.1 → 0, 0 → 0; labels are per sample in a mixed batch', () => {
    const plain = rows([0, 0], [0, 0], [0, 0], [1, 2]);
    const pruned = rows([up, 0], [0, up], [0, 0], [1, 2]);
    const r = reward(plain, pruned, ys(0, 0, 1, 1));
    expect(r[0]).toBeCloseTo(0.1, 6);
    expect(r[1]).toBeCloseTo(-0.1, 6);
    expect([r[2], r[3]]).toEqual([0, 0]);
    expect(Array.from(rewardLabels(r))).toEqual([1, 0, 0, 0]);
    // The same rows under another label order: each sample's label follows its own reward.
    expect(Array.from(rewardLabels(reward(plain, pruned, ys(1, 1, 0, 0))))).toEqual([0, 1, 0, 0]);
  });

  it('a change only in non-true classes gives r = 0 exactly → label 0 (prob and logprob)', () => {
    const plain = rows([0, 0, -200]);
    const pruned = rows([0, -200, 0]); // p_0 = 1/2 in both, mass moved from class 1 to class 2
    for (const kind of ['prob', 'logprob'] as const) {
      expect(Array.from(reward(plain, pruned, ys(0), kind))).toEqual([0]);
      expect(Array.from(rewardLabels(reward(plain, pruned, ys(0), kind)))).toEqual([0]);
    }
  });

  it('prob is float32 from a max-subtracted softmax: a saturated p_y gives r = 0 (label 0) where logprob sees the gain', () => {
    const plain = rows([30, 0], [20, 0]);
    const pruned = rows([40, 0], [25, 0]);
    expect(Array.from(reward(plain, pruned, ys(0, 0), 'prob'))).toEqual([0, 0]);
    expect(Array.from(rewardLabels(reward(plain, pruned, ys(0, 0), 'prob')))).toEqual([0, 0]);
    const lp = reward(plain, pruned, ys(0, 0), 'logprob');
    expect((lp[0] as number) / (Math.exp(-30) - Math.exp(-40))).toBeCloseTo(1, 2); // log p_new − log p_old, computed without 1 − p
    expect(Array.from(rewardLabels(lp))).toEqual([1, 1]);
    for (const kind of ['prob', 'logprob'] as const) expect(Array.from(reward(rows([1e4, 0]), rows([0, 1e4]), ys(0), kind)).every(Number.isFinite)).toBe(true);
  });

  it('logprob = CE_old − CE_new and has the sign of prob away from saturation (1000 random rows)', () => {
    const rng = new Rng(1);
    const b = 1000;
    const plain = tensor(rng.fillNormal(new Float32Array(b * 10), 0, 2), [b, 10], 'float32');
    const pruned = tensor(
      plain.data.map((v) => v + rng.normal(0, 0.3)),
      [b, 10],
      'float32',
    );
    const y = tensor(
      BigInt64Array.from({ length: b }, () => BigInt(rng.int(10))),
      [b],
    );
    const [p, lp] = [reward(plain, pruned, y, 'prob'), reward(plain, pruned, y, 'logprob')];
    const ce = (x: Float32Array, s: number) => {
      const row = Array.from(x.subarray(s * 10, s * 10 + 10));
      const m = Math.max(...row);
      return m + Math.log(row.reduce((a, v) => a + Math.exp(v - m), 0)) - (row[Number(y.data[s])] as number);
    };
    let checked = 0;
    for (let s = 0; s < b; s++) {
      expect(lp[s]).toBeCloseTo(ce(plain.data, s) - ce(pruned.data, s), 5);
      if (Math.abs(p[s] as number) > 1e-6) {
        expect(Math.sign(p[s] as number), `row ${s}`).toBe(Math.sign(lp[s] as number));
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(900);
  });

  it('a zero head gives every label 0 (through stream 0 and the stream-2 tail, every cut)', async () => {
    const model = create(TINY, { seed: 2, head: 'zeros' });
    new Rng(3).fillNormal(model.params['head.bias']?.data as Float32Array); // any bias: the logits ignore the tokens
    const pruner = TokenPruner.create(TINY, { seed: 1 });
    const images = randomImages(4, 6);
    const labels = ys(0, 1, 2, 3, 4, 5);
    const a = await runGraph(aptTrainGraph(TINY, pruner.config), { ...model.params, ...pruner.params, images, labels });
    for (const [k, cut] of pruner.config.cutLayers.entries()) {
      const keep = tensor(oneCutMask(explore(a[`pdrop.${k}`]?.data as Float32Array, 6, N, new Rng(k)), N), [6, N]);
      const t = await runGraph(tailGraph(TINY, cut), { ...model.params, h: a[`h.${k}`] as Tensor, keep });
      for (const kind of ['prob', 'logprob'] as const) {
        const r = reward(a['logits.plain'] as Tensor, t.logits as Tensor, labels, kind);
        expect(Array.from(r)).toEqual(new Array(6).fill(0));
        expect(Array.from(rewardLabels(r))).toEqual(new Array(6).fill(0));
      }
    }
  });

  it('bad input: typed errors naming the argument and the value', () => {
    const two = rows([0, 0]);
    expect(() => reward(two, rows([0, 0, 0]), ys(0))).toThrow(ShapeError);
    expect(() => reward(two, two, ys(2))).toThrow(/label 2 at index 0 is outside \[0, 2\)/);
    expect(() => reward(two, two, ys(0, 1))).toThrow(/labels must be \[1\]/);
    expect(() => reward(tensor(Int32Array.of(0, 0), [1, 2]), two, ys(0))).toThrow(DTypeError);
    expect(() => reward(two, two, ys(0), 'reinforce' as 'prob')).toThrow(/kind must be 'prob' or 'logprob', got 'reinforce'/);
    expect(() => rewardLabels([0.1, Number.NaN])).toThrow(/reward at index 1 is NaN/);
  });
});

describe('agentLoss: mean 2-class cross-entropy of the chosen actions and its logit gradient', () => {
  it('matches a hand computation, labels as numbers or an int64 tensor', () => {
    const l = rows([0, 0], [1, 3]);
    const ce1 = Math.log(1 + Math.exp(-2)); // label 1, logits (1, 3)
    const want = (Math.log(2) + ce1) / 2;
    const p1 = 1 / (1 + Math.exp(-2));
    for (const labels of [[0, 1], ys(0, 1)]) {
      const r = agentLoss(l, labels);
      expect(r.loss).toBeCloseTo(want, 12);
      const g = Array.from(r.gradLogits);
      for (const [i, v] of [-0.25, 0.25, (1 - p1) / 2, (p1 - 1) / 2].entries()) expect(g[i]).toBeCloseTo(v, 7);
    }
    expect(() => agentLoss(l, [0, 2])).toThrow(/label 2 at index 1 must be 0 or 1/);
    expect(() => agentLoss(rows([0, 0, 0]), [0])).toThrow(/chosenLogits must be \[B, 2\]/);
  });
});

describe('§10.15 report: planMacs', () => {
  const c = VIT_PRESETS['fmnist-vit-t'];

  it('the MAC ratio is 1 when nothing is dropped; running pruners adds exactly their MACs', () => {
    const all = new Array(c.depth).fill(50);
    expect(planMacs(c, all)).toEqual({ macs: planMacs(c, all).plainMacs, plainMacs: planMacs(c, all).plainMacs, ratio: 1 });
    const withPruners = planMacs(c, all, [1, 2, 4]);
    expect(withPruners.macs - withPruners.plainMacs).toBe(3 * prunerMacs(c, 50));
    expect(withPruners.ratio).toBeGreaterThan(1);
  });

  it('per block 4nD² + 2n²D + 2nDM, per pruner 2D² + 2D + nD folded (D² + 2nD² + nD + 4nD bilinear); dropped tokens lower the ratio', () => {
    const [d, m] = [96, 384];
    expect(blockMacs(c, 50)).toBe(4 * 50 * d * d + 2 * 50 * 50 * d + 2 * 50 * d * m);
    expect(prunerMacs(c, 20, 'bilinear')).toBe(d * d + 2 * 20 * d * d + 20 * d + 4 * 20 * d);
    expect(prunerMacs(c, 20)).toBe(2 * d * d + 2 * d + 20 * d);
    expect(stemHeadMacs(c)).toBe(49 * d * 16 + d * 10);
    const pruned = planMacs(c, [50, 50, 30, 20, 20, 10], [1, 2, 4]);
    const blocks = [50, 50, 30, 20, 20, 10].reduce((s, n) => s + blockMacs(c, n), 0);
    expect(pruned.macs).toBe(stemHeadMacs(c) + blocks + prunerMacs(c, 50) + prunerMacs(c, 30) + prunerMacs(c, 20));
    expect(pruned.ratio).toBeLessThan(0.7);
  });

  it('bad token counts are typed errors naming the entry', () => {
    expect(() => planMacs(c, [50, 50])).toThrow(/tokensPerLayer must have 6 entries \(one per block\), got 2/);
    expect(() => planMacs(c, [50, 50, 51, 20, 20, 10])).toThrow(/tokensPerLayer\[2\] = 51 is outside \[1, 50\]/);
    expect(() => planMacs(c, new Array(6).fill(50), [6])).toThrow(ValueError);
  });
});
