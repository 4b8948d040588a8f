import type { DType } from '../tensor/tensor.js';
import type { Graph } from './builder.js';
import { isStatic, shapesEqual, unbroadcastAxes } from './shape.js';
import type { Dim, OpAttrs, OpName, Reduction, Value } from './types.js';

type Ints = readonly number[];

/**
 * The typed, one-line form of every op (`g.Add(a, b)`), plus the helpers VJPs are written with
 * (`sumTo`, `zerosLike`). Each method is `apply` with the op's attributes spelled out.
 */
export abstract class OpMethods {
  abstract apply<K extends OpName>(op: K, inputs: readonly Value[], attrs: OpAttrs[K]): Value[];
  abstract scalar(value: number, dtype?: DType): Value;
  protected abstract get graph(): Graph;

  private one<K extends OpName>(op: K, inputs: readonly Value[], attrs: OpAttrs[K]): Value {
    return this.apply(op, inputs, attrs)[0] as Value;
  }

  // elementwise
  Neg = (x: Value) => this.one('Neg', [x], {});
  Abs = (x: Value) => this.one('Abs', [x], {});
  Sqrt = (x: Value) => this.one('Sqrt', [x], {});
  Exp = (x: Value) => this.one('Exp', [x], {});
  Log = (x: Value) => this.one('Log', [x], {});
  Tanh = (x: Value) => this.one('Tanh', [x], {});
  Sigmoid = (x: Value) => this.one('Sigmoid', [x], {});
  Relu = (x: Value) => this.one('Relu', [x], {});
  Erf = (x: Value) => this.one('Erf', [x], {});
  /** GELU, exact (`'none'`) or tanh-approximated; its gradient recomputes from x. */
  Gelu = (x: Value, approximate: 'tanh' | 'none' = 'none') => this.one('Gelu', [x], { approximate });
  Sign = (x: Value) => this.one('Sign', [x], {});
  Reciprocal = (x: Value) => this.one('Reciprocal', [x], {});
  /** x ** exponent, exponent a constant. */
  Pow = (x: Value, exponent: number) => this.one('Pow', [x], { exponent });
  Identity = (x: Value) => this.one('Identity', [x], {});
  /** Identity whose gradient is zero: nothing upstream learns through it. */
  StopGradient = (x: Value) => this.one('StopGradient', [x], {});
  Cast = (x: Value, to: DType) => this.one('Cast', [x], { to });
  Add = (a: Value, b: Value) => this.one('Add', [a, b], {});
  Sub = (a: Value, b: Value) => this.one('Sub', [a, b], {});
  Mul = (a: Value, b: Value) => this.one('Mul', [a, b], {});
  Div = (a: Value, b: Value) => this.one('Div', [a, b], {});
  Max = (a: Value, b: Value) => this.one('Max', [a, b], {});
  Min = (a: Value, b: Value) => this.one('Min', [a, b], {});
  Where = (cond: Value, a: Value, b: Value) => this.one('Where', [cond, a, b], {});
  Equal = (a: Value, b: Value) => this.one('Equal', [a, b], {});
  Greater = (a: Value, b: Value) => this.one('Greater', [a, b], {});
  Less = (a: Value, b: Value) => this.one('Less', [a, b], {});
  Not = (x: Value) => this.one('Not', [x], {});
  And = (a: Value, b: Value) => this.one('And', [a, b], {});

  // linear algebra
  MatMul = (a: Value, b: Value) => this.one('MatMul', [a, b], {});
  /** alpha·op(A)·op(B) + beta·C with op = transpose when the flag is set (A, B are 2-D). */
  Gemm = (a: Value, b: Value, c?: Value, o: Partial<OpAttrs['Gemm']> = {}) =>
    this.one('Gemm', c ? [a, b, c] : [a, b], {
      transA: o.transA ?? false,
      transB: o.transB ?? false,
      alpha: o.alpha ?? 1,
      beta: o.beta ?? 1,
    });

  // shape
  Transpose = (x: Value, perm: Ints) => this.one('Transpose', [x], { perm });
  /** ONNX semantics: 0 copies the input dim at that position, -1 is inferred; symbols allowed. */
  Reshape = (x: Value, shape: readonly Dim[]) => this.one('Reshape', [x], { shape });
  Flatten = (x: Value, axis = 1) => this.one('Flatten', [x], { axis });
  Unsqueeze = (x: Value, axes: Ints) => this.one('Unsqueeze', [x], { axes });
  Squeeze = (x: Value, axes: Ints) => this.one('Squeeze', [x], { axes });
  Concat = (xs: readonly Value[], axis: number) => this.one('Concat', xs, { axis });
  Slice = (x: Value, starts: Ints, ends: Ints, axes: Ints, steps?: Ints) => this.one('Slice', [x], { starts, ends, axes, steps: steps ?? starts.map(() => 1) });
  Split = (x: Value, sizes: Ints, axis: number) => this.apply('Split', [x], { axis, sizes });
  /** Broadcasts x to `shape` (numpy rules; a 1 in `shape` keeps x's dim). */
  Expand = (x: Value, shape: readonly Dim[]) => this.one('Expand', [x], { shape });
  /** Constant padding; pads = [begin_0, …, begin_n, end_0, …, end_n] as ONNX. */
  Pad = (x: Value, pads: Ints, value = 0) => this.one('Pad', [x], { pads, value });
  Shape = (x: Value) => this.one('Shape', [x], {});
  ConstantOfShape = (shape: readonly Dim[], value: number, dtype: DType) => this.one('ConstantOfShape', [], { shape, value, dtype });

