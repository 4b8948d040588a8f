/** specs/resrep.md §9 tests 11–13: FLOPs, Flatten consumers, eligibility. */
import { describe, expect, it } from 'vitest';
import { create } from '../../../src/cnn/api.js';
import { Graph } from '../../../src/graph/builder.js';
import type { Value } from '../../../src/graph/types.js';
import { removeCnnChannels, sliceInputChannels } from '../../../src/prune/channels.js';
import { analyzeChannels, cnnChannelAnalysis } from '../../../src/prune/deps.js';
import { convMacs, countMacs, linearMacs, macsFunction, vitMlpMacs } from '../../../src/prune/macs.js';
import { tensor } from '../../../src/tensor/tensor.js';
import { tinyConfig } from './helpers.js';

describe('§9.11 FLOPs', () => {
  it('conv 3×3, 16→32, 8×8 output: 294,912 MACs; a 32→28 cut moves a 3×3 32→64 consumer from 1,179,648 to 1,032,192', () => {
    expect(convMacs({ hOut: 8, wOut: 8, cOut: 32, cIn: 16, kh: 3, kw: 3 })).toBe(294_912);
    const g = new Graph('f');
    const x = g.input('x', 'float32', ['B', 16, 8, 8]);
    const h = g.Relu(g.Conv(x, g.param('t.weight', [32, 16, 3, 3]), undefined, { pads: [1, 1, 1, 1] }));
    g.output('y', g.Conv(h, g.param('c.weight', [64, 32, 3, 3]), undefined, { pads: [1, 1, 1, 1] }));
    const r = countMacs(g);
    expect(r.layers).toEqual([
      { layer: 't', op: 'Conv', macs: 294_912 },
      { layer: 'c', op: 'Conv', macs: 1_179_648 },
    ]);
    const a = analyzeChannels(g);
    const F = macsFunction(g, a);
    expect(F([32])).toBe(294_912 + 1_179_648);
    expect(F([28]) - (294_912 * 28) / 32).toBe(1_032_192);
  });
  it('ViT MLP, N = 197, E = 768, H = 3072: 929,562,624 MACs per block; each hidden unit saves 302,592', () => {
    expect(vitMlpMacs({ tokens: 197, dim: 768, hidden: 3072 })).toBe(929_562_624);
    expect(vitMlpMacs({ tokens: 197, dim: 768, hidden: 3072 }) - vitMlpMacs({ tokens: 197, dim: 768, hidden: 3071 })).toBe(302_592);
    expect(linearMacs({ tokens: 197, out: 3072, in: 768 })).toBe(929_562_624 / 2);
  });
  it('countMacs of fmnist-resnet20 counts 1×1 projections as 1×1 and equals F(original widths)', () => {
    const c = create('fmnist-resnet20').config;
    const r = countMacs(c);
    expect(r.layers.find((l) => l.layer === 'layer2.0.shortcut.0')?.macs).toBe(14 * 14 * 32 * 16);
    const a = cnnChannelAnalysis(c);
    expect(macsFunction(c, a)(a.groups.map((g) => g.width))).toBe(r.total);
  });
});

describe('§9.12 Flatten', () => {
  it('a linear after Flatten of [3, 2, 2] loses columns 4–7 when channel 1 is dropped', () => {
    const w = tensor(
      Float32Array.from({ length: 2 * 12 }, (_, i) => i),
      [2, 12],
      'float32',
    );
    const out = sliceInputChannels({ weight: w }, [0, 2], { flattenSpatial: 4 });
    expect(out.weight.dims).toEqual([2, 8]);
    expect(Array.from(out.weight.data)).toEqual([0, 1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 15, 20, 21, 22, 23]);
  });
  it('the analysis finds the NCHW column blocks of fmnist-vgg8 (128 channels × 3·3) and slices them', () => {
    const m = create('fmnist-vgg8');
    const g = cnnChannelAnalysis(m.config).groups.find((x) => x.layer === 'features.conv5');
    expect(g?.consumers).toEqual([{ layer: 'classifier.fc1', kind: 'linear', weight: 'classifier.fc1.weight', inAxis: 1, flattenSpatial: 9 }]);
    const keep = Array.from({ length: 100 }, (_, i) => i);
    const p = removeCnnChannels(m, { 'features.conv5': keep });
    expect(p.params['classifier.fc1.weight']?.dims).toEqual([256, 900]);
    expect(p.params['features.bn5.running_var']?.dims).toEqual([100]);
  });
});

