import { describe, expect, it } from 'vitest';
import { Graph, valueName } from '../../src/graph/builder.js';
import { cachedSessionCount, compile } from '../../src/graph/runtime.js';
import type { Dim, Value } from '../../src/graph/types.js';
import { DTypeError, GraphError, ShapeError } from '../../src/tensor/errors.js';
import { tensor } from '../../src/tensor/tensor.js';

const TO_END = Number.MAX_SAFE_INTEGER;

describe('shape inference', () => {
  it('types an attention block with a symbolic batch, op by op', () => {
    const g = new Graph('attn');
    const x = g.input('x', 'float32', ['B', 50, 96]);
    const qkv = g.MatMul(x, g.param('qkv.weight', [96, 288]));
    expect(qkv.shape).toEqual(['B', 50, 288]);
    const heads = g.Transpose(g.Reshape(qkv, [0, 0, 3, 3, 32]), [2, 0, 3, 1, 4]);
    expect(heads.shape).toEqual([3, 'B', 3, 50, 32]);
    const [q, k, v] = g.Split(heads, [1, 1, 1], 0).map((t) => g.Squeeze(t, [0])) as [Value, Value, Value];
    expect(q.shape).toEqual(['B', 3, 50, 32]);
    const att = g.Softmax(g.MatMul(q, g.Transpose(k, [0, 1, 3, 2])), -1);
    expect(att.shape).toEqual(['B', 3, 50, 50]);
    const y = g.Reshape(g.Transpose(g.MatMul(att, v), [0, 2, 1, 3]), [0, 0, 96]);
    expect(y.shape).toEqual(['B', 50, 96]);
    expect(y.dtype).toBe('float32');
    expect(g.symbols.get('B')).toEqual({ value: x, axis: 0 });
  });

  it.each<[string, Dim[], Dim[], Dim[]]>([
    ['-1 cancels shared dims into a product symbol', ['B', 50, 96], [-1, 96], ['(B*50)', 96]],
    ['0 copies the input dim', ['B', 50, 96], [0, 50, 3, 32], ['B', 50, 3, 32]],
    ['0 and -1 together', ['B', 50, 96], [0, -1], ['B', 4800]],
    ['-1 recovers a lone symbol', ['B', 50, 96], [-1, 50, 96], ['B', 50, 96]],
    ['product symbol back to its factors', ['(B*50)', 96], ['B', 50, 96], ['B', 50, 96]],
    ['static -1', [2, 3, 4], [4, -1], [4, 6]],
    ['static to 1-D', [2, 3, 4], [-1], [24]],
  ])('Reshape: %s', (_, from, to, want) => {
    const g = new Graph();
    expect(g.Reshape(g.input('x', 'float32', from), to).shape).toEqual(want);
  });

  it('Reshape refuses a static element count mismatch, two -1s and a 0 past the rank', () => {
    const g = new Graph();
    const s = g.input('s', 'float32', [2, 3]);
    expect(() => g.Reshape(s, [4, 2])).toThrow(new ShapeError('Reshape', 'cannot reshape [2,3] (6 elements) to [4,2] (inputs: [2,3] float32)'));
    expect(() => g.Reshape(s, [-1, -1])).toThrow(/Reshape: at most one -1 allowed, got \[-1,-1\]/);
    expect(() => g.Reshape(s, [6, 1, 0])).toThrow(/0 at position 2 copies a dim the input \[2,3\] lacks/);
  });

  it.each<[Dim[], Dim[], Dim[]]>([
    [
      ['B', 1, 96],
      [50, 1],
      ['B', 50, 96],
    ],
    [
      [3, 1],
      [1, 4],
      [3, 4],
    ],
    [[], [2, 3], [2, 3]],
    [
      ['B', 3],
      ['B', 3],
      ['B', 3],
    ],
    [
      ['B', 3],
      [1, 3],
      ['B', 3],
    ],
  ])('broadcasts %j with %j to %j', (a, b, want) => {
    const g = new Graph();
    expect(g.Add(g.input('a', 'float32', a), g.input('b', 'float32', b)).shape).toEqual(want);
    expect(g.Where(g.input('c', 'bool', [1]), g.input('a2', 'float32', a), g.input('b2', 'float32', b)).shape).toEqual(want);
  });

  it('refuses shapes that do not broadcast, and two different symbols', () => {
    const g = new Graph();
    const [a, b] = [g.input('a', 'float32', [3]), g.input('b', 'float32', [4])];
    expect(() => g.Mul(a, b)).toThrow(new ShapeError('Mul', 'shapes [3] and [4] do not broadcast (axis 0) (inputs: [3] float32, [4] float32)'));
    expect(() => g.Add(g.input('p', 'float32', ['B']), g.input('q', 'float32', ['C']))).toThrow(ShapeError);
  });

  it('types the shape, indexing, reduction and window ops', () => {
    const g = new Graph();
    const h = g.input('h', 'float32', ['B', 50, 96]);
    const idx = g.input('idx', 'int64', [5]);
    expect(g.Flatten(h, 1).shape).toEqual(['B', 4800]);
    expect(g.Flatten(h, 2).shape).toEqual(['(B*50)', 96]);
    expect(g.Concat([h, g.input('h2', 'float32', ['B', 2, 96])], 1).shape).toEqual(['B', 52, 96]);
    expect(g.Concat([h, h], 0).shape).toEqual(['(B+B)', 50, 96]);
    expect(g.Slice(h, [1, 0], [-1, TO_END], [1, 2], [1, 2]).shape).toEqual(['B', 48, 48]);
    // A symbol plus a constant (Concat of [n] and [c]) trimmed by at most c stays exact.
    const grown = g.Concat([g.input('hn', 'float32', ['B', 'n', 4]), g.input('h2n', 'float32', ['B', 2, 4])], 1);
    expect(grown.shape).toEqual(['B', '(n+2)', 4]);
    expect(g.Slice(grown, [0], [-2], [1]).shape).toEqual(['B', 'n', 4]);
    expect(g.Slice(grown, [0], [-1], [1]).shape).toEqual(['B', '(n+1)', 4]);
    expect(g.Slice(grown, [-2], [TO_END], [1]).shape).toEqual(['B', 2, 4]);
    expect(g.Slice(grown, [0], [-3], [1]).shape).toEqual(['B', '(n+2)[0:-3:1]', 4]); // n may be 0: no claim
    expect(g.Split(h, [32, 64], -1).map((v) => v.shape)).toEqual([
      ['B', 50, 32],
      ['B', 50, 64],
    ]);
    expect(g.Pad(h, [0, 1, 0, 0, 2, 3]).shape).toEqual(['B', 53, 99]);
    expect(g.Gather(h, idx, 1).shape).toEqual(['B', 5, 96]);
    expect(g.TopK(h, 4).map((v) => `${v.dtype}${JSON.stringify(v.shape)}`)).toEqual(['float32["B",50,4]', 'int64["B",50,4]']);
    expect(g.ReduceMean(h, [-1], true).shape).toEqual(['B', 50, 1]);
    expect(g.ReduceSum(h, [], false).shape).toEqual([]);
    expect(g.ArgMax(h, 2).shape).toEqual(['B', 50]);
    expect(g.Unsqueeze(h, [0, -1]).shape).toEqual([1, 'B', 50, 96, 1]);
    expect(g.Expand(g.input('one', 'float32', [1, 96]), ['B', 50, 96]).shape).toEqual(['B', 50, 96]);
    const img = g.input('img', 'float32', ['B', 1, 28, 28]);
    const c = g.Conv(img, g.param('conv.w', [8, 1, 4, 4]), g.param('conv.b', [8]), { strides: [4, 4] });
    expect(c.shape).toEqual(['B', 8, 7, 7]);
    expect(g.MaxPool(c, [2, 2]).shape).toEqual(['B', 8, 3, 3]);
    expect(g.Gemm(g.input('m', 'float32', ['B', 4]), g.param('lin.w', [3, 4]), g.param('lin.b', [3]), { transB: true }).shape).toEqual(['B', 3]);
  });
});