  // indexing
  Gather = (x: Value, indices: Value, axis = 0) => this.one('Gather', [x, indices], { axis });
  GatherElements = (x: Value, indices: Value, axis: number) => this.one('GatherElements', [x, indices], { axis });
  ScatterElements = (data: Value, indices: Value, updates: Value, axis: number, reduction: Reduction = 'none') =>
    this.one('ScatterElements', [data, indices, updates], { axis, reduction });
  /** [values, indices] of the k largest (or smallest) along `axis`. */
  TopK = (x: Value, k: number, axis = -1, largest = true) => this.apply('TopK', [x], { k, axis, largest });
  /** TopK whose k is computed at run time (`k` int64 [1]); the selected axis gets the symbol `size`. */
  TopKDynamic = (x: Value, k: Value, size: string, axis = -1, largest = true) => this.apply('TopK', [x, k], { k: size, axis, largest });
  ArgMax = (x: Value, axis: number, keepdims = false) => this.one('ArgMax', [x], { axis, keepdims });

  // reductions
  ReduceSum = (x: Value, axes: Ints, keepdims = false) => this.one('ReduceSum', [x], { axes, keepdims });
  ReduceMean = (x: Value, axes: Ints, keepdims = false) => this.one('ReduceMean', [x], { axes, keepdims });
  ReduceMax = (x: Value, axes: Ints, keepdims = false) => this.one('ReduceMax', [x], { axes, keepdims });
  Softmax = (x: Value, axis = -1) => this.one('Softmax', [x], { axis });
  LogSoftmax = (x: Value, axis = -1) => this.one('LogSoftmax', [x], { axis });

  // normalisation
  /** Normalises over axes `axis..rank-1`; scale/bias have those trailing dims. */
  LayerNormalization = (x: Value, scale: Value, bias: Value, epsilon = 1e-5, axis = -1) => this.one('LayerNormalization', [x, scale, bias], { axis, epsilon });
  /**
   * Inference form (`training: false`): [y] from running mean/var. Training form: [y, batchMean,
   * batchVar] (biased variance) from the batch; the caller updates running statistics.
   */
  BatchNormalization = (x: Value, scale: Value, bias: Value, mean: Value, variance: Value, o: Partial<OpAttrs['BatchNormalization']> = {}) =>
    this.apply('BatchNormalization', [x, scale, bias, mean, variance], {
      epsilon: o.epsilon ?? 1e-5,
      training: o.training ?? false,
    });

  // convolution and pooling (2-D, NCHW)
  Conv = (x: Value, w: Value, b?: Value, o: Partial<OpAttrs['Conv']> = {}) =>
    this.one('Conv', b ? [x, w, b] : [x, w], {
      strides: o.strides ?? [1, 1],
      pads: o.pads ?? [0, 0, 0, 0],
      dilations: o.dilations ?? [1, 1],
      group: o.group ?? 1,
    });
  ConvTranspose = (x: Value, w: Value, b?: Value, o: Partial<OpAttrs['ConvTranspose']> = {}) =>
    this.one('ConvTranspose', b ? [x, w, b] : [x, w], {
      strides: o.strides ?? [1, 1],
      pads: o.pads ?? [0, 0, 0, 0],
      dilations: o.dilations ?? [1, 1],
      group: o.group ?? 1,
      outputPadding: o.outputPadding ?? [0, 0],
    });
  MaxPool = (x: Value, kernel: Ints, o: { strides?: Ints; pads?: Ints } = {}) =>
    this.one('MaxPool', [x], { kernel, strides: o.strides ?? kernel, pads: o.pads ?? [0, 0, 0, 0] });
  AveragePool = (x: Value, kernel: Ints, o: { strides?: Ints; pads?: Ints; countIncludePad?: boolean } = {}) =>
    this.one('AveragePool', [x], {
      kernel,
      strides: o.strides ?? kernel,
      pads: o.pads ?? [0, 0, 0, 0],
      countIncludePad: o.countIncludePad ?? false,
    });
  GlobalAveragePool = (x: Value) => this.one('GlobalAveragePool', [x], {});

  // helpers for gradients and composites

  /** Sums a broadcast gradient back down to `shape` (the un-broadcast). */
  sumTo(x: Value, shape: readonly Dim[]): Value {
    if (shapesEqual(x.shape, shape)) return x;
    const { axes, lead } = unbroadcastAxes(x.shape, shape);
    // Summing away a prefix of axes (bias and norm gradients: [B, N, D] → [D]) as ones[1, M]·x[M, rest]:
    // ONNX Runtime runs that GEMV about twice as fast as a ReduceSum over leading axes.
    const rest: readonly Dim[] = x.shape.slice(axes.length);
    const prefix = axes.length > 0 && axes.every((a, i) => a === i);
    if (prefix && isStatic(rest) && rest.length > 0 && x.shape.length >= 2) {
      const width = rest.reduce((p: number, d) => p * (d as number), 1);
      const flat = this.Reshape(x, [-1, width]);
      const ones = this.ConstantOfShape([1, flat.shape[0] as Dim], 1, x.dtype);
      return this.Reshape(this.MatMul(ones, flat), shape);
    }
    let y = axes.length > 0 ? this.ReduceSum(x, axes, true) : x;
    if (lead > 0)
      y = this.Squeeze(
        y,
        Array.from({ length: lead }, (_, i) => i),
      );
    return y;
  }

  /** Zeros with `like`'s dtype and shape (allocated at run time, not stored in the model). */
  zerosLike(like: Value): Value {
    return this.ConstantOfShape(like.shape, 0, like.dtype);
  }

  /** x * c for a scalar constant c of x's dtype. */
  scale(x: Value, c: number): Value {
    return this.Mul(x, this.scalar(c, x.dtype));
  }
}
