import type { DType, Tensor } from '../tensor/tensor.js';
import type { Graph } from './builder.js';

/** A dimension: a size, or a symbol such as `'B'` bound when the graph runs. */
export type Dim = number | string;

/** What the shape rules see of a value: element type and (possibly symbolic) dims. */
export interface TypeInfo {
  readonly dtype: DType;
  readonly shape: readonly Dim[];
}

/** How a leaf value enters the graph. */
export type Source =
  | { readonly kind: 'input'; readonly name: string }
  | { readonly kind: 'param'; readonly name: string }
  | { readonly kind: 'constant'; readonly tensor: Tensor }
  | { readonly kind: 'node'; readonly node: Node; readonly index: number };

/** A typed value of one graph; produced by `input`, `param`, `constant` or an op. */
export interface Value extends TypeInfo {
  readonly id: number;
  readonly graph: Graph;
  readonly source: Source;
}

type Ints = readonly number[];
export type Reduction = 'none' | 'add';

/**
 * Attributes of every op, keyed by op name. This interface *is* the list of ops: the op table is
 * `{ [K in OpName]: OpRule<K> }`, so an op added here without a rule (or a VJP) does not compile.
 */
export interface OpAttrs {
  // elementwise, unary
  Neg: object;
  Abs: object;
  Sqrt: object;
  Exp: object;
  Log: object;
  Tanh: object;
  Sigmoid: object;
  Relu: object;
  Erf: object;
  /** GELU: exact (`'none'`, via erf) or PyTorch's tanh approximation. */
  Gelu: { readonly approximate: 'tanh' | 'none' };
  Sign: object;
  Reciprocal: object;
  Pow: { readonly exponent: number };
  Identity: object;
  StopGradient: object;
  Cast: { readonly to: DType };
  // elementwise, binary (numpy broadcasting)
  Add: object;
  Sub: object;
  Mul: object;
  Div: object;
  Max: object;
  Min: object;
  Where: object;
  Equal: object;
  Greater: object;
  Less: object;
  Not: object;
  And: object;
  // linear algebra
  MatMul: object;
  Gemm: { readonly transA: boolean; readonly transB: boolean; readonly alpha: number; readonly beta: number };
  // shape
  Transpose: { readonly perm: Ints };
  Reshape: { readonly shape: readonly Dim[] };
  Flatten: { readonly axis: number };
  Unsqueeze: { readonly axes: Ints };
  Squeeze: { readonly axes: Ints };
  Concat: { readonly axis: number };
  Slice: { readonly starts: Ints; readonly ends: Ints; readonly axes: Ints; readonly steps: Ints };
  Split: { readonly axis: number; readonly sizes: Ints };
  Expand: { readonly shape: readonly Dim[] };
  Pad: { readonly pads: Ints; readonly value: number };
  Shape: object;
  ConstantOfShape: { readonly shape: readonly Dim[]; readonly value: number; readonly dtype: DType };
  // indexing
  Gather: { readonly axis: number };
  GatherElements: { readonly axis: number };
  ScatterElements: { readonly axis: number; readonly reduction: Reduction };
  /** k static, or a symbol naming the output size when k comes at run time as an int64 [1] second input. */
  TopK: { readonly k: number | string; readonly axis: number; readonly largest: boolean };
  ArgMax: { readonly axis: number; readonly keepdims: boolean };
  // reductions
  ReduceSum: { readonly axes: Ints; readonly keepdims: boolean };
  ReduceMean: { readonly axes: Ints; readonly keepdims: boolean };
  ReduceMax: { readonly axes: Ints; readonly keepdims: boolean };
  Softmax: { readonly axis: number };
  LogSoftmax: { readonly axis: number };
  // normalisation
  LayerNormalization: { readonly axis: number; readonly epsilon: number };
  BatchNormalization: { readonly epsilon: number; readonly training: boolean };
  // convolution and pooling (2-D, NCHW; pads = [top, left, bottom, right] as ONNX)
  Conv: { readonly strides: Ints; readonly pads: Ints; readonly dilations: Ints; readonly group: number };
  ConvTranspose: {
    readonly strides: Ints;
    readonly pads: Ints;
    readonly dilations: Ints;
    readonly group: number;
    readonly outputPadding: Ints;
  };
  MaxPool: { readonly kernel: Ints; readonly strides: Ints; readonly pads: Ints };
  AveragePool: { readonly kernel: Ints; readonly strides: Ints; readonly pads: Ints; readonly countIncludePad: boolean };
  GlobalAveragePool: object;
}

