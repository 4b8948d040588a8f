import { availableParallelism } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { Graph } from '../../src/graph/builder.js';
import { cachedSessionCount, compile, type Session, trainingSession } from '../../src/graph/runtime.js';
import { DTypeError, GraphError, ShapeError } from '../../src/tensor/errors.js';
import { type Tensor, tensor } from '../../src/tensor/tensor.js';
import { expectAllclose } from '../helpers/allclose.js';
import { transformerBlock } from '../helpers/graphs.js';

const ONE = { intraOpThreads: 1 } as const;
const f32 = (dims: number[], f: (i: number) => number = (i) => i) =>
  tensor(
    Float32Array.from({ length: dims.reduce((p, d) => p * d, 1) }, (_, i) => f(i)),
    dims,
  );

const open: Session[] = [];
async function compiled(g: Graph, opts = {}): Promise<Session> {
  const s = await compile(g, { ...ONE, ...opts });
  open.push(s);
  return s;
}
afterEach(() => {
  for (const s of open.splice(0)) s.dispose();
});

/** y = x·W + b and s = Σ x over a symbolic batch; `extra` is declared but unused. */
function affine(name = 'affine') {
  const g = new Graph(name);
  const x = g.input('x', 'float32', ['B', 3]);
  g.input('extra', 'float32', [5]);
  g.output('y', g.Add(g.MatMul(x, g.param('w', [3, 2])), g.param('b', [2])));
  g.output('s', g.ReduceSum(x, [1], false));
  return g;
}
const W = f32([3, 2], (i) => i - 2); // [[-2,-1],[0,1],[2,3]]
const Bias = f32([2], (i) => 10 * (i + 1));

describe('compile and run', () => {
  it('runs a graph and returns plain tensors for every output or a subset', async () => {
    const s = await compiled(affine());
    const out = await s.run({ x: f32([2, 3]), w: W, b: Bias });
    // rows [0,1,2] and [3,4,5] times W = [[-2,-1],[0,1],[2,3]]: [4, 7] and [4, 16], plus b = [10, 20]
    expect(out.y).toEqual({ type: 'float32', dims: [2, 2], data: new Float32Array([14, 27, 14, 36]) });
    expect(out.s?.data).toEqual(new Float32Array([3, 12]));
    expect(Object.keys(await s.run({ x: f32([1, 3]), w: W, b: Bias }, ['s']))).toEqual(['s']);
    await expect(s.run({ x: f32([1, 3]), w: W, b: Bias }, ['nope'])).rejects.toThrow(/Session.run: unknown output 'nope'; outputs are y, s/);
  });

  it('one symbolic batch serves B = 1 and B = 7, row by row the same', async () => {
    const c = transformerBlock(3);
    const s = await compiled(c.graph);
    const x7 = c.feeds(7).x as Tensor<'float32'>;
    const all = await s.run({ x: x7, ...c.params });
    expect(all.tokens?.dims).toEqual([35, 8]);
    expect(all.rms?.dims).toEqual([7, 5]);
    for (const b of [0, 6]) {
      const one = await s.run({ x: tensor(x7.data.slice(b * 40, b * 40 + 40), [1, 5, 8]), ...c.params });
      expect(one.tokens?.dims).toEqual([5, 8]);
      const rows = (all.tokens as Tensor<'float32'>).data.slice(b * 40, b * 40 + 40);
      expectAllclose(one.tokens?.data as Float32Array, rows, { rtol: 1e-5, atol: 1e-6 });
    }
  });

  it('resolves symbols at run time (zerosLike, Expand) for B = 1 and B = 7', async () => {
    const g = new Graph('sym');
    const x = g.input('x', 'float32', ['B', 4]);
    const row = g.param('row', [1, 4]);
    g.output('y', g.Add(g.Expand(row, ['B', 4]), g.zerosLike(x)));
    const s = await compiled(g);
    for (const b of [1, 7]) {
      const out = await s.run({ x: f32([b, 4]), row: f32([1, 4]) });
      expect(out.y?.dims).toEqual([b, 4]);
      expect(Array.from(out.y?.data as Float32Array)).toEqual(Array.from({ length: 4 * b }, (_, i) => i % 4));
    }
  });

  it('outputs may be the same value twice, a graph input, or a constant', async () => {
    const g = new Graph('outs');
    const x = g.input('x', 'float32', [2]);
    const y = g.Neg(x);
    g.output('a', y);
    g.output('b', y);
    g.output('c', x);
    g.output('d', g.constant(tensor(new Int32Array([7, 8]), [2])));
    g.output('e', g.scalar(3));
    const out = await (await compiled(g)).run({ x: f32([2], (i) => i + 1) });
    expect(Object.fromEntries(Object.entries(out).map(([k, t]) => [k, Array.from(t.data as Float32Array)]))).toEqual({
      a: [-1, -2],
      b: [-1, -2],
      c: [1, 2],
      d: [7, 8],
      e: [3],
    });
    expect(out.d?.type).toBe('int32');
  });

  it('baked initializers give the outputs of fed parameters, and their names are no longer inputs', async () => {
    const c = transformerBlock(5);
    const feeds = c.feeds(4);
    const fed = await (await compiled(c.graph)).run({ ...feeds, ...c.params });
    const bakedSession = await compiled(c.graph, { initializers: c.params });
    expect([...bakedSession.inputs.keys()]).toEqual(['x']);
    const baked = await bakedSession.run(feeds);
    for (const k of ['tokens', 'rms']) expectAllclose(baked[k]?.data as Float32Array, fed[k]?.data as Float32Array, { rtol: 1e-5, atol: 1e-6, what: k });
    await expect(bakedSession.run({ ...feeds, 'qkv.w': c.params['qkv.w'] as Tensor })).rejects.toThrow(/unknown input 'qkv.w'; inputs are x/);
  });

  it('refuses baked initializers of the wrong shape or dtype', async () => {
    await expect(compile(affine(), { ...ONE, initializers: { w: f32([2, 3]) } })).rejects.toThrow(
      new ShapeError('encode', "initializer 'w' must be [3,2], got [2,3]"),
    );
    await expect(compile(affine(), { ...ONE, initializers: { b: tensor(new Float64Array(2), [2]) } })).rejects.toThrow(DTypeError);
  });
});

