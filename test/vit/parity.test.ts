/**
 * ViT parity with PyTorch (scripts/fixtures/vit.py; docs/parity.md): a small fmnist-vit-t (dim 24,
 * depth 2, everything else as the preset) with random weights saved by PyTorch as safetensors with
 * timm keys, loaded through readSafetensors → vit.fromStateDict; its logits on 8 images, and one
 * training step's label-smoothed loss and every parameter gradient, against PyTorch's float64 values.
 *
 * Tolerance as test/graph/parity.test.ts: |actual − expected| ≤ 1e-4·|expected| + 1e-6·max|expected|
 * per tensor; the loss 1e-4 relative with no atol.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { encodeSafetensors, readSafetensors } from '../../src/io/index.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { GradStep } from '../../src/train/step.js';
import { forward, fromStateDict, paramShapes, toStateDict, trainGraph, VIT_PRESETS, type VitConfig } from '../../src/vit/index.js';
import { expectAllclose, worstMismatch } from '../helpers/allclose.js';
import { maxAbs, PARITY_RTOL, type PackedTensor, parityTolerance, unpack } from '../helpers/engine-models.js';

interface VitGolden {
  readonly meta: { readonly weights: string; readonly torch_f32_max_rel: Record<string, number> };
  readonly config: VitConfig;
  readonly labelSmoothing: number;
  readonly pixels: { readonly shape: number[]; readonly data: number[] };
  readonly labels: PackedTensor;
  readonly logits: PackedTensor;
  readonly loss: number;
  readonly grads: Record<string, PackedTensor>;
}

const DIR = new URL('../fixtures/vit/', import.meta.url);
const golden = JSON.parse(readFileSync(new URL('golden.json', DIR), 'utf8')) as VitGolden;
const weightsUrl = new URL(golden.meta.weights, DIR);
const SESSION = { intraOpThreads: 1 } as const;
const LEVELS = ['all', 'disabled'] as const;

/** Images exactly as the generator made them: x = (p − 64) / 64 is exact in float32. */
const images: Tensor<'float32'> = { type: 'float32', dims: golden.pixels.shape, data: Float32Array.from(golden.pixels.data, (p) => (p - 64) / 64) };
const labels = unpack(golden.labels) as Tensor<'int64'>;

const load = async (config: VitConfig = golden.config) => fromStateDict(config, await readSafetensors(weightsUrl));
const logitsOf = async (config?: VitConfig) => (await forward(await load(config), images, SESSION)).data;

async function gradStep(optimization: (typeof LEVELS)[number]) {
  const model = await load();
  const g = trainGraph(golden.config, { labelSmoothing: golden.labelSmoothing });
  using step = await GradStep.compile(g, Object.keys(model.params), { ...SESSION, optimization });
  return await step.run(model.params, { images, labels });
}

describe('vit parity with PyTorch (fmnist-vit-t shape family, random weights)', () => {
  it('the fixture is fmnist-vit-t with only width and depth reduced', () => {
    const { name, dim, depth, ...rest } = golden.config;
    const { name: _n, dim: _d, depth: _l, ...preset } = VIT_PRESETS['fmnist-vit-t'];
    expect(rest).toEqual(preset);
    expect([name, dim, depth]).toEqual(['fmnist-vit-t-mini', 24, 2]);
    expect(images.dims).toEqual([8, 1, 28, 28]);
  });

  it('loads the PyTorch state dict with every timm key, in the shapes the model declares', async () => {
    const sd = await readSafetensors(weightsUrl);
    expect(Object.keys(sd).sort()).toEqual(
      paramShapes(golden.config)
        .map(([k]) => k)
        .sort(),
    );
    expect(Object.keys(golden.grads).sort()).toEqual(Object.keys(sd).sort());
  });

  it.each(LEVELS)('logits on 8 images within 1e-4 of PyTorch (ORT optimization %s)', async (optimization) => {
    const logits = await forward(await load(), images, { ...SESSION, optimization });
    expect(logits.dims).toEqual(golden.logits.shape);
    expect(maxAbs(golden.logits.data)).toBeGreaterThan(3); // not all ~0: the comparison means something
    expectAllclose(logits.data, golden.logits.data, { ...parityTolerance(golden.logits.data), what: 'logits' });
  });

  it.each(LEVELS)('one training step: label-smoothed loss and every gradient within 1e-4 relative (ORT optimization %s)', async (optimization) => {
    const res = await gradStep(optimization);
    expectAllclose([res.loss], [golden.loss], { rtol: PARITY_RTOL, atol: 0, what: 'loss' });
    expect(Object.keys(res.grads).sort()).toEqual(Object.keys(golden.grads).sort());
    for (const [k, g] of Object.entries(golden.grads)) {
      expect(res.grads[k]?.dims, k).toEqual(g.shape);
      expectAllclose(res.grads[k]?.data as Float32Array, g.data, { ...parityTolerance(g.data), what: `grad ${k}` });
    }
    // The training graph's correct count agrees with the golden logits' argmax.
    const k = golden.config.numClasses;
    const hits = golden.labels.data.filter((y, i) => {
      const row = golden.logits.data.slice(i * k, (i + 1) * k);
      return row.indexOf(Math.max(...row)) === y;
    }).length;
    expect(Number(res.outputs.correct?.data[0])).toBe(hits);
  });

  it('discriminates: GELU erf, 2 heads or LayerNorm eps 1e-5 miss the logits; no smoothing misses the loss', async () => {
    const tol = parityTolerance(golden.logits.data);
    for (const change of [{ gelu: 'erf' }, { heads: 2 }, { lnEps: 1e-5 }] as const) {
      expect(worstMismatch(await logitsOf({ ...golden.config, ...change }), golden.logits.data, tol), JSON.stringify(change)).not.toBeNull();
    }
    const model = await load();
    using plain = await GradStep.compile(trainGraph(golden.config), Object.keys(model.params), SESSION);
    const res = await plain.run(model.params, { images, labels });
    expect(worstMismatch([res.loss], [golden.loss], { rtol: PARITY_RTOL, atol: 0 })).not.toBeNull();
  });

  it('toStateDict round-trips: same tensors (copies), and the same bytes as the file PyTorch wrote', async () => {
    const bytes = new Uint8Array(readFileSync(weightsUrl));
    const model = fromStateDict(golden.config, await readSafetensors(bytes));
    const sd = toStateDict(model);
    for (const [k, t] of Object.entries(model.params)) {
      expect(sd[k]?.dims, k).toEqual(t.dims);
      expect(sd[k]?.data, k).toEqual(t.data);
      expect(sd[k]?.data, k).not.toBe(t.data); // a copy: editing it leaves the model alone
    }
    expect(Buffer.from(encodeSafetensors(sd)).equals(Buffer.from(bytes))).toBe(true);
    const again = fromStateDict(golden.config, await readSafetensors(encodeSafetensors(sd)));
    expect((await forward(again, images, SESSION)).data).toEqual(await logitsOf());
  });
});
