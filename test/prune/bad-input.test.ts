/** Bad input gives typed errors that name the function, the layer and the rule. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { create } from '../../src/cnn/api.js';
import { removeCnnChannels, sliceInputChannels, sliceOutputChannels } from '../../src/prune/channels.js';
import { PruneError } from '../../src/prune/errors.js';
import { foldBatchNorm } from '../../src/prune/fold-bn.js';
import { pruneOnnx } from '../../src/prune/onnx.js';
import { applyPlan, type PruningPlan, parsePlan } from '../../src/prune/plan.js';
import { convertResRep, insertCompactors } from '../../src/prune/resrep/cnn.js';
import { mergeCompactor } from '../../src/prune/resrep/merge.js';
import { resetCompactorGradient } from '../../src/prune/resrep/penalty.js';
import { selectMask } from '../../src/prune/resrep/schedule.js';
import { DTypeError, ShapeError, ValueError } from '../../src/tensor/errors.js';
import { tensor } from '../../src/tensor/tensor.js';

const torchBytes = new Uint8Array(readFileSync(new URL('../fixtures/prune/torch-cnn.onnx', import.meta.url)));
const t = (v: number[], dims: number[]) => tensor(Float32Array.from(v), dims, 'float32');

function pruneError(fn: () => unknown): PruneError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(PruneError);
    expect(e).toBeInstanceOf(ValueError);
    return e as PruneError;
  }
  throw new Error('expected a PruneError');
}

describe('refused layers name the layer and the §3 rule', () => {
  it('a grouped target, a depthwise consumer, an Add on the path (PyTorch ONNX)', () => {
    const g = pruneError(() => pruneOnnx(torchBytes, { g: [0, 1] }));
    expect([g.layer, g.rule]).toEqual(['g', 'dense-target']);
    expect(g.message).toMatch(/^prune\.pruneOnnx: layer 'g' \[dense-target\]: cannot be pruned: Conv has group = 2/);
    const d = pruneError(() => pruneOnnx(torchBytes, { d: [0] }));
    expect([d.rule, d.message]).toEqual(['dense-consumer', expect.stringMatching(/depthwise \(group = 16\)/)]);
    const b = pruneError(() => pruneOnnx(torchBytes, { b1: [0] }));
    expect([b.rule, b.message]).toEqual(['no-mixing-op', expect.stringMatching(/Add '\/Add'/)]);
    expect(pruneError(() => pruneOnnx(torchBytes, { s: [0] })).rule).toBe('zero-preserving-path');
    expect(pruneError(() => pruneOnnx(torchBytes, { nope: [0] })).rule).toBe('plan-shapes');
  });
  it('an Add on the path of a cnn model (compactor insertion and channel removal)', () => {
    const m = create('fmnist-resnet20');
    const e = pruneError(() => insertCompactors(m, { layers: ['layer1.0.conv2'] }));
    expect([e.layer, e.rule]).toEqual(['layer1.0.conv2', 'no-mixing-op']);
    expect(pruneError(() => removeCnnChannels(m, { fc: [0] })).rule).toBe('not-graph-output');
  });
});

describe('plans', () => {
  const m = create('fmnist-resnet20');
  const plan = (keep: number[], width = 16): PruningPlan => ({
    format: 'apt-prune.pruning-plan',
    version: 1,
    method: 'l1',
    model: 'fmnist-resnet20',
    macs: { before: 1, after: 1, ratio: 1 },
    layers: [{ layer: 'layer1.0.conv1', width, keep, macsBefore: 0, macsAfter: 0 }],
  });
  it('indices out of range, repeated or unsorted', () => {
    const e = pruneError(() => applyPlan(m, plan([0, 16])));
    expect(e.message).toBe("prune.parsePlan: layer 'layer1.0.conv1' [plan-indices]: index 16 at position 1 is outside [0, 16)");
    expect(pruneError(() => applyPlan(m, plan([3, 3]))).rule).toBe('plan-indices');
    expect(pruneError(() => pruneOnnx(torchBytes, { c: [5, 2] })).rule).toBe('plan-indices');
    expect(pruneError(() => sliceOutputChannels({ weight: t([1, 2], [2, 1]) }, [])).rule).toBe('plan-indices');
  });
  it('shapes that do not match the model, and a different source checkpoint', () => {
    const e = pruneError(() => applyPlan(m, plan([0, 1], 32)));
    expect([e.layer, e.rule, e.message]).toEqual(['layer1.0.conv1', 'plan-shapes', expect.stringMatching(/plan says width 32, the model has 16/)]);
    const src = { ...plan([0, 1]), source: { sha256: 'a'.repeat(64) } };
    expect(pruneError(() => applyPlan(m, src, { sha256: 'b'.repeat(64) })).rule).toBe('plan-source');
    expect(() => parsePlan({ format: 'x' })).toThrow(ValueError);
    expect(() => sliceInputChannels({ weight: t([1, 2, 3], [1, 3]) }, [0], { flattenSpatial: 2 })).toThrow(ShapeError);
  });
});

describe('compactors and tensors', () => {
  it('NaN in Q names the layer and the rule (merge, gradient reset, conversion, schedule)', () => {
    const q = t([1, 0, Number.NaN, 1], [2, 2]);
    const e = pruneError(() => mergeCompactor({ weight: t([1, 2], [2, 1]) }, q, { layer: 'blk.conv1' }));
    expect(e.message).toBe("resrep.mergeCompactor: layer 'blk.conv1' [finite-compactor]: Q[1, 0] is NaN; a compactor must be finite to be ranked or merged");
    expect(pruneError(() => resetCompactorGradient(q, t([0, 0, 0, 0], [2, 2]), [1, 1], 1e-4, { layer: 'x' })).layer).toBe('x');
    expect(pruneError(() => selectMask([[1, Number.NaN]], [2], () => 1, 0.5, { layers: ['L'] })).layer).toBe('L');
    const rr = insertCompactors(create('fmnist-resnet20'));
    (rr.params['layer2.1.conv1.compactor.weight']?.data as Float32Array)[5] = Number.POSITIVE_INFINITY;
    const c = pruneError(() => convertResRep(rr));
    expect([c.layer, c.rule]).toEqual(['layer2.1.conv1', 'finite-compactor']);
  });
  it('wrong dtypes and shapes', () => {
    expect(() => mergeCompactor({ weight: t([1, 2], [2, 1]) }, t([1, 0, 0, 1, 0, 0], [2, 3]))).toThrow(ShapeError);
    expect(() => mergeCompactor({ weight: tensor(Int32Array.from([1, 2]), [2, 1]) as never }, t([1, 0, 0, 1], [2, 2]))).toThrow(DTypeError);
    const bn = { gamma: t([1], [1]), beta: t([0], [1]), mean: t([0], [1]), var: t([1], [1]), eps: 1e-5 };
    expect(() => foldBatchNorm({ weight: t([1, 2], [2, 1]) }, bn)).toThrow(/bn.gamma must be \[2\], got \[1\]/);
    expect(() => resetCompactorGradient(t([1, 0, 0, 1], [2, 2]), t([0, 0, 0, 0], [2, 2]), [1, 2], 0.1)).toThrow(/mask entries must be 0 or 1/);
  });
});
