/**
 * ViT presets, init, forward and blocks: relation tests (parameter counts from the architecture
 * formula, seed determinism, init statistics, batch independence, attention against a float64
 * reference, key scoping).
 */
import { describe, expect, it } from 'vitest';
import { Graph } from '../../src/graph/builder.js';
import { compile } from '../../src/graph/runtime.js';
import { Rng } from '../../src/tensor/rng.js';
import { type Tensor, tensor } from '../../src/tensor/tensor.js';
import {
  attention,
  countParams,
  create,
  forward,
  numTokens,
  paramShapes,
  scope,
  VIT_PRESETS,
  type VitConfig,
  type VitPreset,
  vitParams,
} from '../../src/vit/index.js';
import { expectAllclose } from '../helpers/allclose.js';

const SESSION = { intraOpThreads: 1 } as const;

/**
 * Parameters of a ViT from its architecture, independently of paramShapes: CLS + positions
 * d(1 + N); patch conv C·p²·d + d; per block 2 LayerNorms 4d, qkv 3d² + 3d, proj d² + d, MLP
 * 2·d·m + m + d; final norm 2d; head K·d + K.
 */
function formulaCount(c: VitConfig): number {
  const d = c.dim;
  const m = c.mlpRatio * d;
  const n = (c.imageSize / c.patchSize) ** 2;
  const block = 4 * d + (3 * d * d + 3 * d) + (d * d + d) + (2 * d * m + m + d);
  return d * (1 + n + 1) + (c.inChans * c.patchSize ** 2 * d + d) + c.depth * block + 2 * d + (c.numClasses * d + c.numClasses);
}

function randomImages(b: number, seed: number, c: VitConfig = VIT_PRESETS['fmnist-vit-t']): Tensor<'float32'> {
  const dims = [b, c.inChans, c.imageSize, c.imageSize];
  return tensor(new Rng(seed).fillNormal(new Float32Array(dims.reduce((p, x) => p * x))), dims);
}

const numel = (dims: readonly number[]) => dims.reduce((p, x) => p * x, 1);
/** Bitwise equality of two float arrays (vitest's deep equal is slow on hundreds of thousands of elements). */
const sameBits = (x: Float32Array | undefined, y: Float32Array | undefined) =>
  x !== undefined && y !== undefined && Buffer.from(x.buffer, x.byteOffset, x.byteLength).equals(Buffer.from(y.buffer, y.byteOffset, y.byteLength));

describe('presets', () => {
  it('fmnist-vit-t has exactly 678,730 parameters; every preset matches the architecture formula', () => {
    expect(countParams(VIT_PRESETS['fmnist-vit-t'])).toBe(678_730);
    expect(formulaCount(VIT_PRESETS['fmnist-vit-t'])).toBe(678_730);
    for (const name of Object.keys(VIT_PRESETS) as VitPreset[]) expect(countParams(VIT_PRESETS[name]), name).toBe(formulaCount(VIT_PRESETS[name]));
    expect(countParams(VIT_PRESETS['vit-b16'])).toBe(86_567_656); // timm's vit_base_patch16_224
  });

  it('fmnist presets: 50 tokens, dim/depth/heads as design §4, GELU tanh, eps 1e-6', () => {
    const t = VIT_PRESETS['fmnist-vit-t'];
    const s = VIT_PRESETS['fmnist-vit-s'];
    expect([numTokens(t), t.dim, t.depth, t.heads, t.mlpRatio, t.gelu, t.lnEps]).toEqual([50, 96, 6, 3, 4, 'tanh', 1e-6]);
    expect([numTokens(s), s.dim, s.depth, s.heads]).toEqual([50, 192, 12, 3]);
    expect([numTokens(VIT_PRESETS['vit-b16']), VIT_PRESETS['vit-b16'].gelu]).toEqual([197, 'erf']);
  });

  it('create allocates exactly the preset parameters, keyed by paramShapes', () => {
    const m = create('fmnist-vit-t');
    expect(Object.keys(m.params).sort()).toEqual(
      paramShapes(m.config)
        .map(([k]) => k)
        .sort(),
    );
    for (const [k, dims] of paramShapes(m.config)) expect(m.params[k]?.dims, k).toEqual(dims);
    expect(Object.values(m.params).reduce((n, t) => n + t.data.length, 0)).toBe(678_730);
  });
});