describe('session cache', () => {
  it('the same graph compiled twice (even rebuilt) shares one ORT session; dispose releases it', async () => {
    const base = cachedSessionCount();
    const a = await compile(affine(), ONE);
    const [b, c] = await Promise.all([compile(affine(), ONE), compile(affine(), ONE)]);
    expect(cachedSessionCount()).toBe(base + 1);
    const other = await compile(affine(), { intraOpThreads: 2 });
    expect(cachedSessionCount()).toBe(base + 2);
    other.dispose();
    a.dispose();
    a.dispose(); // idempotent: must not release the handle b and c still hold
    b.dispose();
    expect(cachedSessionCount()).toBe(base + 1);
    expect((await c.run({ x: f32([1, 3]), w: W, b: Bias })).s?.data).toEqual(new Float32Array([3]));
    c.dispose();
    expect(cachedSessionCount()).toBe(base);
    await expect(c.run({ x: f32([1, 3]), w: W, b: Bias })).rejects.toThrow(new GraphError('Session.run', 'session was disposed'));
  });

  it('trainingSession asks for every core without spin-waiting; what the caller sets wins', () => {
    expect(trainingSession()).toEqual({ intraOpThreads: availableParallelism(), spinWait: false });
    expect(trainingSession({ intraOpThreads: 1, optimization: 'basic' })).toEqual({ intraOpThreads: 1, spinWait: false, optimization: 'basic' });
  });

  it('thread options (ORT defaults, spinning, 2 threads without) are separate sessions with the same results', async () => {
    const base = cachedSessionCount();
    const variants = [{}, { spinWait: true }, { intraOpThreads: 2, spinWait: false }] as const;
    const block = transformerBlock();
    const sessions = await Promise.all(variants.map((o) => compile(block.graph, o)));
    expect(cachedSessionCount()).toBe(base + 3);
    const feeds = { ...block.params, ...block.feeds(4) };
    const outs = await Promise.all(sessions.map((s) => s.run(feeds)));
    for (const o of outs.slice(1))
      for (const k of Object.keys(outs[0] ?? {})) expectAllclose(o[k]?.data as Float32Array, outs[0]?.[k]?.data as Float32Array, { rtol: 1e-5, atol: 1e-6 });
    for (const s of sessions) s.dispose();
    expect(cachedSessionCount()).toBe(base);
  });

  it('Symbol.dispose releases the session at the end of a `using` block', async () => {
    const base = cachedSessionCount();
    {
      using s = await compile(affine('scoped'), ONE);
      expect(cachedSessionCount()).toBe(base + 1);
      expect((await s.run({ x: f32([1, 3]), w: W, b: Bias })).y?.dims).toEqual([1, 2]);
    }
    expect(cachedSessionCount()).toBe(base);
  });

  it('a graph without outputs is refused before ORT', async () => {
    const g = new Graph('empty');
    g.input('x', 'float32', [1]);
    await expect(compile(g, ONE)).rejects.toThrow(new GraphError('encode', "graph 'empty' has no outputs"));
  });
});

