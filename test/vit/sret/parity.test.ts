/**
 * §5.18 Golden parity with the reference SReT.py (re-implemented in PyTorch from the spec:
 * scripts/fixtures/sret_ref.py; fixture by scripts/fixtures/sret.py, torch 1.13) on the spec's
 * tiny config. The fixture's state dict is in the reference layout (shared blocks repeated), so
 * loading it also exercises the de-duplicating loader. Eval logits: rtol 1e-4, atol 1e-5 (the spec).
 * Beyond the spec: one train-mode step (BN batch statistics, permutation perms[1]) — loss, every
 * gradient (shared blocks accumulate over both applications, as PyTorch's shared module does) and
 * the running statistics after the update.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readSafetensors } from '../../../src/io/safetensors.js';
import { Rng } from '../../../src/tensor/rng.js';
import type { Tensor } from '../../../src/tensor/tensor.js';
import { tensor } from '../../../src/tensor/tensor.js';
import { GradStep } from '../../../src/train/step.js';
import * as sret from '../../../src/vit/sret/index.js';
import { expectAllclose } from '../../helpers/allclose.js';
import { maxAbs } from '../../helpers/engine-models.js';

interface Packed {
  readonly shape: number[];
  readonly data: number[];
}
interface Fixture {
  readonly meta: { torch: string };
  readonly config: Omit<sret.SretConfig, 'permutation'>;
  readonly perms: number[][];
  readonly labels: number[];
  readonly eval: { logits: Packed };
  readonly train: { loss: number; logits: Packed; running: Record<string, Packed> };
}

const dir = new URL('../../fixtures/sret/', import.meta.url);
const fx = JSON.parse(readFileSync(new URL('tiny.json', dir), 'utf8')) as Fixture;
const SESSION = { intraOpThreads: 1 } as const;

function fixed(perm: number[], bn: 'frozen' | 'train'): sret.SretConfig {
  return { ...fx.config, bn, permutation: { kind: 'fixed', perms: [Int32Array.from(perm)] } };
}

describe('SReT golden parity (tiny config, PyTorch re-implementation of SReT.py)', () => {
  it('eval logits match with the recorded permutation', async () => {
    const model = await sret.loadSafetensors(fixed(fx.perms[0] as number[], 'frozen'), new URL('tiny-weights.safetensors', dir));
    const images = (await readSafetensors(new URL('tiny-images.safetensors', dir))).images as Tensor;
    const logits = await sret.forward(model, images, { session: SESSION });
    expect(logits.dims).toEqual(fx.eval.logits.shape);
    expectAllclose(logits.data, fx.eval.logits.data, { rtol: 1e-4, atol: 1e-5, what: 'logits' });
    // The permutation matters: a different π changes the logits beyond tolerance.
    const other = await sret.forward(sret.fromStateDict(fixed(fx.perms[1] as number[], 'frozen'), sret.toStateDict(model)), images, { session: SESSION });
    const diff = Math.max(...Array.from(other.data, (v, i) => Math.abs(v - (fx.eval.logits.data[i] as number))));
    expect(diff).toBeGreaterThan(1e-3);
  });

  it('a train-mode step matches: loss, every gradient, BN running statistics', async () => {
    const c = fixed(fx.perms[1] as number[], 'train');
    const model = await sret.loadSafetensors(c, new URL('tiny-weights.safetensors', dir));
    const images = (await readSafetensors(new URL('tiny-images.safetensors', dir))).images as Tensor;
    const grads = await readSafetensors(new URL('tiny-grads.safetensors', dir));
    using step = await GradStep.compile(sret.trainGraph(c), Object.keys(model.params), SESSION);
    const labels = tensor(BigInt64Array.from(fx.labels, BigInt), [fx.labels.length], 'int64');
    const perms = sret.drawPermutations(c, new Rng(0)); // 'fixed': the recorded π, nothing drawn
    const res = await step.run(model.params, { images, labels, ...model.buffers, ...perms });
    expectAllclose([res.loss], [fx.train.loss], { rtol: 1e-5, atol: 0, what: 'loss' });
    expect(Object.keys(grads).sort()).toEqual(Object.keys(res.grads).sort());
    for (const [k, want] of Object.entries(grads)) {
      const data = want.data as Float32Array;
      // Conv biases before a batch-statistics BN have a zero gradient in exact arithmetic (the
      // batch mean removes them): float32 leaves ~1e-7 there, hence the absolute floor.
      expectAllclose(res.grads[k]?.data as Float32Array, data, { rtol: 1e-4, atol: Math.max(1e-6 * maxAbs(data), 1e-6), what: `grad ${k}` });
    }
    sret.updateRunningStats(model, res.outputs, 2);
    for (const [k, want] of Object.entries(fx.train.running)) {
      expectAllclose(model.buffers[k]?.data as Float32Array, want.data, { rtol: 1e-5, atol: 1e-6, what: k });
    }
    expect(model.stats.numBatchesTracked).toBe(1);
  });
});
