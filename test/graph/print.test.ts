import { describe, expect, it } from 'vitest';
import { backward } from '../../src/graph/backward.js';
import { Graph } from '../../src/graph/builder.js';
import { gelu, linear } from '../../src/graph/nn.js';
import { printGraph } from '../../src/graph/print.js';
import type { Value } from '../../src/graph/types.js';
import { tensor } from '../../src/tensor/tensor.js';

/** y = mean((relu(x·Wᵀ + b))²) over a symbolic batch, in scope 'head'. */
function smallForward() {
  const g = new Graph('mlp');
  const x = g.input('x', 'float32', ['B', 4]);
  const w = g.param('head.weight', [3, 4]);
  const b = g.param('head.bias', [3]);
  const h = g.scope('head', () => g.Relu(g.Add(g.MatMul(x, g.Transpose(w, [1, 0])), b)));
  const loss = g.ReduceMean(g.Mul(h, h), [], false);
  g.output('loss', loss);
  return { g, loss, w, b };
}

describe('printGraph', () => {
  it('prints a small forward graph: inputs, params, one line per node, outputs', () => {
    expect(printGraph(smallForward().g)).toMatchInlineSnapshot(`
      "graph mlp
        input %x:f32[B,4]
        param %head.weight:f32[3,4]
        param %head.bias:f32[3]
        %3:f32[4,3] = Transpose{perm=[1,0]} %head.weight
        %4:f32[B,3] = MatMul %x %3
        %5:f32[B,3] = Add %4 %head.bias
        %6:f32[B,3] = Relu %5
        %7:f32[B,3] = Mul %6 %6
        %8:f32[] = ReduceMean{axes=[], keepdims=false} %7
        output loss = %8"
    `);
  });

  it('prints the backward graph appended to it', () => {
    const { g, loss, w, b } = smallForward();
    const [gw, gb] = backward(g, loss, [w, b]);
    g.output('grad.head.weight', gw!);
    g.output('grad.head.bias', gb!);
    expect(printGraph(g)).toMatchInlineSnapshot(`
      "graph mlp
        input %x:f32[B,4]
        param %head.weight:f32[3,4]
        param %head.bias:f32[3]
        %3:f32[4,3] = Transpose{perm=[1,0]} %head.weight
        %4:f32[B,3] = MatMul %x %3
        %5:f32[B,3] = Add %4 %head.bias
        %6:f32[B,3] = Relu %5
        %7:f32[B,3] = Mul %6 %6
        %8:f32[] = ReduceMean{axes=[], keepdims=false} %7
        %10:f32[1,1] = Unsqueeze{axes=[0,1]} 1
        %11:f32[B,3] = Expand{shape=[B,3]} %10
        %12:f32[B,3] = ConstantOfShape{shape=[B,3], value=1, dtype=float32}
        %13:f32[1,1] = ReduceSum{axes=[0,1], keepdims=true} %12
        %14:f32[B,3] = Div %11 %13
        %15:f32[B,3] = Mul %14 %6
        %16:f32[B,3] = Mul %14 %6
        %17:f32[B,3] = Add %15 %16
        %19:bool[B,3] = Greater %5 0
        %20:f32[B,3] = Where %19 %17 0
        %21:f32[B,3] = Reshape{shape=[-1,3]} %20
        %22:f32[1,B] = ConstantOfShape{shape=[1,B], value=1, dtype=float32}
        %23:f32[1,3] = MatMul %22 %21
        %24:f32[3] = Reshape{shape=[3]} %23
        %25:f32[3,4] = Transpose{perm=[1,0]} %3
        %26:f32[B,4] = MatMul %20 %25
        %27:f32[3,B] = Transpose{perm=[1,0]} %20
        %28:f32[3,4] = MatMul %27 %x
        %29:f32[4,3] = Transpose{perm=[1,0]} %28
        output loss = %8
        output grad.head.weight = %28
        output grad.head.bias = %24"
    `);
  });

  it('shows non-scalar constants once, scalar constants inline, multi-output ops and other dtypes', () => {
    const g = new Graph('misc');
    const x = g.input('x', 'float64', [2, 5]);
    const c = g.constant(tensor(new Float64Array([1, 2, 3, 4, 5]), [5]));
    const [vals, idx] = g.TopK(g.Add(g.Mul(x, c), c), 2, 1) as [Value, Value];
    const mask = g.Greater(vals, g.scalar(0.5, 'float64'));
    g.output('idx', idx);
    g.output('mask', mask);
    g.output('same', x);
    g.output('table', g.constant(tensor(new Int32Array([7, 8, 9]), [3])));
    expect(printGraph(g)).toMatchInlineSnapshot(`
      "graph misc
        input %x:f64[2,5]
        %1:f64[5] = Constant
        %2:f64[2,5] = Mul %x %1
        %3:f64[2,5] = Add %2 %1
        %4:f64[2,2], %5:i64[2,2] = TopK{k=2, axis=1, largest=true} %3
        %7:bool[2,2] = Greater %4 0.5
        %8:i32[3] = Constant
        output idx = %5
        output mask = %7
        output same = %x
        output table = %8"
    `);
  });

  it('prints composites from nn (linear on 2-D uses Gemm; tanh GELU)', () => {
    const g = new Graph('lin');
    const x = g.input('x', 'float32', ['B', 2]);
    const y = gelu(g, linear(g, x, g.param('fc.weight', [2, 2]), g.param('fc.bias', [2])), 'tanh');
    g.output('y', y);
    const text = printGraph(g);
    expect(text).toContain('= Gemm{transA=false, transB=true, alpha=1, beta=1} %x %fc.weight %fc.bias');
    expect(text).toContain('= Gelu{approximate=tanh} %');
  });
});