describe('typed errors at build time', () => {
  it('a mismatched MatMul throws ShapeError naming the op, the scope and both shapes — before ORT', async () => {
    const before = cachedSessionCount();
    const build = async () => {
      const g = new Graph('vit');
      const x = g.input('x', 'float32', [1, 197, 192]);
      const w = g.param('blocks.0.attn.qkv.weight', [576, 192]);
      g.output(
        'y',
        g.scope('blocks.0.attn', () => g.MatMul(x, w)),
      );
      return compile(g, { intraOpThreads: 1 });
    };
    const err = await build().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ShapeError);
    expect(err).toBeInstanceOf(RangeError);
    expect((err as ShapeError).where).toBe("MatMul 'blocks.0.attn'");
    expect((err as Error).message).toBe(
      "MatMul 'blocks.0.attn': [1,197,192] x [576,192]: inner dims 192 vs 576 (inputs: [1,197,192] float32, [576,192] float32)",
    );
    expect(cachedSessionCount()).toBe(before);
  });

  it('scopes nest, are recorded on nodes, and are restored after a throw', () => {
    const g = new Graph();
    const x = g.input('x', 'float32', [2, 3]);
    const y = g.scope('blocks', () => g.scope('0', () => g.scope('mlp', () => g.Relu(x))));
    expect(y.source.kind === 'node' && y.source.node.scope).toBe('blocks.0.mlp');
    expect(() => g.scope('bad', () => g.MatMul(x, x))).toThrow(/^MatMul 'bad': /);
    expect(g.scopePath).toBe('');
    expect(() => g.MatMul(x, x)).toThrow(/^MatMul: \[2,3\] x \[2,3\]: inner dims 3 vs 2/);
  });

  it('dtype mismatches throw DTypeError naming the op and both dtypes', () => {
    const g = new Graph();
    const a = g.input('a', 'float32', [2]);
    const b = g.input('b', 'float64', [2]);
    expect(() => g.Add(a, b)).toThrow(new DTypeError('Add', 'inputs must share a dtype, got float32 and float64 (inputs: [2] float32, [2] float64)'));
    expect(() => g.scope('s', () => g.Where(a, a, a))).toThrow(/^Where 's': condition must be bool, got float32/);
    const i = g.input('i', 'int32', [2, 2]);
    expect(() => g.MatMul(i, i)).toThrow(DTypeError);
    expect(() => g.Gather(a, a, 0)).toThrow(/Gather: indices must be int32 or int64, got float32/);
    const img = g.input('img', 'float64', [1, 1, 4, 4]);
    expect(() => g.Conv(img, g.param('w', [1, 1, 3, 3], 'float64'))).toThrow(/Conv: input must be float32, got float64/);
    expect(() => g.Softmax(g.input('n', 'int64', [3]))).toThrow(DTypeError);
  });

  it('leaf declarations validate dims and dtype, naming the leaf', () => {
    const g = new Graph();
    expect(() => g.input('x', 'float32', [2, -1])).toThrow(new ShapeError('Graph.input', "'x': dims must be sizes >= 0 or symbol names, got [2,-1]"));
    expect(() => g.param('w', [1.5])).toThrow(ShapeError);
    expect(() => g.input('e', 'float32', [''])).toThrow(ShapeError);
    expect(() => g.param('h', [2], 'float16' as never)).toThrow(/Graph.param: 'h': unknown dtype float16/);
    // A refused declaration does not reserve its name.
    expect(g.input('x', 'float32', [2, 1]).shape).toEqual([2, 1]);
    expect(g.param('h', [2]).dtype).toBe('float32');
  });
});

