import type { Dim } from '../../src/graph/types.js';
import { f, type InputSpec, type OpCase, type Variant } from './case-kit.js';

/** Families of variants that several ops of the table share (op-cases.ts). */

export const conv = { strides: [1, 1], pads: [0, 0, 0, 0], dilations: [1, 1], group: 1 } as const;
export const B2 = { B: 2 } as const;

/** numpy broadcasting in both directions, rank changes and a symbolic batch dim. */
export function broadcasting<K extends 'Add' | 'Sub' | 'Mul' | 'Div' | 'Max' | 'Min'>(b: (shape: readonly Dim[]) => InputSpec = (s) => f(s)): Variant<K>[] {
  return [
    { name: '[2,3] with [2,3]', inputs: [f([2, 3]), b([2, 3])], attrs: {} },
    { name: '[2,3] with [3]', inputs: [f([2, 3]), b([3])], attrs: {} },
    { name: '[2,3] with [2,1]', inputs: [f([2, 3]), b([2, 1])], attrs: {} },
    { name: '[2,1] with [1,3]', inputs: [f([2, 1]), b([1, 3])], attrs: {} },
    { name: '[3] with [2,3]', inputs: [f([3]), b([2, 3])], attrs: {} },
    { name: '[B,3] with []', inputs: [f(['B', 3]), b([])], attrs: {}, bind: B2 },
  ];
}

/** Max/Min at ties: each side takes half of gy (torch.maximum/minimum); FD elsewhere. */
export function ties<K extends 'Max' | 'Min'>(): Variant<K> {
  const a = [1, 2, -0.5, 0.3, 1.2, -1];
  const b = [1, 0.5, -0.5, 0.9, 1.2, -2];
  return {
    name: 'ties take half each',
    inputs: [f([2, 3], { data: a }), f([2, 3], { data: b })],
    attrs: {},
    kinks: ([x = [], y = []], [r = []]) => [
      x.map((v, i) => (v === y[i] ? 0.5 * (r[i] as number) : null)),
      y.map((v, i) => (v === x[i] ? 0.5 * (r[i] as number) : null)),
    ],
  };
}

/** Relu/Abs at exactly 0: subgradient 0, as PyTorch. */
export const atZero = {
  name: 'at exactly 0: subgradient 0',
  inputs: [f([2, 3], { data: [-1, 0, 0.5, 0, 2, -0.3] })],
  attrs: {},
  kinks: ([x = []]) => [x.map((v) => (v === 0 ? 0 : null))],
} satisfies Variant<'Relu'>;

export type Plain = 'Neg' | 'Abs' | 'Sqrt' | 'Exp' | 'Log' | 'Tanh' | 'Sigmoid' | 'Relu' | 'Erf' | 'Reciprocal' | 'Identity';

export function unary<K extends Plain>(extra: readonly Variant<K>[] = [], spec = f): OpCase<K> {
  return { variants: [{ name: '[2,3]', inputs: [spec([2, 3])], attrs: {} }, ...extra] };
}

export const reduceVariants = [
  { name: 'axis 1', inputs: [f([2, 3, 4])], attrs: { axes: [1], keepdims: false } },
  { name: 'axes 0,-1 keepdims', inputs: [f([2, 3, 4])], attrs: { axes: [0, -1], keepdims: true } },
  { name: 'all axes', inputs: [f([2, 3])], attrs: { axes: [], keepdims: false } },
  { name: 'symbolic batch axis', inputs: [f(['B', 3])], attrs: { axes: [0], keepdims: false }, bind: B2 },
] satisfies Variant<'ReduceSum'>[];

/** ReduceMax ties: the row's gradient is shared equally by its maxima (torch.amax); FD gives r/2. */
export const reduceMaxTies: Variant<'ReduceMax'> = {
  name: 'ties share equally',
  inputs: [f([2, 4], { data: [1, 3, 3, 0, 2, 2, -1, 2] })],
  attrs: { axes: [1], keepdims: false },
  kinks: ([x = []], [r = []]) => {
    const row = (i: number) => Math.floor(i / 4);
    const rows = [x.slice(0, 4), x.slice(4)];
    const max = rows.map((xs) => Math.max(...xs));
    const count = rows.map((xs, k) => xs.filter((v) => v === max[k]).length);
    return [x.map((v, i) => (v === max[row(i)] ? (r[row(i)] as number) / (count[row(i)] as number) : null))];
  },
};

export const softmax = [
  { name: 'last axis', inputs: [f([2, 3, 4])], attrs: { axis: -1 } },
  { name: 'axis 1', inputs: [f([2, 3, 4])], attrs: { axis: 1 } },
  { name: 'axis 0, symbolic batch', inputs: [f(['B', 3])], attrs: { axis: 0 }, bind: B2 },
] satisfies Variant<'Softmax'>[];
