/**
 * Golden parity with PyTorch (scripts/fixtures/engine.py; docs/parity.md): a 2-layer MLP with
 * label-smoothed softmax cross-entropy and a pre-LN transformer block (both GELUs), built with the
 * graph API, run forward + backward in ONNX Runtime, against PyTorch's loss, outputs and every
 * gradient (x and each parameter).
 *
 * Tolerance: |actual − expected| ≤ 1e-4·|expected| + atol, with atol = 1e-6 · max|expected| of that
 * tensor. So every entry above 1% of its tensor's largest is held to 1e-4 relative, and entries near
 * zero (e.g. the key-bias gradient, exactly 0 in theory) to 1e-6 of the tensor's scale. The loss is
 * held to 1e-4 relative with no atol.
 */
import { describe, expect, it } from 'vitest';
import { compile } from '../../src/graph/runtime.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { expectAllclose, worstMismatch } from '../helpers/allclose.js';
import {
  type BlockCase,
  type BlockFixture,
  blockGraph,
  type MlpConfig,
  type MlpFixture,
  maxAbs,
  mlpGraph,
  PARITY_RTOL,
  type PackedTensor,
  parityTolerance,
  readFixture,
  type TrainGraph,
  unpack,
  unpackAll,
} from '../helpers/engine-models.js';

const RTOL = PARITY_RTOL;
const LEVELS = ['all', 'disabled'] as const;

const mlp = readFixture<MlpFixture>('mlp.json');
const block = readFixture<BlockFixture>('block.json');

const tolerance = (expected: PackedTensor) => parityTolerance(expected.data);

function expectParity(actual: Tensor | undefined, expected: PackedTensor, what: string): void {
  expect(actual, what).toBeDefined();
  expect(actual?.dims, what).toEqual(expected.shape);
  expectAllclose(actual?.data as Float32Array, expected.data, { ...tolerance(expected), what });
}

async function runGraph(tg: TrainGraph, feeds: Record<string, Tensor>, level: (typeof LEVELS)[number]) {
  using s = await compile(tg.g, { intraOpThreads: 1, optimization: level });
  return await s.run(feeds); // await before `using` disposes the session
}

/** Loss, the forward output and every gradient against the fixture. */
function expectAll(
  out: Record<string, Tensor>,
  tg: TrainGraph,
  golden: { loss: number; outputs: Record<string, PackedTensor>; grads: Record<string, PackedTensor> },
) {
  expect([...tg.wrt].sort()).toEqual(Object.keys(golden.grads).sort());
  expectAllclose(out.loss?.data as Float32Array, [golden.loss], { rtol: RTOL, atol: 0, what: 'loss' });
  for (const [k, v] of Object.entries(golden.outputs)) expectParity(out[k], v, k);
  for (const k of tg.wrt) expectParity(out[`grad.${k}`], golden.grads[k] as PackedTensor, `grad.${k}`);
}

describe('parity with PyTorch: 2-layer MLP + label-smoothed cross-entropy', () => {
  const feeds = { ...unpackAll(mlp.inputs), ...unpackAll(mlp.params) };

  it.each(LEVELS)('loss, logits and every gradient within 1e-4 relative (ORT optimization %s)', async (level) => {
    const tg = mlpGraph(mlp.meta.config as unknown as MlpConfig);
    expectAll(await runGraph(tg, feeds, level), tg, mlp);
  });

  it('discriminates: without label smoothing the loss and logit gradients miss the fixture', async () => {
    const out = await runGraph(mlpGraph({ ...(mlp.meta.config as unknown as MlpConfig), label_smoothing: 0 }), feeds, 'all');
    expect(worstMismatch(out.loss?.data as Float32Array, [mlp.loss], { rtol: RTOL, atol: 0 })).not.toBeNull();
    const gw = mlp.grads['fc2.bias'] as PackedTensor;
    expect(worstMismatch(out['grad.fc2.bias']?.data as Float32Array, gw.data, tolerance(gw))).not.toBeNull();
  });
});

