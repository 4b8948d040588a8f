import { fmtDims } from '../tensor/errors.js';
import type { DType } from '../tensor/tensor.js';
import type { Dim, TypeInfo } from './types.js';

/**
 * A shape rule's complaint. Rules throw it with the bare reason; the builder re-throws it as a
 * ShapeError/DTypeError prefixed with the op, its scope and the input shapes.
 */
export class RuleError extends Error {
  constructor(
    readonly kind: 'shape' | 'dtype',
    message: string,
  ) {
    super(message);
  }
}

export function fail(message: string): never {
  throw new RuleError('shape', message);
}

export function failDType(message: string): never {
  throw new RuleError('dtype', message);
}

export const FLOATS: readonly DType[] = ['float32', 'float64'];
export const INTS: readonly DType[] = ['int32', 'int64'];
/**
 * Ops ONNX Runtime's CPU provider runs in float32 only (no float64 kernel for Erf, Conv,
 * ConvTranspose, AveragePool): refused at build time rather than failing inside ORT.
 */
export const F32_ONLY: readonly DType[] = ['float32'];

export function requireDType(t: TypeInfo, allowed: readonly DType[], what = 'input'): void {
  if (!allowed.includes(t.dtype)) failDType(`${what} must be ${allowed.join(' or ')}, got ${t.dtype}`);
}

export function sameDType(a: TypeInfo, b: TypeInfo): void {
  if (a.dtype !== b.dtype) failDType(`inputs must share a dtype, got ${a.dtype} and ${b.dtype}`);
}

export function isStatic(shape: readonly Dim[]): shape is readonly number[] {
  return shape.every((d) => typeof d === 'number');
}

/** Normalises a possibly negative axis for `rank`; fails when out of range. */
export function normAxis(axis: number, rank: number, what = 'axis'): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) fail(`${what} ${axis} out of range for rank ${rank}`);
  return a;
}

/** Two dims are compatible when equal, or when either is symbolic (checked again at run time). */
export function dimsAgree(a: Dim, b: Dim): boolean {
  return a === b || typeof a === 'string' || typeof b === 'string';
}

/** One dim of a numpy broadcast; distinct symbols are refused (their gradient could not be un-broadcast). */
export function broadcastDim(a: Dim, b: Dim): Dim {
  if (a === b || b === 1) return a;
  if (a === 1) return b;
  if (typeof a === 'string' && typeof b === 'number') return b;
  if (typeof b === 'string' && typeof a === 'number') return a;
  return fail(`cannot broadcast ${a} with ${b}`);
}

/** numpy broadcasting of any number of shapes. */
export function broadcastShapes(...shapes: (readonly Dim[])[]): Dim[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: Dim[] = new Array<Dim>(rank).fill(1);
  for (const s of shapes) {
    const off = rank - s.length;
    for (let i = 0; i < s.length; i++) {
      try {
        out[off + i] = broadcastDim(out[off + i] as Dim, s[i] as Dim);
      } catch {
        fail(`shapes ${shapes.map(fmtDims).join(' and ')} do not broadcast (axis ${off + i})`);
      }
    }
  }
  return out;
}

/**
 * Axes of `from` to sum so the result has `to`'s shape (the un-broadcast of a gradient), and the
 * leading axes that disappear. `to` must broadcast to `from`.
 */
export function unbroadcastAxes(from: readonly Dim[], to: readonly Dim[]): { axes: number[]; lead: number } {
  const lead = from.length - to.length;
  if (lead < 0) fail(`cannot sum ${fmtDims(from)} down to the larger rank ${fmtDims(to)}`);
  const axes: number[] = [];
  for (let i = 0; i < from.length; i++) {
    if (i < lead) axes.push(i);
    else if (to[i - lead] === 1 && from[i] !== 1) axes.push(i);
    else if (!dimsAgree(from[i] as Dim, to[i - lead] as Dim)) fail(`cannot sum ${fmtDims(from)} down to ${fmtDims(to)}`);
  }
  return { axes, lead };
}

/**
 * The factors of a dim: `(B*50)` → ['B', 50]; a plain symbol or size is its own single factor.
 * Products are written by `dimProduct`, so they parse back exactly.
 */
export function dimFactors(d: Dim): Dim[] {
  if (typeof d === 'number' || !/^\([^()]*\)$/.test(d)) return [d];
  return d
    .slice(1, -1)
    .split('*')
    .map((f) => (/^\d+$/.test(f) ? Number(f) : f));
}

/**
 * Product of dims: a number when all are static, else a canonical symbol — factors flattened,
 * symbols in order, the static part multiplied last — such as `(B*50)`.
 */
export function dimProduct(dims: readonly Dim[]): Dim {
  const factors = dims.flatMap(dimFactors);
  const size = factors.filter((d): d is number => typeof d === 'number').reduce((p, d) => p * d, 1);
  const syms = factors.filter((d): d is string => typeof d === 'string');
  if (syms.length === 0 || size === 0) return size;
  const parts: Dim[] = size === 1 ? syms : [...syms, size];
  return parts.length === 1 ? (parts[0] as Dim) : `(${parts.join('*')})`;
}

export function shapesEqual(a: readonly Dim[], b: readonly Dim[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
