/**
 * §5.20 Gradient check: central differences in float64 over one shared block (group attention with
 * π and G = 2, DropPath masks) followed by one NLL, with tanh GELU, including the α/β scalars.
 * ORT has no float64 Erf, so the erf-GELU variant is checked in float32 with looser tolerances.
 */
import { describe, expect, it } from 'vitest';
import { backward } from '../../../src/graph/backward.js';
import { compile } from '../../../src/graph/runtime.js';
import type { Value } from '../../../src/graph/types.js';
import { type Tensor, tensor } from '../../../src/tensor/tensor.js';
import { scope } from '../../../src/vit/params.js';
import * as sret from '../../../src/vit/sret/index.js';
import { nllShapes, sharedBlockShapes } from '../../../src/vit/sret/params.js';
import { declare, type FloatType, floats, Graph, int64, Rng, randn, SESSION } from './helpers.js';

const [B, N, D, H] = [2, 8, 8, 2];
const SHAPES = [...sharedBlockShapes('blk', D, 12, true), ...nllShapes('nll', D, 8)];

function build(dtype: FloatType, gelu: 'tanh' | 'erf', withGrads: boolean) {
  const g = new Graph(`gradcheck-${dtype}-${gelu}`);
  const x = g.input('x', dtype, [B, N, D]);
  const r = g.input('r', dtype, [B, N, D]);
  const perm = g.input('perm', 'int64', [N]);
  const mask = g.input('mask', dtype, [B, 2]);
  const { p, feeds } = declare(g, SHAPES, new Rng(21), dtype);
  const col = (j: number) => g.Reshape(g.Slice(mask, [j], [j + 1], [1]), [-1, 1, 1]);
  const opts = { heads: H, groups: 2, perm, gelu, lnEps: 1e-6, drop: { attn: col(0), mlp: col(1) } } as const;
  const y = sret.nll(g, scope(p, 'nll') as never, sret.sharedBlock(g, scope(p, 'blk') as never, x, opts), opts);
  const loss = g.output('loss', g.ReduceSum(g.Mul(y, r), [], false));
  const wrt = ['x', ...SHAPES.map(([k]) => k)];
  if (withGrads) {
    backward(g, loss, [x, ...SHAPES.map(([k]) => p[k] as Value)]).forEach((v, i) => {
      g.output(`g${i}`, v);
    });
  }
  const all: Record<string, Tensor> = {
    ...feeds,
    x: randn([B, N, D], 22, dtype),
    r: randn([B, N, D], 23, dtype),
    perm: int64(new Rng(24).permutation(N)),
    mask: tensor(
      floats(dtype, 4, (i) => [1.25, 1.25, 0, 1.25][i] as number),
      [B, 2],
      dtype,
    ),
  };
  return { g, feeds: all, wrt };
}

async function check(dtype: FloatType, gelu: 'tanh' | 'erf', tol: { eps: number; rtol: number; atol: number }, perTensor: number) {
  const fwd = build(dtype, gelu, false);
  const bwd = build(dtype, gelu, true);
  using fs = await compile(fwd.g, SESSION);
  using bs = await compile(bwd.g, SESSION);
  const grads = await bs.run(bwd.feeds);
  const feeds = fwd.feeds;
  const loss = async () => Number((await fs.run(feeds)).loss?.data[0]);
  const pick = new Rng(25);
  let checked = 0;
  const worst = { excess: -Infinity, what: '' };
  for (const [i, name] of fwd.wrt.entries()) {
    const data = feeds[name]?.data as Float32Array | Float64Array;
    const analytic = grads[`g${i}`]?.data as Float32Array | Float64Array;
    const idx = data.length <= perTensor ? Array.from(data.keys()) : Array.from({ length: perTensor }, () => pick.int(data.length));
    for (const j of idx) {
      const x0 = data[j] as number;
      data[j] = x0 + tol.eps;
      const lp = await loss();
      data[j] = x0 - tol.eps;
      const lm = await loss();
      data[j] = x0;
      const fd = (lp - lm) / (2 * tol.eps);
      const excess = Math.abs((analytic[j] as number) - fd) - (tol.atol + tol.rtol * Math.abs(fd));
      if (excess > worst.excess) Object.assign(worst, { excess, what: `${name}[${j}]: analytic ${analytic[j]}, fd ${fd}` });
      checked++;
    }
  }
  expect(worst.excess, worst.what).toBeLessThanOrEqual(0);
  return checked;
}

describe('gradient check over a shared block and an NLL (§5.20)', () => {
  it('float64, tanh GELU, with π, DropPath and the α/β scalars', async () => {
    const n = await check('float64', 'tanh', { eps: 1e-6, rtol: 1e-6, atol: 1e-7 }, 4);
    expect(n).toBeGreaterThan(60);
  });

  it('float32, erf GELU (no float64 Erf kernel in ORT), looser', async () => {
    await check('float32', 'erf', { eps: 1e-2, rtol: 2e-2, atol: 2e-3 }, 2);
  });
});