describe('parity with PyTorch: pre-LN transformer block', () => {
  const cfg = block.meta.config;
  const feeds = { ...unpackAll(block.inputs), ...unpackAll(block.params) };

  it('has both GELU cases', () => {
    expect(block.cases.map((c) => c.gelu)).toEqual(['tanh', 'erf']);
  });

  for (const c of block.cases) {
    it.each(LEVELS)(`GELU ${c.gelu}: loss, output and every gradient within 1e-4 relative (ORT optimization %s)`, async (level) => {
      const tg = blockGraph(cfg, c.gelu);
      expectAll(await runGraph(tg, feeds, level), tg, c);
    });
  }

  it('discriminates: the wrong GELU or LayerNorm eps 1e-5 (instead of 1e-6) fails the fixture', async () => {
    const [tanh, erf] = block.cases as [BlockCase, BlockCase];
    const fails = (out: Record<string, Tensor>, golden: BlockCase, k: string) =>
      worstMismatch(out[`grad.${k}`]?.data as Float32Array, (golden.grads[k] as PackedTensor).data, tolerance(golden.grads[k] as PackedTensor)) !== null;
    const ok = await runGraph(blockGraph(cfg, 'tanh'), feeds, 'all');
    const epsWrong = await runGraph(blockGraph({ ...cfg, ln_eps: 1e-5 }, 'tanh'), feeds, 'all');
    for (const k of ['x', 'mlp.fc1.weight', 'mlp.fc2.weight']) {
      expect(fails(ok, tanh, k), `tanh graph vs tanh fixture, grad.${k}`).toBe(false);
      expect(fails(ok, erf, k), `tanh graph vs erf fixture, grad.${k}`).toBe(true);
    }
    for (const k of ['x', 'norm1.weight', 'norm2.weight']) expect(fails(epsWrong, tanh, k), `eps 1e-5, grad.${k}`).toBe(true);
  });

  it('key bias gets no gradient (softmax is shift-invariant along the keys), in PyTorch and here', async () => {
    const d = cfg.dim;
    const out = await runGraph(blockGraph(cfg, 'erf'), feeds, 'all');
    const expected = (block.cases[1] as BlockCase).grads['attn.qkv.bias'] as PackedTensor;
    const atol = tolerance(expected).atol;
    const ours = (out['grad.attn.qkv.bias'] as Tensor<'float32'>).data.subarray(d, 2 * d);
    expectAllclose(expected.data.slice(d, 2 * d), new Float32Array(d), { rtol: 0, atol, what: 'PyTorch key-bias grad' });
    expectAllclose(ours, new Float32Array(d), { rtol: 0, atol, what: 'our key-bias grad' });
    // … while the query and value parts are far from zero.
    expect(maxAbs(expected.data.slice(0, d))).toBeGreaterThan(1e3 * atol);
    expect(maxAbs(expected.data.slice(2 * d))).toBeGreaterThan(1e3 * atol);
  });

  it('batch is symbolic: sample 0 alone gives the same output and input gradient rows', async () => {
    const { tokens: n, dim: d } = cfg;
    const row = (p: PackedTensor): Tensor => {
      const t = unpack(p);
      return { type: 'float32', dims: [1, n, d], data: (t.data as Float32Array).slice(0, n * d) };
    };
    const c = block.cases[0] as BlockCase;
    const out = await runGraph(
      blockGraph(cfg, c.gelu),
      { ...feeds, x: row(block.inputs.x as PackedTensor), loss_weight: row(block.inputs.loss_weight as PackedTensor) },
      'all',
    );
    for (const k of ['output', 'grad.x']) {
      const full = (k === 'output' ? c.outputs.output : c.grads.x) as PackedTensor;
      expect(out[k]?.dims).toEqual([1, n, d]);
      expectAllclose(out[k]?.data as Float32Array, full.data.slice(0, n * d), { ...tolerance(full), what: k });
    }
  });
});
