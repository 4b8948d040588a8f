/**
 * planOverlap: the share of one plan's kept patches another plan keeps too — a hand example, the
 * identity and disjoint cases, the chance level of independent uniform choices, and typed errors.
 */
import { describe, expect, it } from 'vitest';
import { type KeepPlan, keepAll, planOverlap } from '../../src/agent/index.js';
import { ValueError } from '../../src/tensor/errors.js';
import { Rng } from '../../src/tensor/rng.js';

const plan = (cutLayers: number[], kept: number[][][]): KeepPlan => ({ cutLayers, kept: kept.map((per) => per.map((idx) => Int32Array.from(idx))) });

/** A nested chain of uniform choices: keep[k] tokens (CLS included) after cut k, each a subset of the last. */
function randomChain(rng: Rng, n: number, keep: number[], batch: number): KeepPlan {
  const kept = keep.map(() => [] as Int32Array[]);
  for (let b = 0; b < batch; b++) {
    let pool = Array.from({ length: n - 1 }, (_, i) => i + 1);
    keep.forEach((count, k) => {
      const perm = rng.permutation(pool.length);
      pool = Array.from(perm.subarray(0, count - 1), (i) => pool[i] as number).sort((x, y) => x - y);
      kept[k]?.push(Int32Array.from([0, ...pool]));
    });
  }
  return { cutLayers: keep.map((_, k) => k), kept };
}

describe('planOverlap', () => {
  it('counts shared patches over the first plan’s patches, CLS left out, averaged over samples', () => {
    const a = plan(
      [1],
      [
        [
          [0, 1, 2, 3, 4],
          [0, 5, 6],
        ],
      ],
    );
    const b = plan(
      [1],
      [
        [
          [0, 2, 4, 7],
          [0, 1, 2],
        ],
      ],
    );
    // sample 0: {2, 4} of {1, 2, 3, 4} → 1/2; sample 1: none of {5, 6} → 0.
    expect(planOverlap(a, b)).toEqual([0.25]);
    // the other way: {2, 4} of {2, 4, 7} → 2/3; none of {1, 2} → 0.
    expect(planOverlap(b, a)[0]).toBeCloseTo(1 / 3, 12);
  });

  it('a plan agrees with itself and with keep-all fully; equal-size plans agree symmetrically', () => {
    const rng = new Rng(3);
    const a = randomChain(rng, 17, [12, 8, 5], 20);
    const b = randomChain(rng, 17, [12, 8, 5], 20);
    expect(planOverlap(a, a)).toEqual([1, 1, 1]);
    expect(planOverlap(a, keepAll([0, 1, 2], 20, 17))).toEqual([1, 1, 1]);
    // same counts per sample → |A∩B|/|A| = |A∩B|/|B| per sample, so the means agree too.
    const [ab, ba] = [planOverlap(a, b), planOverlap(b, a)];
    for (const [k, v] of ab.entries()) expect(v).toBeCloseTo(ba[k] as number, 12);
  });

  it('independent uniform chains agree on (k − 1)/(N − 1) at every cut', () => {
    const rng = new Rng(11);
    const [n, keep, batch] = [50, [31, 19, 12], 4000];
    const got = planOverlap(randomChain(rng, n, keep, batch), randomChain(rng, n, keep, batch));
    // standard error of the mean is below 0.005 at these sizes; 0.02 is four of them.
    for (const [k, v] of got.entries()) expect(Math.abs(v - ((keep[k] as number) - 1) / (n - 1))).toBeLessThan(0.02);
  });

  it('plans over different cut layers or batches are typed errors that name both', () => {
    const a = plan([1, 2], [[[0, 1]], [[0]]]);
    expect(() => planOverlap(a, plan([1, 3], [[[0, 1]], [[0]]]))).toThrow(ValueError);
    expect(() => planOverlap(a, plan([1, 3], [[[0, 1]], [[0]]]))).toThrow(/\[1, 2\] and \[1, 3\]/);
    expect(() =>
      planOverlap(
        a,
        plan(
          [1, 2],
          [
            [[0, 1], [0]],
            [[0], [0]],
          ],
        ),
      ),
    ).toThrow(/1 and 2 samples/);
  });
});
