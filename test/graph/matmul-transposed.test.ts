import { describe, expect, it } from 'vitest';
import { backward } from '../../src/graph/backward.js';
import { Graph } from '../../src/graph/builder.js';
import { compile } from '../../src/graph/runtime.js';
import type { Value } from '../../src/graph/types.js';
import { Rng } from '../../src/tensor/rng.js';
import { type Tensor, tensor, toNumbers } from '../../src/tensor/tensor.js';
import { expectAllclose } from '../helpers/allclose.js';
import { SESSION } from './harness.js';

/**
 * MatMul with a transposed operand (attention's q·kᵀ) routes the gradient of the operand's source as
 * one product (gyᵀ·a, or b·gyᵀ) and the Transpose's VJP cancels the outer transpose. Checked against
 * the closed form on the host, float64, batched [2, 3, ·, ·], and for the broadcast case that must
 * keep the general rule.
 */

const rng = new Rng(7);
const f64 = (dims: number[]) => tensor(rng.fillNormal(new Float64Array(dims.reduce((p, d) => p * d, 1))), dims);

/** Host batched product: x [n, r, k] (row-major, or stored transposed when tx) · y [n, k, c] (or transposed when ty). */
function bmm(x: number[], y: number[], n: number, r: number, k: number, c: number, tx = false, ty = false): number[] {
  const out = new Array<number>(n * r * c).fill(0);
  for (let b = 0; b < n; b++)
    for (let i = 0; i < r; i++)
      for (let j = 0; j < c; j++) {
        let s = 0;
        for (let t = 0; t < k; t++) {
          const xv = x[b * r * k + (tx ? t * r + i : i * k + t)] as number;
          const yv = y[b * k * c + (ty ? j * k + t : t * c + j)] as number;
          s += xv * yv;
        }
        out[b * r * c + i * c + j] = s;
      }
  return out;
}

describe('MatMul VJP with a transposed operand', () => {
  it('gives both sources their closed-form gradients, the transposed one as a single MatMul', async () => {
    const [n, m, k, p] = [6, 4, 5, 7]; // batch 2·3 flattened on the host
    const g = new Graph('qk');
    const a = g.input('a', 'float64', [2, 3, m, k]);
    const b = g.input('b', 'float64', [2, 3, p, k]); // y = a·bᵀ  [2, 3, m, p]
    const c = g.input('c', 'float64', [2, 3, k, m]);
    const d = g.input('d', 'float64', [2, 3, k, p]); // z = cᵀ·d  [2, 3, m, p]
    const r = g.input('r', 'float64', [2, 3, m, p]);
    const s = g.input('s', 'float64', [2, 3, m, p]);
    const y = g.MatMul(a, g.Transpose(b, [0, 1, 3, 2]));
    const z = g.MatMul(g.Transpose(c, [0, 1, 3, 2]), d);
    const loss = g.Add(g.ReduceSum(g.Mul(y, r), [], false), g.ReduceSum(g.Mul(z, s), [], false));
    const grads = backward(g, loss, [a, b, c, d]) as Value[];
    // The transposed operands' sources get a MatMul straight from the product rule, no Transpose after it.
    for (const gv of [grads[1], grads[2]]) expect(gv?.source.kind === 'node' && gv.source.node.op).toBe('MatMul');
    for (const [i, gv] of grads.entries()) g.output(`g${i}`, gv);
    const feeds: Record<string, Tensor> = {
      a: f64([2, 3, m, k]),
      b: f64([2, 3, p, k]),
      c: f64([2, 3, k, m]),
      d: f64([2, 3, k, p]),
      r: f64([2, 3, m, p]),
      s: f64([2, 3, m, p]),
    };
    const h = Object.fromEntries(Object.entries(feeds).map(([key, t]) => [key, toNumbers(t)])) as Record<string, number[]>;
    using session = await compile(g, SESSION);
    const out = await session.run(feeds);
    const want = [
      bmm(h.r as number[], h.b as number[], n, m, p, k), // dA = R·B
      bmm(h.r as number[], h.a as number[], n, p, m, k, true), // dB = Rᵀ·A
      bmm(h.d as number[], h.s as number[], n, k, p, m, false, true), // dC = D·Sᵀ
      bmm(h.c as number[], h.s as number[], n, k, m, p), // dD = C·S
    ];
    for (const [i, w] of want.entries()) expectAllclose(toNumbers(out[`g${i}`] as Tensor), w, { rtol: 1e-12, atol: 1e-12, what: `g${i}` });
  });

  it('keeps the general rule when the transposed operand broadcasts over the batch', async () => {
    const g = new Graph('bcast');
    const a = g.input('a', 'float64', [3, 4, 5]);
    const w = g.input('w', 'float64', [2, 5]); // a·wᵀ: w is shared by the 3 batch entries
    const r = g.input('r', 'float64', [3, 4, 2]);
    const loss = g.ReduceSum(g.Mul(g.MatMul(a, g.Transpose(w, [1, 0])), r), [], false);
    const [gw] = backward(g, loss, [w]) as Value[];
    g.output('gw', gw as Value);
    const feeds = { a: f64([3, 4, 5]), w: f64([2, 5]), r: f64([3, 4, 2]) };
    using session = await compile(g, SESSION);
    const out = await session.run(feeds);
    // dW = Σ_batch Rᵀ·A, as one [2, 5] matrix.
    const per = bmm(toNumbers(feeds.r), toNumbers(feeds.a), 3, 2, 4, 5, true);
    const want = Array.from({ length: 10 }, (_, i) => (per[i] as number) + (per[10 + i] as number) + (per[20 + i] as number));
    expectAllclose(toNumbers(out.gw as Tensor), want, { rtol: 1e-12, atol: 1e-12 });
  });
});