export type OpName = keyof OpAttrs;

/** One node of the graph: an op applied to values, with its outputs. */
export interface Node<K extends OpName = OpName> {
  readonly id: number;
  readonly op: K;
  readonly inputs: readonly Value[];
  readonly attrs: OpAttrs[K];
  readonly outputs: readonly Value[];
  /** Scope path when the node was made (`blocks.0.attn`), for messages and profiles. */
  readonly scope: string;
}

/** ONNX attribute values, tagged so ints and floats never blur. */
export type AttrValue =
  | { readonly int: number }
  | { readonly float: number }
  | { readonly ints: Ints }
  | { readonly floats: readonly number[] }
  | { readonly str: string }
  | { readonly tensor: Tensor };

/** What an op's `emit` may do: add ONNX nodes and constants; names are plain strings. */
export interface EmitCtx {
  node(opType: string, inputs: readonly string[], outputs: readonly string[], attrs?: Record<string, AttrValue>): void;
  /** Adds an initializer and returns its name. */
  constant(t: Tensor): string;
  /** A fresh intermediate name. */
  temp(): string;
  /**
   * An int64 shape tensor for `target`, resolving symbolic dims: for `'reshape'` a symbol at the same
   * position of `like` becomes 0 (copy) and one remaining symbol becomes -1; for `'expand'` a symbol
   * that `like` has at the same right-aligned position becomes 1; any other symbol is read at run
   * time from the graph input that introduced it (Shape → Gather → Concat).
   */
  shape(target: readonly Dim[], mode: 'reshape' | 'expand' | 'exact', like?: { name: string; shape: readonly Dim[] }): string;
}

export interface EmitArgs<K extends OpName> {
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attrs: OpAttrs[K];
  readonly inputTypes: readonly TypeInfo[];
  readonly outputTypes: readonly TypeInfo[];
}

/** A decoded ONNX node, as the op table's `decode` sees it. */
export interface DecodeView {
  readonly opType: string;
  readonly name: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  /** Attribute by name, or undefined. */
  attr(name: string): AttrValue | undefined;
  /** The value of input `i` if it is a constant (initializer or Constant node), else undefined. */
  constantInput(i: number): Tensor | undefined;
  /** Input `i`'s static type as decoded so far. */
  inputType(i: number): TypeInfo | undefined;
}

export interface Decoded<K extends OpName> {
  readonly attrs: OpAttrs[K];
  /** Which ONNX inputs become value inputs of our node (the rest were read as attributes). */
  readonly inputs: readonly number[];
}

export interface VjpArgs<K extends OpName> {
  readonly inputs: readonly Value[];
  readonly outputs: readonly Value[];
  /** Gradient of the loss with respect to each output; null where the output does not reach it. */
  readonly gys: readonly (Value | null)[];
  readonly attrs: OpAttrs[K];
}

/** Vector-Jacobian product in graph ops: one gradient (or null) per input. */
export type Vjp<K extends OpName> = (g: Graph, args: VjpArgs<K>) => readonly (Value | null)[];

/** Marks an op as not differentiable, explicitly (no gradient flows through it). */
export const noGrad = Object.freeze({ noGrad: true as const });
export type NoGrad = typeof noGrad;

/** Everything the library knows about one op. */
export interface OpRule<K extends OpName> {
  /** Accepted number of value inputs: exact, or [min, max]. */
  readonly arity: number | readonly [number, number];
  /** Output types from input types; throws ShapeError/DTypeError (the builder adds the op's name). */
  shape(inputs: readonly TypeInfo[], attrs: OpAttrs[K]): TypeInfo[];
  /** ONNX emission (opset 18). */
  emit(ctx: EmitCtx, args: EmitArgs<K>): void;
  /** ONNX op type this rule decodes, with the decoder; null when the op encodes as another op's type. */
  readonly decode: { readonly onnx: string; read(node: DecodeView): Decoded<K> } | null;
  readonly vjp: Vjp<K> | NoGrad;
}

export type OpTable = { readonly [K in OpName]: OpRule<K> };
