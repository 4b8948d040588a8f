/**
 * The pruner network (specs/apt.md §2): §10.1 shapes and the feature formula, §10.8 its gradient
 * (the §5 closed form and central differences), §10.14 init and parameter counts.
 *
 * §10.8 tolerances: the library's agent graph (agentLossGraph) is float32 by construction; its
 * gradients are compared with the §5 closed form computed on the host in float64 from the same
 * float32 values at rtol 1e-5 (atol 1e-7·max|expected|). The same composite built in float64
 * (prunerLogits on float64 params and input, the same GatherElements + cross-entropy) is compared
 * with the closed form at 1e-10 and with central differences (ε = 1e-6) at 1e-6.
 */
import { describe, expect, it } from 'vitest';
import { agentLossGraph, prunerParams, resolvePrunerConfig, type ScorerKey, scorerParamCount, scorerShapes, TokenPruner } from '../../src/agent/index.js';
import { dropLogit, prunerLogits } from '../../src/agent/scorer.js';
import { Graph } from '../../src/graph/builder.js';
import { softmaxCrossEntropy } from '../../src/graph/nn.js';
import { compile } from '../../src/graph/runtime.js';
import type { Dim } from '../../src/graph/types.js';
import { Rng } from '../../src/tensor/rng.js';
import { type Tensor, tensor } from '../../src/tensor/tensor.js';
import { addGradients, gradName } from '../../src/train/step.js';
import { create, VIT_PRESETS } from '../../src/vit/index.js';
import type { Params } from '../../src/vit/params.js';
import { expectAllclose } from '../helpers/allclose.js';
import { N, SESSION, scorerOutputs, TINY } from '../helpers/apt.js';

const D = TINY.dim;
const KEYS = scorerShapes(D).map(([k]) => k);

function randomScorer(seed: number, dim = D, type: 'float32' | 'float64' = 'float32'): Record<ScorerKey, Tensor> {
  const rng = new Rng(seed);
  return Object.fromEntries(
    scorerShapes(dim).map(([k, dims]) => {
      const n = dims.reduce((p, d) => p * d, 1);
      const data = type === 'float32' ? new Float32Array(n) : new Float64Array(n);
      return [k, tensor(rng.fillUniform(data, -0.5, 0.5), dims)];
    }),
  ) as Record<ScorerKey, Tensor>;
}

/** The hand-sized pruner (D = 2) and input (N = 3) of §10.1: drop logits 3.5, 9.5, 15.5. */
const HAND: Record<string, Tensor> = {
  'query.weight': tensor(Float32Array.of(1, 0, 0, 1), [2, 2]),
  'query.bias': tensor(Float32Array.of(0, 0), [2]),
  'key.weight': tensor(Float32Array.of(2, 0, 0, 1), [2, 2]),
  'key.bias': tensor(Float32Array.of(1, 0), [2]),
  'value.weight': tensor(Float32Array.of(0, 1, 1, 0), [2, 2]),
  'value.bias': tensor(Float32Array.of(0, 1), [2]),
  'fc.weight': tensor(Float32Array.of(1, 0, 0, 0, 0, 0, 1, 1), [2, 4]),
  'fc.bias': tensor(Float32Array.of(0.5, -1), [2]),
};
const HAND_X = tensor(Float32Array.of(1, 2, 3, 4, 5, 6), [1, 3, 2]);

describe('dropLogit: the folded l₁ − l₀ the decisions compare', () => {
  async function both(p: Record<string, Tensor>, x: Tensor, dtype: 'float32' | 'float64') {
    const g = new Graph('fold');
    const pv = Object.fromEntries(KEYS.map((k) => [k, g.param(k, [...(p[k] as Tensor).dims], dtype)])) as Params<ScorerKey>;
    const h = g.input('h', dtype, ['B', x.dims[1] as number, x.dims[2] as number]);
    const l = prunerLogits(g, pv, h);
    g.output('diff', g.Sub(g.Squeeze(g.Slice(l, [1], [2], [2]), [2]), g.Squeeze(g.Slice(l, [0], [1], [2]), [2])));
    const z = dropLogit(g, pv, h);
    expect(z.shape).toEqual(['B', x.dims[1]]);
    g.output('z', z);
    using s = await compile(g, SESSION);
    const r = await s.run({ ...p, h: x });
    return { diff: r.diff?.data as Float64Array | Float32Array, z: r.z?.data as Float64Array | Float32Array };
  }

  it('the hand-sized example: 3.5, 9.5, 15.5', async () => {
    const { z } = await both(HAND, HAND_X, 'float32');
    expect(Array.from(z)).toEqual([3.5, 9.5, 15.5]);
  });

  it('equals l₁ − l₀ of prunerLogits: 1e-12 in float64, 1e-5 in float32 (B = 3, N = 17, D = 16)', async () => {
    for (const dtype of ['float64', 'float32'] as const) {
      const p = randomScorer(8, D, dtype);
      const n = 3 * N * D;
      const x = tensor(new Rng(9).fillNormal(dtype === 'float64' ? new Float64Array(n) : new Float32Array(n)), [3, N, D]);
      const { diff, z } = await both(p, x, dtype);
      expectAllclose(z, diff, dtype === 'float64' ? { rtol: 1e-12, atol: 1e-12 } : { rtol: 1e-5, atol: 1e-5 });
    }
  });
});

