/** §5.1–5.5: permutation round trip, group attention vs full attention, per-chunk and permuted references, indivisible N. */
import { describe, expect, it } from 'vitest';
import { ShapeError } from '../../../src/tensor/errors.js';
import { type Tensor, toNumbers } from '../../../src/tensor/tensor.js';
import { attention } from '../../../src/vit/blocks.js';
import type { AttnKey, Params } from '../../../src/vit/params.js';
import * as sret from '../../../src/vit/sret/index.js';
import { expectAllclose } from '../../helpers/allclose.js';
import { declare, Graph, hostAttention, int64, Rng, randn, rowsOf, run } from './helpers.js';

const [B, N, D, H] = [2, 12, 8, 2];
const ATTN: [string, number[]][] = [
  ['qkv.weight', [3 * D, D]],
  ['qkv.bias', [3 * D]],
  ['proj.weight', [D, D]],
  ['proj.bias', [D]],
];

function setup(seed = 1) {
  const g = new Graph('group-attn');
  const x = g.input('x', 'float32', [B, N, D]);
  const { p, feeds } = declare(g, ATTN, new Rng(seed));
  const all: Record<string, Tensor> = { ...feeds, x: randn([B, N, D], seed + 1) };
  return { g, x, p: p as Params<AttnKey>, feeds: all, xs: all.x as Tensor };
}

describe('permutation and its inverse (§5.1)', () => {
  it('Gather(Gather(x, π), argsort(π)) == x exactly; argsort(π)[π[p]] = p', async () => {
    const pi = new Rng(3).permutation(N);
    const inv = sret.argsort(pi);
    for (let q = 0; q < N; q++) expect(inv[pi[q] as number]).toBe(q);
    const g = new Graph('roundtrip');
    const x = g.input('x', 'float32', [B, N, D]);
    const perm = g.input('perm', 'int64', [N]);
    const graphInv = sret.inversePermutation(g, perm);
    g.output('y', g.Gather(g.Gather(x, perm, 1), graphInv, 1));
    g.output('inv', graphInv);
    const feeds = { x: randn([B, N, D], 4), perm: int64(pi) };
    const out = await run(g, feeds);
    expect(Array.from(out.y?.data as Float32Array)).toEqual(Array.from(feeds.x.data as Float32Array));
    expect(toNumbers(out.inv as never)).toEqual(Array.from(inv));
  });
});

describe('groupAttention', () => {
  it('G = 1 equals full attention (1e-6), and with π too (1e-5): attention has no position term (§5.2)', async () => {
    const { g, x, p, feeds } = setup();
    const perm = g.input('perm', 'int64', [N]);
    g.output('full', attention(g, p, x, H).y);
    g.output('g1', sret.groupAttention(g, p, x, { heads: H, groups: 1 }));
    g.output('g1perm', sret.groupAttention(g, p, x, { heads: H, groups: 1, perm }));
    const out = await run(g, { ...feeds, perm: int64(new Rng(5).permutation(N)) });
    const full = out.full?.data as Float32Array;
    expectAllclose(out.g1?.data as Float32Array, full, { rtol: 0, atol: 1e-6, what: 'G=1' });
    expectAllclose(out.g1perm?.data as Float32Array, full, { rtol: 0, atol: 1e-5, what: 'G=1 with π' });
  });

  it('G > 1 without π equals full attention on each contiguous chunk on its own (§5.3)', async () => {
    const G = 3;
    const { g, x, p, feeds } = setup(2);
    g.output('grouped', sret.groupAttention(g, p, x, { heads: H, groups: G }));
    const n = N / G;
    const chunks = Array.from({ length: G }, (_, k) => attention(g, p, g.Slice(x, [k * n], [(k + 1) * n], [1]), H).y);
    g.output('chunks', g.Concat(chunks, 1));
    const out = await run(g, feeds);
    expectAllclose(out.grouped?.data as Float32Array, out.chunks?.data as Float32Array, { rtol: 0, atol: 1e-6, what: 'chunked' });
  });

  it('G > 1 with π equals a pure-TS loop over the groups of π, scattered back (§5.4)', async () => {
    const G = 4;
    const { g, x, p, feeds, xs } = setup(3);
    const perm = g.input('perm', 'int64', [N]);
    g.output('y', sret.groupAttention(g, p, x, { heads: H, groups: G, perm }));
    const pi = new Rng(9).permutation(N);
    const out = await run(g, { ...feeds, perm: int64(pi) });
    const w = Object.fromEntries(ATTN.map(([k]) => [k, feeds[k]?.data as Float32Array]));
    const n = N / G;
    for (let b = 0; b < B; b++) {
      const rows = rowsOf(xs, b);
      const want: number[][] = new Array(N);
      for (let k = 0; k < G; k++) {
        const idx = Array.from(pi.slice(k * n, (k + 1) * n));
        const y = hostAttention(
          idx.map((t) => rows[t] as number[]),
          w,
          H,
        );
        idx.forEach((t, i) => {
          want[t] = y[i] as number[];
        });
      }
      expectAllclose(rowsOf(out.y as never, b).flat(), want.flat(), { rtol: 1e-5, atol: 1e-5, what: `batch ${b}` });
    }
    // and π matters: without it the groups differ
    const { g: g2, x: x2, p: p2 } = setup(3);
    g2.output('y', sret.groupAttention(g2, p2, x2, { heads: H, groups: G }));
    const plain = await run(g2, feeds);
    expect(Math.max(...Array.from(plain.y?.data as Float32Array, (v, i) => Math.abs(v - (out.y?.data[i] as number))))).toBeGreaterThan(1e-3);
  });

  it('N % G ≠ 0 throws ShapeError naming groupAttention, N and G (§5.5)', () => {
    const g = new Graph('bad');
    const x = g.input('x', 'float32', ['B', 10, D]);
    const { p } = declare(g, ATTN, new Rng(1));
    const call = () => sret.groupAttention(g, p as Params<AttnKey>, x, { heads: H, groups: 4 });
    expect(call).toThrow(ShapeError);
    expect(call).toThrow(/groupAttention: N = 10 tokens is not divisible by G = 4 groups/);
  });
});
