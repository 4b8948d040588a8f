/** §5.13–5.15: conv stem, stage pool, GAP head. */
import { describe, expect, it } from 'vitest';
import { Graph } from '../../../src/graph/builder.js';
import { scope } from '../../../src/vit/params.js';
import * as sret from '../../../src/vit/sret/index.js';
import { expectAllclose } from '../../helpers/allclose.js';
import { declare, Rng, randn, run } from './helpers.js';

describe('convStem (§5.13)', () => {
  it('T: output ≥ 0 (ReLU after conv3), shape [B, 64, 28, 28]', async () => {
    const c = sret.SRET_PRESETS['sret-t'];
    const model = sret.create(c, { seed: 2 });
    const g = new Graph('stem');
    const images = g.input('images', 'float32', ['B', 3, 224, 224]);
    const { params, buffers } = sret.sretParams(g, c);
    const { y } = sret.convStem(g, { ...scope(params, 'patch_embed'), ...scope(buffers, 'patch_embed') }, images, c);
    g.output('y', y);
    const stemKeys = Object.keys(model.params).filter((k) => k.startsWith('patch_embed.'));
    const feeds = { ...Object.fromEntries(stemKeys.map((k) => [k, model.params[k]])), ...model.buffers, images: randn([1, 3, 224, 224], 1) };
    const out = await run(g, feeds as never);
    expect(out.y?.dims).toEqual([1, 64, 28, 28]);
    const d = out.y?.data as Float32Array;
    expect(d.every((v) => v >= 0)).toBe(true);
    expect(d.some((v) => v > 0)).toBe(true);
  });
});

describe('stagePool (§5.14)', () => {
  it('one-hot centre weight, zero bias: output channel o equals input channel ⌊o/2⌋ at even positions', async () => {
    const [B, C, H] = [2, 4, 6];
    const g = new Graph('pool');
    const x = g.input('x', 'float32', [B, C, H, H]);
    const w = g.input('w', 'float32', [2 * C, 1, 3, 3]);
    const b = g.input('b', 'float32', [2 * C]);
    g.output('y', sret.stagePool(g, { 'conv.weight': w, 'conv.bias': b }, x));
    const wd = new Float32Array(2 * C * 9);
    for (let o = 0; o < 2 * C; o++) wd[o * 9 + 4] = 1;
    const xs = randn([B, C, H, H], 3);
    const out = await run(g, {
      x: xs,
      w: { type: 'float32', dims: [2 * C, 1, 3, 3], data: wd },
      b: { type: 'float32', dims: [2 * C], data: new Float32Array(2 * C) },
    });
    const Ho = H / 2;
    expect(out.y?.dims).toEqual([B, 2 * C, Ho, Ho]);
    const y = out.y?.data as Float32Array;
    const xd = xs.data as Float32Array;
    for (let n = 0; n < B; n++)
      for (let o = 0; o < 2 * C; o++)
        for (let i = 0; i < Ho; i++)
          for (let j = 0; j < Ho; j++) {
            const src = xd[((n * C + Math.floor(o / 2)) * H + 2 * i) * H + 2 * j];
            expect(y[((n * 2 * C + o) * Ho + i) * Ho + j]).toBe(src);
          }
  });
});

describe('forwardHead (§5.15)', () => {
  it('is invariant to token order and accepts N′ < N', async () => {
    const D = 8;
    const g = new Graph('head');
    const x = g.input('x', 'float32', ['B', 'N', D]);
    const { p, feeds } = declare(
      g,
      [
        ['norm.weight', [D]],
        ['norm.bias', [D]],
        ['head.weight', [5, D]],
        ['head.bias', [5]],
      ],
      new Rng(1),
    );
    g.output('logits', sret.forwardHead(g, scope(p, 'norm') as never, scope(p, 'head') as never, x, 1e-6));
    const xs = randn([2, 10, D], 2);
    const pi = new Rng(3).permutation(10);
    const shuffled = new Float32Array(xs.data.length);
    for (let b = 0; b < 2; b++)
      for (let t = 0; t < 10; t++)
        shuffled.set((xs.data as Float32Array).subarray((b * 10 + (pi[t] as number)) * D, (b * 10 + (pi[t] as number) + 1) * D), (b * 10 + t) * D);
    const a = await run(g, { ...feeds, x: xs });
    const b = await run(g, { ...feeds, x: { ...xs, data: shuffled } });
    expectAllclose(b.logits?.data as Float32Array, a.logits?.data as Float32Array, { rtol: 0, atol: 1e-6, what: 'token order' });
    const few = await run(g, { ...feeds, x: randn([2, 3, D], 4) });
    expect(few.logits?.dims).toEqual([2, 5]);
  });
});
