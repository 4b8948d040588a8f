import type { Dim, OpAttrs, OpName } from '../../src/graph/types.js';
import type { FloatDType } from '../../src/tensor/tensor.js';

/**
 * The vocabulary of the op-case table (op-cases.ts): what one small graph instance of an op looks
 * like, and the helpers the table is written with.
 */

/** One input of a case: a float value (differentiable unless `grad` is false) or integer/bool data. */
export type InputSpec =
  | {
      readonly kind: 'float';
      readonly shape: readonly Dim[];
      readonly grad: boolean;
      /** Fixed values (row-major); default: seeded draws, normal or uniform over `range`. */
      readonly data?: readonly number[];
      readonly range?: readonly [number, number];
      /** Overrides the case's float type for this input (Cast). */
      readonly dtype?: FloatDType;
    }
  | {
      readonly kind: 'int64' | 'bool';
      readonly shape: readonly Dim[];
      readonly data: readonly number[];
      /** A graph input fed at run time; otherwise a constant baked into the graph. */
      readonly feed: boolean;
    };

/**
 * Non-smooth points: given every input's values and the output weights R (one array per output in
 * the loss), the gradient the documented convention prescribes, per input and element, or null
 * (compare with finite differences there). A null entry for an input means "all by FD".
 */
export type Kinks = (xs: readonly (readonly number[])[], rs: readonly (readonly number[])[]) => readonly (readonly (number | null)[] | null)[];

export interface Tolerance {
  readonly eps?: number;
  readonly rtol?: number;
  readonly atol?: number;
}

export interface Variant<K extends OpName> {
  readonly name: string;
  readonly inputs: readonly InputSpec[];
  readonly attrs: OpAttrs[K];
  /** Float type of the case (default float64; float32 for FLOAT32_ONLY ops). */
  readonly dtype?: FloatDType;
  /** Sizes of the symbolic dims used in `inputs`, for feeding. */
  readonly bind?: Readonly<Record<string, number>>;
  /** Outputs that enter the loss (default: every float output). */
  readonly use?: readonly number[];
  readonly kinks?: Kinks;
  readonly tol?: Tolerance;
}

export interface OpCase<K extends OpName> {
  readonly variants: readonly Variant<K>[];
}

/** One entry per op: a mapped type, so an op added to `OpAttrs` without an entry does not compile. */
export type OpCases = { readonly [K in OpName]: OpCase<K> | { readonly noGrad: string } };

/**
 * Ops ONNX Runtime's CPU provider has no float64 kernel for (their shape rules refuse float64:
 * F32_ONLY in src/graph/shape.ts). Checked in float32 with looser tolerances; the test asserts this
 * list matches the shape rules exactly.
 */
export const FLOAT32_ONLY: readonly OpName[] = ['Erf', 'Conv', 'ConvTranspose', 'AveragePool'];

export function caseDType(op: OpName, v: { readonly dtype?: FloatDType }): FloatDType {
  return v.dtype ?? (FLOAT32_ONLY.includes(op) ? 'float32' : 'float64');
}

/** A float input; `data` fixes its values. */
export function f(
  shape: readonly Dim[],
  o: { grad?: boolean; data?: readonly number[]; range?: readonly [number, number]; dtype?: FloatDType } = {},
): InputSpec {
  return {
    kind: 'float',
    shape,
    grad: o.grad ?? true,
    ...(o.data ? { data: o.data } : {}),
    ...(o.range ? { range: o.range } : {}),
    ...(o.dtype ? { dtype: o.dtype } : {}),
  };
}

/** A float input drawn from [0.5, 2] (away from the poles of Log, Sqrt, Reciprocal, Div). */
export const pos = (shape: readonly Dim[]): InputSpec => f(shape, { range: [0.5, 2] });

export const i64 = (shape: readonly Dim[], data: readonly number[], feed = false): InputSpec => ({ kind: 'int64', shape, data, feed });
export const bool = (shape: readonly Dim[], data: readonly number[], feed = false): InputSpec => ({ kind: 'bool', shape, data, feed });
