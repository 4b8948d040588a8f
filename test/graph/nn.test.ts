import { afterAll, describe, expect, it } from 'vitest';
import { Graph } from '../../src/graph/builder.js';
import { correctCount, gelu, layerNorm, linear, softmaxCrossEntropy } from '../../src/graph/nn.js';
import { compile, type Session } from '../../src/graph/runtime.js';
import { DTypeError, ShapeError, ValueError } from '../../src/tensor/errors.js';
import { Rng } from '../../src/tensor/rng.js';
import { type Tensor, tensor, toNumbers } from '../../src/tensor/tensor.js';
import { expectAllclose } from '../helpers/allclose.js';

const sessions: Session[] = [];
afterAll(() => {
  for (const s of sessions) s.dispose();
});
async function run(g: Graph, feeds: Record<string, Tensor>): Promise<Record<string, number[]>> {
  const s = await compile(g, { intraOpThreads: 1 });
  sessions.push(s);
  const out = await s.run(feeds);
  return Object.fromEntries(Object.entries(out).map(([k, t]) => [k, toNumbers(t)]));
}
const rng = new Rng(21);
const f64 = (dims: number[]) => tensor(rng.fillNormal(new Float64Array(dims.reduce((p, d) => p * d, 1))), dims);

/** Float64 reference: x [R, I] · wᵀ [I, O] + b. */
function affineRef(x: Tensor, w: Tensor, b: Tensor | null, rows: number, inDim: number, outDim: number): number[] {
  const [X, Wt, B] = [toNumbers(x), toNumbers(w), b ? toNumbers(b) : null];
  const out: number[] = [];
  for (let r = 0; r < rows; r++)
    for (let o = 0; o < outDim; o++) {
      let s = B ? (B[o] as number) : 0;
      for (let i = 0; i < inDim; i++) s += (X[r * inDim + i] as number) * (Wt[o * inDim + i] as number);
      out.push(s);
    }
  return out;
}

describe('linear', () => {
  it('matches x·Wᵀ + b for 2-D and 3-D inputs (one flattened Gemm), with and without bias', async () => {
    const g = new Graph('lin');
    const [x2, x3] = [g.input('x2', 'float64', ['B', 3]), g.input('x3', 'float64', ['B', 2, 3])];
    const [w, b] = [g.param('w', [4, 3], 'float64'), g.param('b', [4], 'float64')];
    g.output('y2', linear(g, x2, w, b));
    g.output('y3', linear(g, x3, w, b));
    g.output('n3', linear(g, x3, w));
    expect(g.nodes.map((n) => n.op)).toEqual(['Gemm', 'Reshape', 'Gemm', 'Reshape', 'Reshape', 'Gemm', 'Reshape']);
    expect(g.outputs.map((o) => o.value.shape)).toEqual([
      ['B', 4],
      ['B', 2, 4],
      ['B', 2, 4],
    ]);
    const feeds = { x2: f64([5, 3]), x3: f64([5, 2, 3]), w: f64([4, 3]), b: f64([4]) };
    const out = await run(g, feeds);
    expectAllclose(out.y2 as number[], affineRef(feeds.x2, feeds.w, feeds.b, 5, 3, 4), { rtol: 1e-12 });
    expectAllclose(out.y3 as number[], affineRef(feeds.x3, feeds.w, feeds.b, 10, 3, 4), { rtol: 1e-12 });
    expectAllclose(out.n3 as number[], affineRef(feeds.x3, feeds.w, null, 10, 3, 4), { rtol: 1e-12, atol: 1e-14 });
  });

  it('refuses a weight whose in-features do not match, naming the scope', () => {
    const g = new Graph();
    const x = g.input('x', 'float32', ['B', 3]);
    expect(() => g.scope('head', () => linear(g, x, g.param('w', [4, 5])))).toThrow(
      new ShapeError("linear 'head'", 'weight must be [out, 3], got [4,5] for x [B,3]'),
    );
    expect(() => linear(g, x, g.param('v', [3]))).toThrow(ShapeError);
  });
});

