import { TO_END } from '../../src/graph/ops/slice-ops.js';
import { bool, f, i64, type OpCases, pos } from './case-kit.js';
import { atZero, B2, broadcasting, conv, reduceMaxTies, reduceVariants, softmax, ties, unary } from './op-variants.js';

/**
 * One small graph instance (or several, where the VJP branches) for every op in the table; the
 * gradient checks (vjp.test.ts, hvp.test.ts) loop over it. Shapes are tiny on purpose: every input
 * element costs two forward runs of finite differences. Non-differentiable ops say why.
 */

export const opCases: OpCases = {
  Neg: unary(),
  Abs: unary([atZero]),
  Sqrt: unary([], pos),
  Exp: unary(),
  Log: unary([], pos),
  Tanh: unary(),
  Sigmoid: unary(),
  Relu: unary([atZero]),
  Erf: unary([{ name: 'wide range', inputs: [f([2, 3], { range: [-2.5, 2.5] })], attrs: {} }]),
  Gelu: {
    variants: [
      { name: 'tanh', inputs: [f([2, 3], { range: [-3, 3] })], attrs: { approximate: 'tanh' } },
      { name: 'erf (float32: no float64 Erf kernel)', inputs: [f([2, 3], { range: [-3, 3], dtype: 'float32' })], attrs: { approximate: 'none' } },
    ],
  },
  Sign: { noGrad: 'piecewise constant: derivative 0 almost everywhere' },
  Reciprocal: unary([{ name: 'negative', inputs: [f([2, 3], { range: [-2, -0.5] })], attrs: {} }], pos),
  Pow: {
    variants: [
      { name: 'cube', inputs: [f([2, 3])], attrs: { exponent: 3 } },
      { name: 'square', inputs: [f([2, 3])], attrs: { exponent: 2 } },
      { name: 'sqrt', inputs: [pos([2, 3])], attrs: { exponent: 0.5 } },
      { name: 'negative fractional', inputs: [pos([2, 3])], attrs: { exponent: -1.5 } },
    ],
  },
  Identity: unary(),
  StopGradient: { noGrad: 'its purpose: no gradient flows upstream' },
  Cast: {
    variants: [
      { name: 'float32 to float64', inputs: [f([2, 3], { dtype: 'float32' })], attrs: { to: 'float64' } },
      { name: 'float64 to float64', inputs: [f([2, 3])], attrs: { to: 'float64' } },
      // float32 output: FD step must exceed its rounding.
      { name: 'float64 to float32', inputs: [f([2, 3])], attrs: { to: 'float32' }, tol: { eps: 1e-2, rtol: 1e-4 } },
    ],
  },
  Add: { variants: broadcasting() },
  Sub: { variants: broadcasting() },
  Mul: { variants: broadcasting() },
  Div: { variants: broadcasting(pos) },
  Max: { variants: [...broadcasting<'Max'>(), ties<'Max'>()] },
  Min: { variants: [...broadcasting<'Min'>(), ties<'Min'>()] },
  Where: {
    variants: [
      { name: 'constant condition', inputs: [bool([2, 3], [1, 0, 1, 1, 0, 0]), f([2, 3]), f([2, 3])], attrs: {} },
      { name: 'fed [2,1] condition, [3] branch', inputs: [bool([2, 1], [1, 0], true), f([3]), f([2, 3])], attrs: {} },
      { name: 'scalar branch', inputs: [bool([2, 3], [0, 1, 1, 0, 1, 0]), f([]), f([2, 3])], attrs: {} },
    ],
  },
  Equal: { noGrad: 'boolean output' },
  Greater: { noGrad: 'boolean output' },
  Less: { noGrad: 'boolean output' },
  Not: { noGrad: 'boolean input and output' },
  And: { noGrad: 'boolean input and output' },

  MatMul: {
    variants: [
      { name: '[3,4] x [4,5]', inputs: [f([3, 4]), f([4, 5])], attrs: {} },
      { name: 'batched [2,3,4] x [2,4,5]', inputs: [f([2, 3, 4]), f([2, 4, 5])], attrs: {} },
      { name: 'broadcast [2,1,3,4] x [3,4,5]', inputs: [f([2, 1, 3, 4]), f([3, 4, 5])], attrs: {} },
      { name: 'rank-2 weight [2,3,4] x [4,5]', inputs: [f([2, 3, 4]), f([4, 5])], attrs: {} },
      { name: 'rank-2 left [3,4] x [2,4,5]', inputs: [f([3, 4]), f([2, 4, 5])], attrs: {} },
      { name: 'rank-2 weight, symbolic batch', inputs: [f(['B', 3, 4]), f([4, 3])], attrs: {}, bind: B2 },
    ],
  },
  Gemm: {
    variants: [
      { name: 'A·B + C[4]', inputs: [f([2, 3]), f([3, 4]), f([4])], attrs: { transA: false, transB: false, alpha: 1, beta: 1 } },
      { name: 'A·Bᵀ + C[2,1]', inputs: [f([2, 3]), f([4, 3]), f([2, 1])], attrs: { transA: false, transB: true, alpha: 1, beta: 1 } },
      { name: 'Aᵀ·B, α β, C[2,4]', inputs: [f([3, 2]), f([3, 4]), f([2, 4])], attrs: { transA: true, transB: false, alpha: 0.5, beta: 2 } },
      { name: 'Aᵀ·Bᵀ + C[]', inputs: [f([3, 2]), f([4, 3]), f([])], attrs: { transA: true, transB: true, alpha: -1.5, beta: 0.75 } },
      { name: 'A·B, no C', inputs: [f([2, 3]), f([3, 4])], attrs: { transA: false, transB: false, alpha: 2, beta: 1 } },
    ],
  },

  Transpose: {
    variants: [
      { name: 'rank 3', inputs: [f([2, 3, 4])], attrs: { perm: [2, 0, 1] } },
      { name: 'symbolic batch', inputs: [f(['B', 3])], attrs: { perm: [1, 0] }, bind: B2 },
    ],
  },
  Reshape: {
    variants: [
      { name: '0 and -1', inputs: [f([2, 3, 4])], attrs: { shape: [0, -1] } },
      { name: 'split dims', inputs: [f([2, 6])], attrs: { shape: [3, 2, 2] } },
      { name: 'symbolic batch kept', inputs: [f(['B', 3, 4])], attrs: { shape: ['B', -1] }, bind: B2 },
      { name: 'symbolic batch merged', inputs: [f(['B', 3, 4])], attrs: { shape: [-1, 4] }, bind: B2 },
    ],
  },
  Flatten: {
    variants: [
      { name: 'axis 2', inputs: [f([2, 3, 4])], attrs: { axis: 2 } },
      { name: 'axis 0', inputs: [f([2, 3])], attrs: { axis: 0 } },
      { name: 'symbolic batch', inputs: [f(['B', 3, 2])], attrs: { axis: 1 }, bind: B2 },
    ],
  },
  Unsqueeze: { variants: [{ name: 'axes 0,-1', inputs: [f([2, 3])], attrs: { axes: [0, -1] } }] },
  Squeeze: { variants: [{ name: 'axes 1,-1', inputs: [f([2, 1, 3, 1])], attrs: { axes: [1, -1] } }] },
  Concat: {
    variants: [
      { name: '3 inputs, axis 1', inputs: [f([2, 1, 3]), f([2, 2, 3]), f([2, 3, 3])], attrs: { axis: 1 } },
      { name: 'axis -1', inputs: [f([2, 2]), f([2, 3])], attrs: { axis: -1 } },
      { name: 'symbolic last input', inputs: [f([2, 3]), f(['B', 3])], attrs: { axis: 0 }, bind: { B: 3 } },
    ],
  },
  Slice: {
    variants: [
      { name: 'negative starts and ends', inputs: [f([4, 5])], attrs: { starts: [1, -4], ends: [2, -2], axes: [0, 1], steps: [1, 1] } },
      { name: 'open end', inputs: [f([3, 5])], attrs: { starts: [-2], ends: [TO_END], axes: [1], steps: [1] } },
      { name: 'end beyond the axis', inputs: [f([3, 5])], attrs: { starts: [1], ends: [100], axes: [0], steps: [1] } },
      { name: 'symbolic axis, negative end', inputs: [f(['B', 3])], attrs: { starts: [1], ends: [-1], axes: [0], steps: [1] }, bind: { B: 4 } },
      { name: 'symbolic axis, open end', inputs: [f(['B', 3])], attrs: { starts: [1], ends: [TO_END], axes: [0], steps: [1] }, bind: { B: 3 } },
      { name: 'symbolic axis, index end (CLS token)', inputs: [f([2, 'N', 3])], attrs: { starts: [0], ends: [1], axes: [1], steps: [1] }, bind: { N: 4 } },
      {
        name: 'symbolic axis, index end, and padded axis',
        inputs: [f(['B', 5])],
        attrs: { starts: [1, 1], ends: [3, -1], axes: [0, 1], steps: [1, 1] },
        bind: { B: 4 },
      },
    ],
  },
  Split: {
    variants: [
      { name: 'sizes 1,2,3 on axis 1', inputs: [f([2, 6])], attrs: { axis: 1, sizes: [1, 2, 3] } },
      { name: 'outputs 0 and 2 used', inputs: [f([2, 6])], attrs: { axis: -1, sizes: [2, 2, 2] }, use: [0, 2] },
    ],
  },
  Expand: {
    variants: [
      { name: '[3,1] to [2,3,4]', inputs: [f([3, 1])], attrs: { shape: [2, 3, 4] } },
      { name: 'symbolic batch', inputs: [f(['B', 1, 4])], attrs: { shape: ['B', 3, 4] }, bind: B2 },
    ],
  },
  Pad: {
    variants: [
      { name: 'ends of axis 1', inputs: [f([2, 3])], attrs: { pads: [0, 0, 1, 2], value: 0 } },
      { name: 'both sides, value 1.5', inputs: [f([2, 3, 2])], attrs: { pads: [1, 0, 1, 0, 2, 1], value: 1.5 } },
      { name: 'symbolic batch', inputs: [f(['B', 3])], attrs: { pads: [0, 1, 0, 1], value: 0 }, bind: B2 },
    ],
  },
  Shape: { noGrad: 'integer output' },
  ConstantOfShape: { noGrad: 'no inputs' },

  Gather: {
    variants: [
      { name: '1-D indices with repeats', inputs: [f([4, 3]), i64([3], [2, 0, 2])], attrs: { axis: 0 } },
      { name: '2-D indices on axis 1', inputs: [f([2, 4, 3]), i64([2, 2], [3, 0, 1, 3])], attrs: { axis: 1 } },
      { name: 'negative fed indices', inputs: [f([3, 4]), i64([2], [-1, 0], true)], attrs: { axis: 1 } },
      { name: 'scalar index', inputs: [f([3, 4]), i64([], [1])], attrs: { axis: 0 } },
      { name: 'symbolic batch', inputs: [f(['B', 4]), i64([2], [1, 1])], attrs: { axis: 1 }, bind: B2 },
    ],
  },
  GatherElements: {
    variants: [
      { name: 'axis 0 with repeats', inputs: [f([3, 4]), i64([2, 4], [0, 2, 2, 1, 2, 2, 0, 1])], attrs: { axis: 0 } },
      { name: 'axis 1, longer index axis', inputs: [f([2, 3]), i64([2, 4], [0, 2, 2, 1, 1, 0, 0, 2], true)], attrs: { axis: 1 } },
    ],
  },
  ScatterElements: {
    variants: [
      { name: 'none, axis 0', inputs: [f([3, 4]), i64([2, 4], [1, 0, 2, 1, 0, 2, 1, 2]), f([2, 4])], attrs: { axis: 0, reduction: 'none' } },
      { name: 'none, axis 1', inputs: [f([2, 4]), i64([2, 2], [3, 0, 1, 2]), f([2, 2])], attrs: { axis: 1, reduction: 'none' } },
      { name: 'add with duplicates', inputs: [f([2, 3]), i64([2, 4], [0, 2, 2, 1, 1, 1, 0, 1]), f([2, 4])], attrs: { axis: 1, reduction: 'add' } },
    ],
  },
  TopK: {
    variants: [
      { name: 'largest, last axis', inputs: [f([3, 5])], attrs: { k: 2, axis: -1, largest: true } },
      { name: 'smallest, axis 0', inputs: [f([4, 3])], attrs: { k: 3, axis: 0, largest: false } },
      { name: 'k at run time (fed int64 [1])', inputs: [f([3, 5]), i64([1], [2], true)], attrs: { k: 'n', axis: -1, largest: true } },
    ],
  },
  ArgMax: { noGrad: 'integer output' },

  ReduceSum: { variants: reduceVariants },
  ReduceMean: { variants: reduceVariants },
  ReduceMax: { variants: [...reduceVariants, reduceMaxTies] },
  Softmax: { variants: softmax },
  LogSoftmax: { variants: softmax },

  LayerNormalization: {
    variants: [
      { name: 'last axis', inputs: [f([2, 3, 4]), f([4]), f([4])], attrs: { axis: -1, epsilon: 1e-5 } },
      { name: 'axis 1 (two dims)', inputs: [f([2, 3, 4]), f([3, 4]), f([3, 4])], attrs: { axis: 1, epsilon: 1e-3 } },
      { name: 'symbolic batch', inputs: [f(['B', 4]), f([4]), f([4])], attrs: { axis: -1, epsilon: 1e-5 }, bind: B2 },
    ],
  },
  BatchNormalization: {
    variants: [
      { name: 'inference', inputs: [f([2, 3, 2, 2]), f([3]), f([3]), f([3]), pos([3])], attrs: { epsilon: 1e-5, training: false } },
      { name: 'inference, symbolic batch', inputs: [f(['B', 3, 2]), f([3]), f([3]), f([3]), pos([3])], attrs: { epsilon: 1e-3, training: false }, bind: B2 },
      // Running statistics do not enter the training form: their gradient is zero.
      { name: 'training, all 3 outputs', inputs: [f([2, 3, 2, 2]), f([3]), f([3]), f([3]), pos([3])], attrs: { epsilon: 1e-5, training: true } },
      { name: 'training, y only', inputs: [f([2, 3, 2]), f([3]), f([3]), f([3]), pos([3])], attrs: { epsilon: 1e-5, training: true }, use: [0] },
      { name: 'training, statistics only', inputs: [f([4, 3]), f([3]), f([3]), f([3]), pos([3])], attrs: { epsilon: 1e-5, training: true }, use: [1, 2] },
    ],
  },

  Conv: {
    variants: [
      { name: 'bias', inputs: [f([1, 2, 5, 5]), f([3, 2, 3, 3]), f([3])], attrs: conv },
      { name: 'stride 2, asymmetric pads', inputs: [f([1, 2, 6, 6]), f([2, 2, 3, 3])], attrs: { ...conv, strides: [2, 2], pads: [1, 0, 1, 1] } },
      { name: 'dilation 2', inputs: [f([1, 2, 6, 6]), f([2, 2, 2, 2]), f([2])], attrs: { ...conv, dilations: [2, 2], pads: [0, 1, 1, 0] } },
      { name: 'groups 2', inputs: [f([1, 4, 4, 4]), f([4, 2, 3, 3]), f([4])], attrs: { ...conv, group: 2, pads: [1, 1, 1, 1] } },
      { name: 'depthwise, stride 2', inputs: [f([2, 3, 4, 4]), f([3, 1, 3, 3])], attrs: { ...conv, group: 3, strides: [2, 2], pads: [1, 1, 1, 1] } },
      { name: 'symbolic batch', inputs: [f(['B', 2, 4, 4]), f([2, 2, 2, 2]), f([2])], attrs: conv, bind: B2 },
    ],
  },
  ConvTranspose: {
    variants: [
      { name: 'bias', inputs: [f([1, 2, 3, 3]), f([2, 3, 2, 2]), f([3])], attrs: { ...conv, outputPadding: [0, 0] } },
      {
        name: 'stride 2, output padding',
        inputs: [f([1, 2, 3, 3]), f([2, 2, 3, 3])],
        attrs: { ...conv, strides: [2, 2], pads: [1, 1, 1, 1], outputPadding: [1, 1] },
      },
      {
        name: 'groups 2, stride 2',
        inputs: [f([1, 4, 3, 3]), f([4, 1, 3, 3]), f([2])],
        attrs: { ...conv, group: 2, strides: [2, 2], pads: [0, 1, 1, 0], outputPadding: [1, 0] },
      },
      { name: 'dilation 2', inputs: [f([1, 2, 3, 3]), f([2, 2, 2, 2])], attrs: { ...conv, dilations: [2, 2], outputPadding: [0, 0] } },
      {
        name: 'stride 2, dilation 2, output padding',
        inputs: [f([1, 1, 3, 3]), f([1, 2, 2, 2])],
        attrs: { ...conv, strides: [2, 2], dilations: [2, 2], outputPadding: [1, 0] },
      },
      { name: 'symbolic batch', inputs: [f(['B', 2, 3, 3]), f([2, 1, 2, 2])], attrs: { ...conv, outputPadding: [0, 0] }, bind: B2 },
    ],
  },
  MaxPool: {
    variants: [
      { name: 'overlapping 3x3 stride 2', inputs: [f([1, 2, 5, 5])], attrs: { kernel: [3, 3], strides: [2, 2], pads: [0, 0, 0, 0] } },
      { name: 'overlapping 2x2 stride 1', inputs: [f([2, 1, 4, 4])], attrs: { kernel: [2, 2], strides: [1, 1], pads: [0, 0, 0, 0] } },
      { name: 'pads', inputs: [f([1, 2, 4, 4])], attrs: { kernel: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] } },
      { name: 'symbolic batch', inputs: [f(['B', 2, 4, 4])], attrs: { kernel: [2, 2], strides: [2, 2], pads: [0, 0, 0, 0] }, bind: B2 },
    ],
  },
  AveragePool: {
    variants: [
      { name: 'overlapping 2x2 stride 1', inputs: [f([1, 2, 4, 4])], attrs: { kernel: [2, 2], strides: [1, 1], pads: [0, 0, 0, 0], countIncludePad: false } },
      {
        name: 'pads excluded from the count',
        inputs: [f([1, 2, 5, 5])],
        attrs: { kernel: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], countIncludePad: false },
      },
      { name: 'pads included in the count', inputs: [f([1, 2, 5, 5])], attrs: { kernel: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], countIncludePad: true } },
      { name: 'asymmetric pads and kernel', inputs: [f([1, 1, 4, 5])], attrs: { kernel: [2, 3], strides: [1, 2], pads: [0, 1, 1, 0], countIncludePad: false } },
      { name: 'symbolic batch', inputs: [f(['B', 2, 4, 4])], attrs: { kernel: [2, 2], strides: [2, 2], pads: [0, 0, 0, 0], countIncludePad: false }, bind: B2 },
    ],
  },
  GlobalAveragePool: {
    variants: [
      { name: 'float64 (as ReduceMean)', inputs: [f([2, 3, 2, 3])], attrs: {} },
      { name: 'float32 (ORT kernel)', inputs: [f([2, 3, 2, 3])], attrs: {}, dtype: 'float32' },
      { name: 'symbolic batch', inputs: [f(['B', 2, 3, 3])], attrs: {}, bind: B2 },
    ],
  },
};
