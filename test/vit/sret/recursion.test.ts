/** §5.6–5.9: recursion against timm's block, identity settings, gradients of shared weights, execution trace. */
import { describe, expect, it } from 'vitest';
import { backward } from '../../../src/graph/backward.js';
import type { Value } from '../../../src/graph/types.js';
import type { Tensor } from '../../../src/tensor/tensor.js';
import { block } from '../../../src/vit/blocks.js';
import type { VitConfig } from '../../../src/vit/config.js';
import { type BlockKey, type Params, scope } from '../../../src/vit/params.js';
import * as sret from '../../../src/vit/sret/index.js';
import { nllShapes, sharedBlockShapes } from '../../../src/vit/sret/params.js';
import { expectAllclose } from '../../helpers/allclose.js';
import { declare, type FloatType, Graph, int64, Rng, randn, run, tinyConfig } from './helpers.js';

const [B, N] = [2, 16]; // tinyConfig: 16 px, stem stride 4 → 4×4 grid
const D = 8;
const HIDDEN = 16;

/** Stage-0 parameters of a config with L applications of one shared block: `blocks.0.*` and NLLs `blocks.<2a+1>.*`. */
function stageShapes(L: number): [string, number[]][] {
  return [...sharedBlockShapes('blocks.0', D, HIDDEN, true), ...Array.from({ length: L }, (_, a) => nllShapes(`blocks.${2 * a + 1}`, D, D)).flat()];
}

function setCoefs(feeds: Record<string, Tensor>, prefix: string, values: number[]) {
  values.forEach((v, i) => {
    (feeds[`${prefix}.coefficient${i + 1}.bias`] as Tensor<'float32'>).data[0] = v;
  });
}

describe('recursive stage', () => {
  it('L = 1, no NLL, α = 1 equals timm’s pre-norm block; with the NLL it equals nll(block(x)) (§5.6)', async () => {
    const c = tinyConfig({
      depth: [1, 2, 2],
      groups: [
        [1, 1],
        [2, 1],
        [1, 1],
      ],
    });
    const g = new Graph('l1');
    const x = g.input('x', 'float32', [B, N, D]);
    const { p, feeds } = declare(g, stageShapes(1), new Rng(1));
    setCoefs(feeds, 'blocks.0', [1, 1, 1, 1]);
    const vitCfg = { heads: 2, lnEps: c.lnEps, gelu: c.gelu } as VitConfig;
    const timm = block(g, scope(p, 'blocks.0') as Params<BlockKey>, x, vitCfg).out;
    g.output('stage', sret.recursiveStage(g, p as never, x, c, 0, { nll: false }));
    g.output('timm', timm);
    g.output('stageNll', sret.recursiveStage(g, p as never, x, c, 0));
    g.output('nllOfBlock', sret.nll(g, scope(p, 'blocks.1') as never, timm, c));
    const out = await run(g, { ...feeds, x: randn([B, N, D], 2) });
    expectAllclose(out.stage?.data as Float32Array, out.timm?.data as Float32Array, { rtol: 0, atol: 1e-6, what: 'block' });
    expectAllclose(out.stageNll?.data as Float32Array, out.nllOfBlock?.data as Float32Array, { rtol: 0, atol: 1e-6, what: 'nll(block)' });
  });

  it('α = (1,0,1,0) makes a block the identity; β = (1,0) makes an NLL the identity (§5.7)', async () => {
    const g = new Graph('identity');
    const x = g.input('x', 'float32', [B, N, D]);
    const perm = g.input('perm', 'int64', [N]);
    const { p, feeds } = declare(g, stageShapes(1), new Rng(3));
    setCoefs(feeds, 'blocks.0', [1, 0, 1, 0]);
    setCoefs(feeds, 'blocks.1', [1, 0]);
    const opts = { heads: 2, groups: 4, perm, gelu: 'erf', lnEps: 1e-6 } as const;
    g.output('block', sret.sharedBlock(g, scope(p, 'blocks.0') as never, x, opts));
    g.output('nll', sret.nll(g, scope(p, 'blocks.1') as never, x, opts));
    const xs = randn([B, N, D], 4);
    const out = await run(g, { ...feeds, x: xs, perm: int64(new Rng(1).permutation(N)) });
    expect(Array.from(out.block?.data as Float32Array)).toEqual(Array.from(xs.data as Float32Array));
    expect(Array.from(out.nll?.data as Float32Array)).toEqual(Array.from(xs.data as Float32Array));
  });

  it('with L = 2 the gradient of a shared weight is the sum over both applications of an untied unrolled graph (§5.8)', async () => {
    const dtype: FloatType = 'float64';
    const c = tinyConfig({
      groups: [
        [2, 2],
        [2, 1],
        [1, 1],
      ],
    }); // stage 0: L = 2, r = 1 permuted, G = 2
    const shapes = stageShapes(2);
    const shared = shapes.filter(([k]) => k.startsWith('blocks.0.')).map(([k]) => k);
    const xs = randn([B, N, D], 5, dtype);
    const rs = randn([B, N, D], 6, dtype);
    const pi = int64(new Rng(7).permutation(N));
    const opts = { heads: 2, gelu: 'tanh', lnEps: 1e-6 } as const;
    // tied: the recursive stage
    const g = new Graph('tied');
    const x = g.input('x', dtype, [B, N, D]);
    const r = g.input('r', dtype, [B, N, D]);
    const perm = g.input('perm', 'int64', [N]);
    const tied = declare(g, shapes, new Rng(8), dtype);
    const y = sret.recursiveStage(g, tied.p as never, x, c, 0, { perm: () => perm });
    const gw = backward(
      g,
      g.ReduceSum(g.Mul(y, r), [], false),
      shared.map((k) => tied.p[k] as Value),
    );
    for (const [i, v] of gw.entries()) g.output(`g${i}`, v);
    const a = await run(g, { ...tied.feeds, x: xs, r: rs, perm: pi });
    // untied: two copies of the block
    const u = new Graph('untied');
    const ux = u.input('x', dtype, [B, N, D]);
    const ur = u.input('r', dtype, [B, N, D]);
    const uperm = u.input('perm', 'int64', [N]);
    const nlls = declare(
      u,
      shapes.filter(([k]) => !k.startsWith('blocks.0.')),
      new Rng(0),
      dtype,
    );
    const copy = (pre: string) =>
      Object.fromEntries(shared.map((k) => [k.replace('blocks.0.', ''), u.input(`${pre}.${k}`, dtype, tied.feeds[k]?.dims as number[])]));
    const [pa, pb] = [copy('a'), copy('b')];
    let h = sret.sharedBlock(u, pa as never, ux, { ...opts, groups: 2 });
    h = sret.nll(u, scope(nlls.p, 'blocks.1') as never, h, opts);
    h = sret.sharedBlock(u, pb as never, h, { ...opts, groups: 2, perm: uperm });
    h = sret.nll(u, scope(nlls.p, 'blocks.3') as never, h, opts);
    const keys = shared.map((k) => k.replace('blocks.0.', ''));
    const gu = backward(u, u.ReduceSum(u.Mul(h, ur), [], false), [...keys.map((k) => pa[k] as Value), ...keys.map((k) => pb[k] as Value)]);
    for (const [i, v] of gu.entries()) u.output(`g${i}`, v);
    const feeds: Record<string, Tensor> = { x: xs, r: rs, perm: pi };
    for (const k of Object.keys(tied.feeds)) {
      if (k.startsWith('blocks.0.')) feeds[`a.${k}`] = feeds[`b.${k}`] = tied.feeds[k] as Tensor;
      else feeds[k] = tied.feeds[k] as Tensor;
    }
    const b = await run(u, feeds);
    shared.forEach((k, i) => {
      const [ga, gb] = [b[`g${i}`]?.data as Float64Array, b[`g${i + shared.length}`]?.data as Float64Array];
      expectAllclose(
        a[`g${i}`]?.data as Float64Array,
        Array.from(ga, (v, j) => v + (gb[j] as number)),
        { rtol: 1e-9, atol: 1e-12, what: k },
      );
    });
    const qkv = shared.indexOf('blocks.0.attn.qkv.weight');
    expect(b[`g${qkv}`]?.data).not.toEqual(b[`g${qkv + shared.length}`]?.data); // both applications contribute
  });
});