describe('§10.1 pruner shapes and features', () => {
  it('a hand-sized example: D = 2, N = 3 gives the logits of z_j = concat(v_j, q ⊙ k_j), l_j = W_f·z_j + b_f', async () => {
    const p = HAND;
    const x = HAND_X;
    // q = x0 = (1, 2); token 1: k = (7, 4), v = (4, 4), q⊙k = (7, 8) → l = (4 + 0.5, 7 + 8 − 1).
    const { logits, pDrop } = await scorerOutputs(p, x);
    expect(Array.from(logits)).toEqual([2.5, 6, 4.5, 14, 6.5, 22]);
    expectAllclose(
      pDrop,
      [3.5, 9.5, 15.5].map((d) => 1 / (1 + Math.exp(-d))),
      { rtol: 1e-6 },
    );
  });

  it('[B, N, D] → [B, N, 2]; with W_q = W_k = I and zero biases, z[…, D:] = X[:, 0] ⊙ X[:, j]', async () => {
    const b = 3;
    const x = tensor(new Rng(1).fillNormal(new Float32Array(b * N * D)), [b, N, D]);
    const p = randomScorer(2);
    for (const m of ['query', 'key'] as const) {
      p[`${m}.weight`] = tensor(
        Float32Array.from({ length: D * D }, (_, i) => (i % (D + 1) === 0 ? 1 : 0)),
        [D, D],
      );
      p[`${m}.bias`] = tensor(new Float32Array(D), [D]);
    }
    const g = new Graph('z');
    const pv = Object.fromEntries(KEYS.map((k) => [k, g.param(k, [...(p[k] as Tensor).dims])])) as Params<ScorerKey>;
    const out = prunerLogits(g, pv, g.input('h', 'float32', ['B', N, D]));
    expect(out.shape).toEqual(['B', N, 2]);
    g.output('logits', out);
    using s = await compile(g, SESSION);
    // W_f picks z[D + a] and z[D + a + 1] (selector rows), so the logits are those two features.
    for (let a = 0; a < D; a += 2) {
      const fc = new Float32Array(2 * 2 * D);
      fc[D + a] = 1;
      fc[2 * D + D + a + 1] = 1;
      const r = await s.run({ ...p, 'fc.weight': tensor(fc, [2, 2 * D]), 'fc.bias': tensor(new Float32Array(2), [2]), h: x });
      expect(r.logits?.dims).toEqual([b, N, 2]);
      const l = r.logits?.data as Float32Array;
      for (let s0 = 0; s0 < b; s0++) {
        for (let j = 0; j < N; j++) {
          const cls = s0 * N * D;
          const tok = (s0 * N + j) * D;
          const want = [a, a + 1].map((c) => Math.fround((x.data[cls + c] as number) * (x.data[tok + c] as number)));
          expect([l[(s0 * N + j) * 2], l[(s0 * N + j) * 2 + 1]]).toEqual(want);
        }
      }
    }
  });

  it('changing token i ≠ 0 changes only row i; changing CLS changes every row', async () => {
    const p = randomScorer(3);
    const x = tensor(new Rng(4).fillNormal(new Float32Array(2 * N * D)), [2, N, D], 'float32');
    const base = (await scorerOutputs(p, x)).logits;
    const rows = (l: Float32Array, s0: number, j: number) => Array.from(l.subarray((s0 * N + j) * 2, (s0 * N + j + 1) * 2));
    for (const i of [0, 5]) {
      const y = tensor(
        x.data.map((v, at) => (at >= (N + i) * D && at < (N + i + 1) * D ? v + 0.25 : v)),
        x.dims,
      ); // sample 1, token i
      const l = (await scorerOutputs(p, y)).logits;
      for (let j = 0; j < N; j++) {
        expect(rows(l, 0, j), `sample 0 row ${j}`).toEqual(rows(base, 0, j));
        if (i === 0 || j === i) expect(rows(l, 1, j), `sample 1 row ${j}`).not.toEqual(rows(base, 1, j));
        else expect(rows(l, 1, j), `sample 1 row ${j}`).toEqual(rows(base, 1, j));
      }
    }
  });
});