describe('layerNorm and gelu', () => {
  it('layerNorm normalises the last axis then applies weight and bias (float64 reference)', async () => {
    const g = new Graph('ln');
    const x = g.input('x', 'float64', [3, 6]);
    g.output('y', layerNorm(g, x, g.param('w', [6], 'float64'), g.param('b', [6], 'float64'), 1e-3));
    const feeds = { x: f64([3, 6]), w: f64([6]), b: f64([6]) };
    const [X, Wt, B] = [toNumbers(feeds.x), toNumbers(feeds.w), toNumbers(feeds.b)];
    const want: number[] = [];
    for (let r = 0; r < 3; r++) {
      const row = X.slice(6 * r, 6 * r + 6);
      const mu = row.reduce((s, v) => s + v, 0) / 6;
      const v = row.reduce((s, t) => s + (t - mu) ** 2, 0) / 6;
      row.forEach((t, i) => {
        // ONNX stores epsilon as a float32 attribute.
        want.push(((t - mu) / Math.sqrt(v + Math.fround(1e-3))) * (Wt[i] as number) + (B[i] as number));
      });
    }
    expectAllclose((await run(g, feeds)).y as number[], want, { rtol: 1e-10, atol: 1e-12 });
  });

  it('gelu tanh (float64) and erf (float32) match their formulas', async () => {
    const xs = [-4, -1.5, -0.5, 0, 0.3, 1, 2.5, 6];
    const g = new Graph('gelu');
    g.output('t', gelu(g, g.input('x64', 'float64', [8]), 'tanh'));
    g.output('e', gelu(g, g.input('x32', 'float32', [8]), 'erf'));
    const out = await run(g, { x64: tensor(new Float64Array(xs), [8]), x32: tensor(new Float32Array(xs), [8]) });
    const tanhRef = xs.map((x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3))));
    expectAllclose(out.t as number[], tanhRef, { rtol: 1e-12, atol: 1e-15 });
    // x·Φ(x) = ½x(1 + erf(x/√2)), from Python's math.erf (8 significant digits).
    const erfRef = [-0.00012668497, -0.1002108, -0.15426877, 0, 0.18537343, 0.84134475, 2.4844758, 6];
    expectAllclose(out.e as number[], erfRef, { rtol: 1e-5, atol: 2e-7 });
  });
});

describe('softmaxCrossEntropy and correctCount', () => {
  const logits = [2, 0, -1, 0.5, 0.5, 3, -2, 1, 0];
  const labels = [0, 2, 2];
  // Hand computation in float64: per-sample −log softmax at the label, and the mean over classes.
  const rows = [0, 1, 2].map((r) => logits.slice(3 * r, 3 * r + 3));
  const logp = rows.map((row) => {
    const lse = Math.log(row.reduce((s, v) => s + Math.exp(v), 0));
    return row.map((v) => v - lse);
  });
  const nll = logp.map((lp, r) => -(lp[labels[r] as number] as number));
  const smooth = logp.map((lp) => -lp.reduce((s, v) => s + v, 0) / 3);

  function graph(opts: Parameters<typeof softmaxCrossEntropy>[3]) {
    const g = new Graph('ce');
    const l = g.input('logits', 'float64', ['B', 3]);
    const y = g.input('labels', 'int64', ['B']);
    g.output('loss', softmaxCrossEntropy(g, l, y, opts));
    g.output('correct', correctCount(g, l, y));
    return g;
  }
  const feeds = { logits: tensor(new Float64Array(logits), [3, 3]), labels: tensor(BigInt64Array.from(labels, BigInt), [3]) };

  it('mean and per-sample losses, with and without label smoothing', async () => {
    const plain = await run(graph({}), feeds);
    expectAllclose(plain.loss as number[], [nll.reduce((s, v) => s + v, 0) / 3], { rtol: 1e-12 });
    expect(plain.correct).toEqual([2]); // argmax per row 0, 2, 1 against labels 0, 2, 2
    const none = await run(graph({ reduction: 'none', labelSmoothing: 0.1 }), feeds);
    expectAllclose(
      none.loss as number[],
      nll.map((v, r) => 0.9 * v + 0.1 * (smooth[r] as number)),
      { rtol: 1e-12 },
    );
  });

  it('refuses bad logits, labels and smoothing with typed errors', () => {
    const g = new Graph();
    const l = g.input('l', 'float32', ['B', 3]);
    const y = g.input('y', 'int64', ['B']);
    expect(() => softmaxCrossEntropy(g, g.input('l3', 'float32', ['B', 2, 3]), y)).toThrow(/softmaxCrossEntropy '': logits must be \[B, K\], got \[B,2,3\]/);
    expect(() => softmaxCrossEntropy(g, l, g.input('y2', 'int64', ['B', 1]))).toThrow(ShapeError);
    expect(() => softmaxCrossEntropy(g, l, g.input('y32', 'int32', ['B']))).toThrow(
      new DTypeError("softmaxCrossEntropy ''", 'labels must be [B] int64, got [B] int32'),
    );
    expect(() => softmaxCrossEntropy(g, l, y, { labelSmoothing: 1 })).toThrow(ValueError);
    expect(() => softmaxCrossEntropy(g, l, y, { labelSmoothing: -0.1 })).toThrow(/labelSmoothing must be in \[0, 1\), got -0.1/);
  });
});