describe('execution trace (§5.9)', () => {
  const T = sret.SRET_PRESETS['sret-t'];

  it('stage 2 of T runs B0 N0 B0 N1 … B4 N9 with groups 4,1,4,1,…', () => {
    expect(sret.stageTrace(T, 1).join(' ')).toBe('B0 N0 B0 N1 B1 N2 B1 N3 B2 N4 B2 N5 B3 N6 B3 N7 B4 N8 B4 N9');
    expect(sret.stageSchedule(T, 1).map((a) => a.groups)).toEqual([4, 1, 4, 1, 4, 1, 4, 1, 4, 1]);
  });

  it('the built graph follows the trace: weights read in order, attention groups from the Softmax shapes', () => {
    const g = sret.inferenceGraph(T);
    const trace: string[] = [];
    const groups: number[] = [];
    for (const n of g.nodes) {
      if (!n.scope.startsWith('transformers.1.')) continue;
      if (n.op === 'Softmax') groups.push(196 / ((n.inputs[0] as Value).shape[3] as number));
      for (const v of n.inputs) {
        const m = v.source.kind === 'param' ? /^transformers\.1\.blocks\.(\d+)\.(attn\.qkv|mlp\.fc1)\.weight$/.exec(v.source.name) : null;
        if (!m) continue;
        const idx = Number(m[1]);
        if (m[2] === 'attn.qkv') trace.push(`B${idx / 4}`);
        else if (idx % 2 === 1) trace.push(`N${(idx - 1) / 2}`);
      }
    }
    expect(trace).toEqual(sret.stageTrace(T, 1));
    expect(groups).toEqual([4, 1, 4, 1, 4, 1, 4, 1, 4, 1]);
  });

  it('with L = 3, applications r = 1 and r = 2 both use groups[1] and are permuted', () => {
    const c = tinyConfig({
      depth: [3, 2, 2],
      groups: [
        [4, 2],
        [2, 1],
        [1, 1],
      ],
    });
    const s = sret.stageSchedule(c, 0);
    expect(s.map((a) => [a.r, a.groups, a.permuted])).toEqual([
      [0, 4, false],
      [1, 2, true],
      [2, 2, true],
    ]);
    expect(sret.permutationSites(c).map((p) => p.name)).toEqual(['perm.0.1', 'perm.0.2']);
    expect(sret.stageTrace(c, 0)).toEqual(['B0', 'N0', 'B0', 'N1', 'B0', 'N2']);
  });
});