/** input [B, 4, 8, 8] → target conv (group) → after(y) → consumer conv(s); output via a final conv + GAP. */
function net(build: (g: Graph, y: Value) => Value, group = 1): Graph {
  const g = new Graph('e');
  const x = g.input('x', 'float32', ['B', 4, 8, 8]);
  const y = g.Conv(x, g.param('t.weight', [8, 4 / group, 3, 3]), undefined, { pads: [1, 1, 1, 1], group });
  g.output('out', g.GlobalAveragePool(build(g, y)));
  return g;
}
const consumer = (g: Graph, v: Value, name: string, group = 1) =>
  g.Conv(v, g.param(`${name}.weight`, [8, (v.shape[1] as number) / group, 3, 3]), undefined, { pads: [1, 1, 1, 1], group });
const verdict = (g: Graph) => {
  const a = analyzeChannels(g);
  return a.groups.some((x) => x.layer === 't') ? 'ok' : a.refused.find((r) => r.layer === 't')?.rule;
};

describe('§9.13 eligibility', () => {
  it('rejects a target with groups = 2', () => {
    expect(verdict(net((g, y) => consumer(g, g.Relu(y), 'c'), 2))).toBe('dense-target');
  });
  it('rejects an output feeding an Add or a Concat', () => {
    expect(verdict(net((g, y) => consumer(g, g.Add(g.Relu(y), y), 'c')))).toBe('no-mixing-op');
    expect(verdict(net((g, y) => consumer(g, g.Concat([g.Relu(y), y], 1), 'c')))).toBe('no-mixing-op');
  });
  it('rejects a Sigmoid path and a depthwise consumer', () => {
    expect(verdict(net((g, y) => consumer(g, g.Sigmoid(y), 'c')))).toBe('zero-preserving-path');
    expect(verdict(net((g, y) => consumer(g, g.Relu(y), 'dw', 8)))).toBe('dense-consumer');
    expect(analyzeChannels(net((g, y) => consumer(g, g.Relu(y), 'dw', 8))).refused.find((r) => r.layer === 't')?.reason).toMatch(/depthwise \(group = 8\)/);
  });
  it('accepts a ReLU → maxpool → two-conv fan-out', () => {
    const g = net((g, y) => {
      const p = g.MaxPool(g.Relu(y), [2, 2]);
      return g.Add(consumer(g, p, 'c1'), consumer(g, p, 'c2'));
    });
    const t = analyzeChannels(g).groups.find((x) => x.layer === 't');
    expect(t?.consumers.map((c) => c.layer)).toEqual(['c1', 'c2']);
    expect(t?.path).toEqual(['Relu', 'MaxPool']);
  });
  it('on a config: BN and the §3 reasons are reported per layer', () => {
    const cfg = tinyConfig('t', 2, 6, [
      { kind: 'conv', name: 'a', input: 'input', out: 4, kernel: 3, stride: 1, pad: 1, bias: false },
      { kind: 'bn', name: 'bn', input: 'a', eps: 1e-3, momentum: 0.1 },
      { kind: 'relu', name: 'r', input: 'bn' },
      { kind: 'conv', name: 'b', input: 'r', out: 3, kernel: 1, stride: 1, pad: 0, bias: true },
    ]);
    const a = cnnChannelAnalysis(cfg);
    expect(a.groups[0]?.bn).toEqual({ layer: 'bn', weight: 'bn.weight', bias: 'bn.bias', mean: 'bn.running_mean', var: 'bn.running_var', eps: 1e-3 });
    expect(a.refused).toEqual([{ layer: 'b', rule: 'not-graph-output', reason: "its channels reach the graph output 'logits'" }]);
  });
});