/** §5 closed form in float64: gradients of mean_b CE(l[b, j_b], c_b) (s = 1/B, accum applied by the loop). */
function closedForm(p: Record<string, Tensor>, x: ArrayLike<number>, b: number, js: number[], cs: number[]) {
  const g: Record<string, Float64Array> = Object.fromEntries(KEYS.map((k) => [k, new Float64Array((p[k] as Tensor).data.length)]));
  const w = (k: ScorerKey) => (p[k] as Tensor).data as ArrayLike<number>;
  const lin = (k: 'query' | 'key' | 'value', off: number) =>
    Array.from(
      { length: D },
      (_, o) =>
        (w(`${k}.bias`)[o] as number) +
        Array.from({ length: D }, (_, i) => (w(`${k}.weight`)[o * D + i] as number) * (x[off + i] as number)).reduce((s, v) => s + v, 0),
    );
  let loss = 0;
  for (let s0 = 0; s0 < b; s0++) {
    const [x0, xj] = [s0 * N * D, (s0 * N + (js[s0] as number)) * D];
    const q = lin('query', x0);
    const k = lin('key', xj);
    const z = [...lin('value', xj), ...q.map((v, i) => v * (k[i] as number))];
    const l = [0, 1].map((o) => (w('fc.bias')[o] as number) + z.reduce((s, v, i) => s + (w('fc.weight')[o * 2 * D + i] as number) * v, 0));
    const m = Math.max(...l);
    const lse = m + Math.log(l.reduce((s, v) => s + Math.exp(v - m), 0));
    loss += (lse - (l[cs[s0] as number] as number)) / b;
    const delta = l.map((v, o) => (Math.exp(v - lse) - (o === cs[s0] ? 1 : 0)) / b);
    const gz = z.map((_, i) => delta.reduce((s, d, o) => s + d * (w('fc.weight')[o * 2 * D + i] as number), 0));
    const inc = (k: ScorerKey, i: number, v: number) => {
      const a = g[k] as Float64Array;
      a[i] = (a[i] as number) + v;
    };
    delta.forEach((d, o) => {
      inc('fc.bias', o, d);
      for (const [i, v] of z.entries()) inc('fc.weight', o * 2 * D + i, d * v);
    });
    const add = (m0: 'query' | 'key' | 'value', gy: number[], off: number) =>
      gy.forEach((d, o) => {
        inc(`${m0}.bias`, o, d);
        for (let i = 0; i < D; i++) inc(`${m0}.weight`, o * D + i, d * (x[off + i] as number));
      });
    add('value', gz.slice(0, D), xj);
    add(
      'query',
      gz.slice(D).map((v, i) => v * (k[i] as number)),
      x0,
    );
    add(
      'key',
      gz.slice(D).map((v, i) => v * (q[i] as number)),
      xj,
    );
  }
  return { loss, grads: g };
}

/** agentLossGraph's composite in float64 (the library builds it in float32), with ∂/∂h as well. */
function agentGraph64(): Graph {
  const g = new Graph('agent-f64');
  const h = g.input('h', 'float64', ['B', N, D]);
  const j = g.input('j', 'int64', ['B']);
  const c = g.input('c', 'int64', ['B']);
  const p = Object.fromEntries(scorerShapes(D).map(([k, dims]) => [k, g.param(k, dims, 'float64')])) as Params<ScorerKey>;
  const logits = prunerLogits(g, p, h);
  const chosen = g.Reshape(g.GatherElements(logits, g.Expand(g.Reshape(j, [-1, 1, 1]), [j.shape[0] as Dim, 1, 2]), 1), [-1, 2]);
  addGradients(g, softmaxCrossEntropy(g, chosen, c), { ...p, h });
  return g;
}