describe('init', () => {
  const a = create('fmnist-vit-t', { seed: 7 });

  it('is deterministic per seed and differs across seeds', () => {
    const b = create('fmnist-vit-t', { seed: 7 });
    const c = create('fmnist-vit-t', { seed: 8 });
    for (const [k, t] of Object.entries(a.params)) {
      expect(sameBits(b.params[k]?.data, t.data), k).toBe(true);
      const random = t.data.some((v) => v !== 0 && v !== 1);
      expect(sameBits(c.params[k]?.data, t.data), k).toBe(!random);
    }
  });

  it('trunc-normal std 0.02 on weights, CLS and positions; biases 0; LayerNorm 1 / 0', () => {
    let n = 0;
    let sum = 0;
    let sq = 0;
    for (const [k, t] of Object.entries(a.params)) {
      const isNorm = /(^|\.)norm\d?\.(weight|bias)$/.test(k);
      if (isNorm)
        expect(
          t.data.every((v) => v === (k.endsWith('weight') ? 1 : 0)),
          k,
        ).toBe(true);
      else if (k.endsWith('.bias'))
        expect(
          t.data.every((v) => v === 0),
          k,
        ).toBe(true);
      else {
        let s = 0;
        let s2 = 0;
        for (const v of t.data) {
          s += v;
          s2 += v * v;
        }
        const std = Math.sqrt(s2 / t.data.length - (s / t.data.length) ** 2);
        // Per tensor: within 6 standard errors of the sample std (σ/√(2n)), mean within 6σ/√n.
        expect(Math.abs(std - 0.02), `${k} std ${std}`).toBeLessThan((6 * 0.02) / Math.sqrt(2 * t.data.length));
        expect(Math.abs(s / t.data.length), `${k} mean`).toBeLessThan((6 * 0.02) / Math.sqrt(t.data.length));
        n += t.data.length;
        sum += s;
        sq += s2;
      }
    }
    expect(n).toBeGreaterThan(600_000);
    expect(Math.abs(Math.sqrt(sq / n - (sum / n) ** 2) / 0.02 - 1)).toBeLessThan(0.005);
  });

  it("head: 'zeros' zeroes only the head weight", () => {
    const z = create('fmnist-vit-t', { seed: 7, head: 'zeros' });
    expect(z.params['head.weight']?.data.every((v) => v === 0)).toBe(true);
    expect(z.params['blocks.0.attn.qkv.weight']?.data).toEqual(a.params['blocks.0.attn.qkv.weight']?.data);
  });
});

describe('forward', () => {
  const model = create('fmnist-vit-t', { seed: 3 });
  const all = randomImages(64, 11);
  const rows = (t: Tensor<'float32'>, i: number, k: number) => t.data.subarray(i * k, (i + 1) * k);

  it('works for B = 1, 3, 64, and each row equals the B = 1 run of its image (batch independence)', async () => {
    const chw = 28 * 28;
    const single: Float32Array[] = [];
    for (let i = 0; i < 64; i++) {
      const one = await forward(model, tensor(all.data.slice(i * chw, (i + 1) * chw), [1, 1, 28, 28]), SESSION);
      expect(one.dims).toEqual([1, 10]);
      single.push(one.data);
    }
    const scale = Math.max(...single.flatMap((r) => Array.from(r, Math.abs)));
    expect(scale).toBeGreaterThan(0.05);
    for (const b of [3, 64]) {
      const out = await forward(model, tensor(all.data.slice(0, b * chw), [b, 1, 28, 28]), SESSION);
      expect(out.dims).toEqual([b, 10]);
      for (let i = 0; i < b; i++) expectAllclose(rows(out, i, 10), single[i] as Float32Array, { rtol: 1e-5, atol: 1e-6 * scale, what: `B=${b} row ${i}` });
    }
    // Different images give different logits (the rows are not trivially equal).
    expect(single[0]).not.toEqual(single[1]);
  });
});

/** Attention of one sample in float64: per-head probabilities [H][N][N] and y [N][D]. */
function referenceAttention(x: number[][], w: Float32Array, bias: Float32Array, pw: Float32Array, pb: Float32Array, heads: number) {
  const n = x.length;
  const d = (x[0] as number[]).length;
  const dh = d / heads;
  const lin = (row: number[], wt: Float32Array, b: Float32Array, out: number) =>
    Array.from({ length: out }, (_, o) => row.reduce((s, v, i) => s + v * (wt[o * row.length + i] as number), b[o] as number));
  const qkv = x.map((row) => lin(row, w, bias, 3 * d)); // [N, 3D]: q | k | v, each head-major
  const probs: number[][][] = [];
  const mixed = x.map(() => new Array<number>(d).fill(0));
  for (let h = 0; h < heads; h++) {
    const part = (t: number, j: number) => (qkv[j] as number[]).slice(t * d + h * dh, t * d + (h + 1) * dh);
    const p = Array.from({ length: n }, (_, i) => {
      const logits = Array.from({ length: n }, (_, j) => part(0, i).reduce((s, q, c) => s + q * (part(1, j)[c] as number), 0) / Math.sqrt(dh));
      const m = Math.max(...logits);
      const e = logits.map((l) => Math.exp(l - m));
      const z = e.reduce((s, v) => s + v, 0);
      return e.map((v) => v / z);
    });
    probs.push(p);
    for (let i = 0; i < n; i++)
      for (let c = 0; c < dh; c++) (mixed[i] as number[])[h * dh + c] = (p[i] as number[]).reduce((s, pij, j) => s + pij * (part(2, j)[c] as number), 0);
  }
  return { probs, y: mixed.map((row) => lin(row, pw, pb, d)) };
}