describe('Session.run validates feeds before ORT', () => {
  const good = () => ({ x: f32([2, 3]), w: W, b: Bias });
  const two = () => {
    const g = new Graph('two');
    g.output('z', g.Add(g.input('p', 'float32', ['B', 2]), g.input('q', 'float32', ['B', 2])));
    return g;
  };

  it('wrong dims or rank → ShapeError naming the input, the declared and the given dims', async () => {
    const s = await compiled(affine());
    await expect(s.run({ ...good(), x: f32([2, 4]) })).rejects.toThrow(new ShapeError('Session.run', "input 'x' must be [B,3], got [2,4]"));
    await expect(s.run({ ...good(), w: f32([6]) })).rejects.toThrow(/input 'w' must be \[3,2\], got \[6\]/);
  });

  it('wrong dtype, or storage that does not match the dtype → DTypeError', async () => {
    const s = await compiled(affine());
    await expect(s.run({ ...good(), x: tensor(new Float64Array(6), [2, 3]) })).rejects.toThrow(
      new DTypeError('Session.run', "input 'x' must be float32, got float64"),
    );
    const lying = { type: 'float32', dims: [2, 3], data: new Float64Array(6) } as unknown as Tensor;
    await expect(s.run({ ...good(), x: lying })).rejects.toThrow(/input 'x' \(float32\) needs data in a Float32Array, got Float64Array/);
    await expect(s.run({ ...good(), x: { type: 'float32', dims: [2, 3] } as never })).rejects.toThrow(DTypeError);
  });

  it('missing and unknown inputs → GraphError listing what is expected', async () => {
    const s = await compiled(affine());
    await expect(s.run({ x: f32([2, 3]), w: W })).rejects.toThrow(new GraphError('Session.run', "missing input 'b' ([2] float32)"));
    await expect(s.run({ ...good(), wieght: W })).rejects.toThrow(new GraphError('Session.run', "unknown input 'wieght'; inputs are x, w, b"));
  });

  it('one symbol bound to two sizes → ShapeError naming both bindings', async () => {
    const s = await compiled(two());
    await expect(s.run({ p: f32([3, 2]), q: f32([4, 2]) })).rejects.toThrow(
      new ShapeError('Session.run', "input 'q' axis 0 is 'B' = 4, but another input bound 'B' = 3"),
    );
    expect((await s.run({ p: f32([4, 2]), q: f32([4, 2]) })).z?.dims).toEqual([4, 2]);
  });

  it('data length not matching dims → ShapeError', async () => {
    const s = await compiled(affine());
    const short = { type: 'float32', dims: [2, 3], data: new Float32Array(5) } as Tensor;
    await expect(s.run({ ...good(), x: short })).rejects.toThrow(new ShapeError('Session.run', "input 'x' has 5 elements, dims [2,3] need 6"));
  });

  it('unused graph inputs are accepted (any value) and ignored', async () => {
    const s = await compiled(affine());
    expect([...s.inputs.keys()]).toEqual(['x', 'w', 'b']);
    const without = await s.run(good());
    const withExtra = await s.run({ ...good(), extra: f32([1]) });
    expect(withExtra).toEqual(without);
  });
});

describe('resources', () => {
  it('memory stays flat over 2,000 runs and 100 compile/dispose cycles', async () => {
    const g = affine('mem');
    const s = await compiled(g);
    const feeds = { x: f32([16, 3]), w: W, b: Bias };
    for (let i = 0; i < 200; i++) await s.run(feeds);
    const base = cachedSessionCount();
    const rss0 = process.memoryUsage().rss;
    for (let i = 0; i < 2000; i++) await s.run(feeds);
    for (let i = 0; i < 100; i++) (await compile(affine(`m${i % 4}`), ONE)).dispose();
    expect(cachedSessionCount()).toBe(base);
    const growth = process.memoryUsage().rss - rss0;
    expect(growth).toBeLessThan(64 * 2 ** 20); // a leak of even 40 KB per run would exceed this
  });
});
