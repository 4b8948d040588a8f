/**
 * The committed training graph (test/fixtures/engine/block-train.onnx, written by
 * scripts/fixtures/export-engine-onnx.ts) is the file onnx.checker passed (onnx-check.json, written
 * by scripts/fixtures/check_onnx.py), and ONNX Runtime loads those bytes directly — not through the
 * library's session cache — and computes the same loss, output and gradients as the graph's own
 * session and as PyTorch. CI runs no Python: the checker's verdict is the committed JSON.
 */

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { encode } from '../../src/graph/encode.js';
import { OPSET } from '../../src/graph/onnx-proto.js';
import { compile } from '../../src/graph/runtime.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { expectAllclose } from '../helpers/allclose.js';
import {
  type BlockFixture,
  blockGraph,
  EXPORTED_BLOCK,
  FIXTURE_DIR,
  maxAbs,
  PARITY_RTOL,
  type PackedTensor,
  parityTolerance,
  readFixture,
  unpackAll,
} from '../helpers/engine-models.js';
import type { OnnxCheck } from '../helpers/onnx-check.js';

const bytes = new Uint8Array(readFileSync(new URL(EXPORTED_BLOCK.file, FIXTURE_DIR)));
const report = readFixture<OnnxCheck>('onnx-check.json');
const block = readFixture<BlockFixture>('block.json');
const golden = block.cases.find((c) => c.gelu === EXPORTED_BLOCK.gelu);
const feeds: Record<string, Tensor> = { ...unpackAll(block.inputs), ...unpackAll(block.params) };

async function runFile(): Promise<Record<string, ort.Tensor>> {
  const s = await ort.InferenceSession.create(bytes, { executionProviders: ['cpu'], intraOpNumThreads: 1, graphOptimizationLevel: 'all' });
  try {
    const ortFeeds = Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, new ort.Tensor(t.type, t.data as Float32Array, [...t.dims])]));
    return await s.run(ortFeeds);
  } finally {
    await s.release();
  }
}

describe('committed ONNX training graph', () => {
  it('is the file onnx.checker passed (full_check) exactly as encoded, at the opset the library emits', () => {
    expect(report.file).toBe(`test/fixtures/engine/${EXPORTED_BLOCK.file}`);
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(report.sha256);
    expect(report.checker.result).toBe('passed');
    expect(report.checker.function).toContain('full_check=True');
    expect(report.onnx).toMatch(/^\d+\.\d+/);
    expect([report.ir_version, report.opset, report.producer]).toEqual([8, OPSET, 'apt-prune']);
    expect(report.checker.model).toBe('as encoded');
  });

  it('is what the library encodes today (else rerun the two commands in onnx-check.json)', () => {
    // The checker's verdict only covers these bytes: a change to an op's emission or VJP must
    // regenerate the file, or the check would vouch for a graph the library no longer writes.
    const { g } = blockGraph(block.meta.config, EXPORTED_BLOCK.gelu);
    const today = encode(g, { name: EXPORTED_BLOCK.name });
    expect(createHash('sha256').update(today).digest('hex')).toBe(report.sha256);
  });

  it('holds no baked weights: every parameter is a graph input', () => {
    expect(bytes.length).toBeLessThan(32 * 1024);
    for (const k of Object.keys(block.params)) expect(report.inputs[k], k).toEqual((block.params[k] as PackedTensor).shape);
    expect(report.inputs.x?.[0]).toBe('B');
  });

  it('loads in onnxruntime-node from its bytes and matches the graph session and PyTorch', async () => {
    expect(golden).toBeDefined();
    const fromFile = await runFile();
    expect(Object.keys(fromFile).sort()).toEqual(Object.keys(report.outputs).sort());
    const tg = blockGraph(block.meta.config, EXPORTED_BLOCK.gelu);
    using s = await compile(tg.g, { intraOpThreads: 1 });
    const ours = await s.run(feeds);
    for (const name of Object.keys(report.outputs)) {
      const got = fromFile[name] as ort.Tensor;
      const own = ours[name] as Tensor;
      expect(got.dims, name).toEqual(own.dims);
      // Same graph, same runtime: equal up to kernel scheduling.
      expectAllclose(got.data as Float32Array, own.data as Float32Array, {
        rtol: 1e-6,
        atol: 1e-7 * maxAbs(own.data as Float32Array),
        what: `${name} (file vs graph)`,
      });
      const ref = name === 'loss' ? { data: [golden?.loss as number] } : name === 'output' ? golden?.outputs.output : golden?.grads[name.slice('grad.'.length)];
      expect(ref, name).toBeDefined();
      const data = (ref as { data: number[] }).data;
      const tol = name === 'loss' ? { rtol: PARITY_RTOL, atol: 0 } : parityTolerance(data);
      expectAllclose(got.data as Float32Array, data, { ...tol, what: `${name} (file vs PyTorch)` });
    }
  });
});
