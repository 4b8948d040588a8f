import { OnnxFormatError } from '../../tensor/errors.js';
import { type Tensor, tensor, toNumbers } from '../../tensor/tensor.js';
import type { Graph } from '../builder.js';
import type { AttrValue, DecodeView, Dim, EmitArgs, EmitCtx, OpAttrs, OpName, Value } from '../types.js';

type Ints = readonly number[];

// Tagged ONNX attribute values.
export const int = (v: number | boolean): AttrValue => ({ int: Number(v) });
export const float = (v: number): AttrValue => ({ float: v });
export const ints = (v: Ints): AttrValue => ({ ints: v });

/** A constant int64 1-D tensor (axes, pads, starts, …). */
export function int64s(values: Ints): Tensor<'int64'> {
  return tensor(
    BigInt64Array.from(values, (v) => BigInt(v)),
    [values.length],
    'int64',
  );
}

/** Emission as the ONNX op of the same name with the given attributes (inputs and outputs 1:1). */
export function simpleEmit<K extends OpName>(opType: string, attrs?: (a: OpAttrs[K]) => Record<string, AttrValue>) {
  return (ctx: EmitCtx, { inputs, outputs, attrs: a }: EmitArgs<K>): void => ctx.node(opType, inputs, outputs, attrs ? attrs(a) : undefined);
}

/** Emission as the ONNX op with trailing constant int64 inputs (ONNX moved axes/pads to inputs). */
export function emitWithInts<K extends OpName>(opType: string, consts: (a: OpAttrs[K]) => Ints[], attrs?: (a: OpAttrs[K]) => Record<string, AttrValue>) {
  return (ctx: EmitCtx, { inputs, outputs, attrs: a }: EmitArgs<K>): void => {
    const extra = consts(a).map((c) => ctx.constant(int64s(c)));
    ctx.node(opType, [...inputs, ...extra], outputs, attrs ? attrs(a) : undefined);
  };
}

/** OnnxFormatError naming the node. */
export function bad(node: DecodeView, what: string): never {
  throw new OnnxFormatError('decode', `${node.opType} '${node.name}': ${what}`);
}

export function readInt(node: DecodeView, name: string, fallback: number): number {
  const a = node.attr(name);
  if (a === undefined) return fallback;
  if ('int' in a) return a.int;
  return bad(node, `attribute ${name} must be an int`);
}

export function readFloat(node: DecodeView, name: string, fallback: number): number {
  const a = node.attr(name);
  if (a === undefined) return fallback;
  if ('float' in a) return a.float;
  return bad(node, `attribute ${name} must be a float`);
}

export function readInts(node: DecodeView, name: string, fallback: Ints): number[] {
  const a = node.attr(name);
  if (a === undefined) return [...fallback];
  if ('ints' in a) return [...a.ints];
  return bad(node, `attribute ${name} must be a list of ints`);
}

export function readStr(node: DecodeView, name: string, fallback: string): string {
  const a = node.attr(name);
  if (a === undefined) return fallback;
  if ('str' in a) return a.str;
  return bad(node, `attribute ${name} must be a string`);
}

/** Values of constant input `i` as numbers; a missing optional input gives `fallback`. */
export function constInts(node: DecodeView, i: number, what: string, fallback?: Ints): number[] {
  if (i >= node.inputs.length || node.inputs[i] === '') {
    if (fallback) return [...fallback];
    return bad(node, `input ${i} (${what}) is required`);
  }
  const t = node.constantInput(i);
  if (!t) return bad(node, `input ${i} (${what}) must be a constant; data-dependent ${what} is not supported`);
  return toNumbers(t);
}

/** Refuses an attribute value the op table does not model (e.g. auto_pad, ceil_mode). */
export function requireAttr(node: DecodeView, name: string, allowed: readonly (number | string)[], fallback: number | string): void {
  const a = node.attr(name);
  const v = a === undefined ? fallback : 'int' in a ? a.int : 'str' in a ? a.str : undefined;
  if (v === undefined || !allowed.includes(v)) bad(node, `attribute ${name}=${JSON.stringify(v)} is not supported (supported: ${allowed.join(', ')})`);
}

/** Decoder for an op with no attributes whose ONNX inputs are all value inputs. */
export function plainDecode<K extends OpName>(onnx: string, attrs: OpAttrs[K]) {
  return { onnx, read: (node: DecodeView) => ({ attrs, inputs: node.inputs.map((_, i) => i) }) };
}

export function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/**
 * `v` written into zeros of size `size` along `axis`, at positions start, start+1, … (v's static
 * size there): the gradient of a slice that ends at an index into a symbolic dim, where Pad cannot
 * state how much follows.
 */
export function placeAlong(g: Graph, v: Value, axis: number, start: number, size: Dim): Value {
  const n = v.shape[axis] as number;
  const idx = tensor(
    BigInt64Array.from(range(n), (i) => BigInt(start + i)),
    v.shape.map((_, i) => (i === axis ? n : 1)),
    'int64',
  );
  const zeros = g.ConstantOfShape(
    v.shape.map((d, i) => (i === axis ? size : d)),
    0,
    v.dtype,
  );
  return g.ScatterElements(zeros, g.Expand(g.constant(idx), v.shape), v, axis, 'none');
}