describe('§10.8 pruner gradient', () => {
  const b = 5;
  const js = [1, 16, 7, 7, 3];
  const cs = [1, 0, 0, 1, 1];
  const x32 = new Rng(7).fillNormal(new Float32Array(b * N * D));
  const feeds = { j: tensor(BigInt64Array.from(js, BigInt), [b]), c: tensor(BigInt64Array.from(cs, BigInt), [b]) };

  it('agentLossGraph (float32) equals the §5 closed form (float64 on the host) at 1e-5', async () => {
    const p = randomScorer(8);
    const want = closedForm(p, x32, b, js, cs);
    using s = await compile(agentLossGraph(TINY), SESSION);
    const out = await s.run({ ...p, ...feeds, h: tensor(x32, [b, N, D]) });
    expectAllclose([Number(out.loss?.data[0])], [want.loss], { rtol: 1e-6, what: 'loss' });
    for (const k of KEYS) {
      const e = want.grads[k] as Float64Array;
      const max = Math.max(...Array.from(e, Math.abs));
      expect(max, k).toBeGreaterThan(1e-3);
      expectAllclose(out[gradName(k)]?.data as Float32Array, e, { rtol: 1e-5, atol: 1e-7 * max, what: k });
    }
  });

  it('the float64 composite equals the closed form (1e-10) and central differences (1e-6); ∂/∂h = 0 (detached)', async () => {
    const p = randomScorer(9, D, 'float64');
    const h = tensor(Float64Array.from(x32), [b, N, D], 'float64');
    const want = closedForm(p, h.data, b, js, cs);
    using s = await compile(agentGraph64(), SESSION);
    const out = await s.run({ ...p, ...feeds, h });
    expect(Array.from(out[gradName('h')]?.data as Float64Array).every((v) => v === 0)).toBe(true);
    const lossAt = async (k: ScorerKey, i: number, eps: number) => {
      const t = tensor((p[k] as Tensor<'float64'>).data.slice(), [...(p[k] as Tensor).dims], 'float64');
      t.data[i] = (t.data[i] as number) + eps;
      return Number((await s.run({ ...p, [k]: t, ...feeds, h }, ['loss'])).loss?.data[0]);
    };
    for (const k of KEYS) {
      const got = out[gradName(k)]?.data as Float64Array;
      expectAllclose(got, want.grads[k] as Float64Array, { rtol: 1e-10, atol: 1e-13, what: `${k} vs §5` });
      const fd = new Float64Array(got.length);
      for (let i = 0; i < got.length; i++) fd[i] = ((await lossAt(k, i, 1e-6)) - (await lossAt(k, i, -1e-6))) / 2e-6;
      expectAllclose(got, fd, { rtol: 1e-6, atol: 1e-8, what: `${k} vs central differences` });
    }
  });
});

describe('§10.14 init and parameter counts', () => {
  it('every pruner starts equal (one draw, copied), within U(±1/√fan_in); seeds differ', () => {
    const p = TokenPruner.create(TINY, { seed: 3 }).params;
    for (const [k, dims] of scorerShapes(D)) {
      const first = p[`clip_layer.0.${k}`] as Tensor<'float32'>;
      expect(first.dims).toEqual(dims);
      for (const c of [1, 2]) expect(p[`clip_layer.${c}.${k}`]?.data, `${k} of pruner ${c}`).toEqual(first.data);
      expect(p[`clip_layer.1.${k}`]?.data).not.toBe(first.data); // copies, not one shared buffer
      const bound = 1 / Math.sqrt(k.startsWith('fc') ? 2 * D : D);
      const max = Math.max(...Array.from(first.data, Math.abs));
      expect(max, k).toBeLessThanOrEqual(bound);
      if (first.data.length >= 16) expect(max, k).toBeGreaterThan(0.75 * bound);
    }
    expect(TokenPruner.create(TINY, { seed: 4 }).params['clip_layer.0.key.weight']?.data).not.toEqual(p['clip_layer.0.key.weight']?.data);
  });

  it('3(D² + D) + 4D + 2 per pruner: 28,322 at D = 96, 1,774,850 at D = 768; tensors add up', () => {
    expect(scorerParamCount(96)).toBe(28_322);
    expect(scorerParamCount(768)).toBe(1_774_850);
    const t = TokenPruner.create(VIT_PRESETS['fmnist-vit-t']);
    expect(t.config.cutLayers).toEqual([1, 2, 4]);
    expect(t.paramCount).toBe(3 * 28_322);
    expect(Object.values(t.params).reduce((s, x) => s + x.data.length, 0)).toBe(t.paramCount);
    const g = new Graph('count');
    const declared = prunerParams(g, TINY, resolvePrunerConfig(TINY));
    expect(declared.length).toBe(3);
    expect(Object.keys(declared[2] as object).sort()).toEqual([...KEYS].sort());
  });

  it('the source’s zero head: vit.create(…, { head: "zeros" }) has head weight and bias 0', () => {
    const m = create(TINY, { seed: 1, head: 'zeros' });
    expect(Array.from(m.params['head.weight']?.data ?? []).every((v) => v === 0)).toBe(true);
    expect(Array.from(m.params['head.bias']?.data ?? []).every((v) => v === 0)).toBe(true);
  });
});