describe('graph bookkeeping', () => {
  it('refuses malformed and duplicate names with GraphError', () => {
    const g = new Graph('g');
    const x = g.input('x', 'float32', [1]);
    for (const bad of ['', '1x', 'a b', 'x"y']) expect(() => g.input(bad, 'float32', [1])).toThrow(GraphError);
    expect(() => g.input('1x', 'float32', [1])).toThrow(/^Graph.input: name must match .* got "1x"$/);
    expect(() => g.param('x', [1])).toThrow(new GraphError('Graph.param', "name 'x' is already used in this graph"));
    g.output('y', g.Neg(x));
    expect(() => g.output('y', x)).toThrow(/Graph.output: name 'y' is already used/);
    expect(() => g.output('x', x)).toThrow(GraphError);
    expect(g.inputs.map(valueName)).toEqual(['x']);
  });

  it('refuses values from another graph, non-values and a wrong arity', () => {
    const g = new Graph('main');
    const other = new Graph('other');
    const x = other.input('x', 'float32', [2]);
    expect(() => g.Relu(x)).toThrow(new GraphError('Relu', "value %0 belongs to graph 'other', not 'main'"));
    expect(() => g.output('y', x)).toThrow(GraphError);
    expect(g.output('y', g.input('x', 'float32', [2])).shape).toEqual([2]); // 'y' was not reserved
    expect(() => g.scope('s', () => g.Neg({} as Value))).toThrow(/^Neg 's': expected a graph Value/);
    const z = g.input('z', 'float32', [2]);
    expect(() => g.apply('Add', [z], {})).toThrow(new GraphError('Add', 'expects 2 inputs, got 1'));
    expect(() => g.apply('Conv', [z], {} as never)).toThrow(/Conv: expects 2..3 inputs, got 1/);
  });

  it('keeps nodes in creation order, shares scalar constants, records the first site of a symbol', () => {
    const g = new Graph();
    const x = g.input('x', 'float32', [3, 'N']);
    g.input('z', 'float32', ['M', 'N']);
    const a = g.scale(x, 2);
    const b = g.Add(a, g.scalar(2));
    expect(g.nodes.map((n) => `${n.id}:${n.op}`)).toEqual(['0:Mul', '1:Add']);
    expect(g.scalar(2)).toBe(g.scalar(2));
    expect(g.scalar(2, 'float64')).not.toBe(g.scalar(2));
    expect(g.scalar(-0)).not.toBe(g.scalar(0));
    expect(b.source.kind === 'node' && b.source.node.inputs[0]).toBe(a);
    expect(g.symbols.get('N')?.value).toBe(x);
    expect(g.symbols.get('M')?.axis).toBe(0);
    const c = g.constant(tensor(new Int32Array([1, 2]), [2]));
    expect([c.dtype, c.shape]).toEqual(['int32', [2]]);
  });
});