describe('attention', () => {
  const [b, n, d, heads] = [2, 5, 6, 3];
  const rng = new Rng(5);
  const rand = (dims: number[], std: number): Tensor<'float32'> => tensor(rng.fillNormal(new Float32Array(numel(dims)), 0, std), dims, 'float32');
  const feeds = {
    x: rand([b, n, d], 1),
    'qkv.weight': rand([3 * d, d], 0.8),
    'qkv.bias': rand([3 * d], 0.3),
    'proj.weight': rand([d, d], 0.5),
    'proj.bias': rand([d], 0.3),
  };

  async function run(keyBias?: Tensor<'float32'>) {
    const g = new Graph('attention-test');
    const x = g.input('x', 'float32', ['B', n, d]);
    const p = {
      'qkv.weight': g.param('qkv.weight', [3 * d, d]),
      'qkv.bias': g.param('qkv.bias', [3 * d]),
      'proj.weight': g.param('proj.weight', [d, d]),
      'proj.bias': g.param('proj.bias', [d]),
    };
    const bias = keyBias ? g.input('bias', 'float32', ['B', 1, 1, n]) : undefined;
    const r = attention(g, p, x, heads, { bias });
    expect(r.clsAttn.shape).toEqual(['B', n]);
    g.output('y', r.y);
    g.output('clsAttn', r.clsAttn);
    using s = await compile(g, SESSION);
    return await s.run(keyBias ? { ...feeds, bias: keyBias } : feeds);
  }

  it('clsAttn is the CLS query row averaged over heads (rows sum to 1), y matches a float64 reference', async () => {
    const out = await run();
    const cls = out.clsAttn?.data as Float32Array;
    for (let i = 0; i < b; i++) {
      const x = Array.from({ length: n }, (_, t) => Array.from(feeds.x.data.subarray((i * n + t) * d, (i * n + t + 1) * d)));
      const ref = referenceAttention(x, feeds['qkv.weight'].data, feeds['qkv.bias'].data, feeds['proj.weight'].data, feeds['proj.bias'].data, heads);
      const mean = Array.from({ length: n }, (_, j) => ref.probs.reduce((s, p) => s + (p[0] as number[])[j]!, 0) / heads);
      const row = cls.subarray(i * n, (i + 1) * n);
      expectAllclose(row, mean, { rtol: 1e-5, atol: 1e-6, what: `clsAttn sample ${i}` });
      expect(row.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 6);
      // The heads disagree, so head 0 alone (or a sum over heads) would miss the mean.
      expect(Math.max(...mean.map((m, j) => Math.abs(m - (ref.probs[0]![0] as number[])[j]!)))).toBeGreaterThan(1e-2);
      expectAllclose((out.y as Tensor<'float32'>).data.subarray(i * n * d, (i + 1) * n * d), ref.y.flat(), { rtol: 1e-5, atol: 1e-5, what: `y sample ${i}` });
    }
  });

  it('an additive key bias of −10000 removes that key from every row', async () => {
    const bias = tensor(new Float32Array(b * n), [b, 1, 1, n], 'float32');
    bias.data[2] = -10000; // sample 0, key 2
    const cls = (await run(bias)).clsAttn?.data as Float32Array;
    expect(cls[2]).toBeLessThan(1e-30);
    expect(cls[n + 2]).toBeGreaterThan(1e-3); // sample 1 keeps key 2
    for (let i = 0; i < b; i++) expect(cls.subarray(i * n, (i + 1) * n).reduce((s, v) => s + v, 0)).toBeCloseTo(1, 6);
  });
});

describe('scope', () => {
  it('narrows keys to one prefix, with the prefix removed, without matching longer prefixes', () => {
    const g = new Graph('scope-test');
    const p = vitParams(g, VIT_PRESETS['fmnist-vit-s']); // depth 12: blocks.1 vs blocks.10, blocks.11
    const i: number = 1; // block keys are typed `blocks.${number}.…`: the prefix is spelt the same way
    const b1 = scope(p, `blocks.${i}`);
    expect(Object.keys(b1).sort()).toEqual(
      ['attn.proj.bias', 'attn.proj.weight', 'attn.qkv.bias', 'attn.qkv.weight', 'mlp.fc1.bias', 'mlp.fc1.weight', 'mlp.fc2.bias', 'mlp.fc2.weight']
        .concat(['norm1.bias', 'norm1.weight', 'norm2.bias', 'norm2.weight'])
        .sort(),
    );
    expect(b1['attn.qkv.weight']).toBe(p['blocks.1.attn.qkv.weight']);
    const attn = scope(b1, 'attn');
    expect(Object.keys(attn).sort()).toEqual(['proj.bias', 'proj.weight', 'qkv.bias', 'qkv.weight']);
    expect(attn['qkv.weight'].shape).toEqual([576, 192]);
    expect(Object.keys(scope(p, 'norm'))).toEqual(['weight', 'bias']); // not norm1/norm2 of the blocks
    // @ts-expect-error a misspelt key does not compile
    expect(attn['qkv.weigth']).toBeUndefined();
  });
});
