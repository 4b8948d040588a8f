/**
 * Structured pruning of imported ONNX models: a PyTorch export (test/fixtures/prune/torch-cnn.onnx,
 * from scripts/fixtures/prune_onnx.py: BN folded, names such as "onnx::Conv_66" and output "61") and
 * our own fmnist-resnet20 encoding. Import → find prunable layers → prune → export → ONNX Runtime:
 * equal to the original within 1e-5 when the removed channels were zero.
 */
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { create } from '../../src/cnn/api.js';
import { encode } from '../../src/graph/encode.js';
import { analyzeOnnx, filterNormPlan, pruneOnnx } from '../../src/prune/onnx.js';
import { exportCnnOnnx } from '../../src/prune/resrep/run.js';
import { Rng } from '../../src/tensor/rng.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { images, maxDiff, randomizeBn } from './resrep/helpers.js';

const fixture = new URL('../fixtures/prune/', import.meta.url);
const torchBytes = new Uint8Array(readFileSync(new URL('torch-cnn.onnx', fixture)));
const torchRef = JSON.parse(readFileSync(new URL('torch-cnn.json', fixture), 'utf8')) as { x: { dims: number[]; data: number[] }; y: { data: number[] } };

async function run(bytes: Uint8Array, feeds: Record<string, Tensor>): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
  try {
    const f = Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, new ort.Tensor('float32', t.data as Float32Array, [...t.dims])]));
    const out = await s.run(f);
    return out[s.outputNames[0] as string]?.data as Float32Array;
  } finally {
    await s.release();
  }
}

/** Zeroes the output channels a plan removes (filters and bias of each planned producer) in ONNX bytes. */
function zeroRemoved(bytes: Uint8Array, plan: Record<string, Int32Array>): Uint8Array {
  const m = analyzeOnnx(bytes);
  for (const [layer, keep] of Object.entries(plan)) {
    const g = m.analysis.groups.find((x) => x.layer === layer);
    if (!g) throw new Error(layer);
    const w = m.params[g.producer.weight] as Tensor<'float32'>;
    const row = w.data.length / g.width;
    const kept = new Set(keep);
    for (let j = 0; j < g.width; j++) {
      if (kept.has(j)) continue;
      w.data.fill(0, j * row, (j + 1) * row);
      if (g.producer.bias) (m.params[g.producer.bias] as Tensor<'float32'>).data[j] = 0;
      if (g.bn) for (const k of [g.bn.weight, g.bn.bias]) (m.params[k] as Tensor<'float32'>).data[j] = 0;
    }
  }
  return encode(m.graph, { initializers: m.params });
}

describe('a PyTorch-exported CNN', () => {
  const x = { type: 'float32', dims: torchRef.x.dims, data: Float32Array.from(torchRef.x.data) } as Tensor<'float32'>;

  it('decodes (numeric output name, fused-BN weights) and runs as PyTorch did', async () => {
    const m = analyzeOnnx(torchBytes);
    expect(m.graph.outputs.map((o) => o.name)).toEqual(['61']);
    const y = await run(encode(m.graph, { initializers: m.params }), { 'input.1': x });
    expect(maxDiff(torchRef.y.data, y).diff).toBeLessThan(1e-5);
  });

  it('finds the prunable layers and refuses the rest with the §3 rule', () => {
    const { analysis } = analyzeOnnx(torchBytes);
    expect(analysis.groups.map((g) => [g.layer, g.consumers.map((c) => `${c.layer}:${c.flattenSpatial}`)])).toEqual([
      ['/a/Conv', ['b1:1', 'b2:1']],
      ['c', ['d:1']],
      ['f', ['fc1:49']],
      ['fc1', ['fc2:1']],
    ]);
    expect(Object.fromEntries(analysis.refused.map((r) => [r.layer, r.rule]))).toEqual({
      '/stem/Conv': 'no-mixing-op',
      b1: 'no-mixing-op',
      b2: 'no-mixing-op',
      g: 'dense-target',
      s: 'zero-preserving-path',
      d: 'dense-consumer',
      e: 'dense-target',
      fc2: 'not-graph-output',
    });
  });

  it('import → L1 plan → prune → export → ORT equals the original with the removed channels zeroed (≤ 1e-5)', async () => {
    const { analysis, params } = analyzeOnnx(torchBytes);
    const plan = filterNormPlan(analysis, params, { keepFraction: 0.5 });
    expect(Object.values(plan).map((k) => k.length)).toEqual([6, 8, 5, 12]);
    const pruned = pruneOnnx(torchBytes, plan);
    expect(pruned.macs.after).toBeLessThan(pruned.macs.before * 0.7);
    expect(pruned.params['fc1.weight']?.dims).toEqual([12, 5 * 49]);
    const ref = await run(zeroRemoved(torchBytes, plan), { 'input.1': x });
    const got = await run(pruned.bytes, { 'input.1': x });
    const d = maxDiff(ref, got);
    expect(d.diff).toBeLessThanOrEqual(1e-5 * Math.max(1, d.ref));
  });
});

describe('our own fmnist-resnet20, encoded with BN', () => {
  it('import → prune (BN sliced) → export → ORT equals the original with the removed channels zeroed', async () => {
    const rng = new Rng(7);
    const bytes = exportCnnOnnx(randomizeBn(create('fmnist-resnet20', { seed: 3 }), rng));
    const { analysis, params } = analyzeOnnx(bytes);
    expect(analysis.groups).toHaveLength(9);
    const plan = filterNormPlan(analysis, params, { keepFraction: 0.4, norm: 'l2' });
    const pruned = pruneOnnx(bytes, plan);
    expect(pruned.params['layer3.0.bn1.running_mean']?.dims).toEqual([26]);
    const xs = images(rng, 2, 1, 28);
    const ref = await run(zeroRemoved(bytes, plan), { images: xs });
    const d = maxDiff(ref, await run(pruned.bytes, { images: xs }));
    expect(d.diff).toBeLessThanOrEqual(1e-5 * Math.max(1, d.ref));
  });
});
