/**
 * Conversions between our tensors/types and the ONNX protobuf messages (onnx-proto, protobufjs
 * generated from ONNX's own schema). The only module besides encode/decode that touches protos.
 */
import onnxProto from 'onnx-proto';
import { OnnxFormatError } from '../tensor/errors.js';
import { allocate, type DType, numel, type Tensor } from '../tensor/tensor.js';
import { DTYPE_OF_ONNX, ONNX_TYPE } from './ops/index.js';
import type { AttrValue, Dim } from './types.js';

export const { onnx } = onnxProto;
export type ModelProto = InstanceType<typeof onnx.ModelProto>;
export type NodeProto = InstanceType<typeof onnx.NodeProto>;
/** A node as read back from a message (fields optional). */
export type NodeLike = onnxProto.onnx.INodeProto;
export type TensorProto = InstanceType<typeof onnx.TensorProto>;
export type AttributeProto = InstanceType<typeof onnx.AttributeProto>;
type ValueInfoProto = InstanceType<typeof onnx.ValueInfoProto>;

/** Opset 17: the newest Debian's python3-onnx (1.12) can check, and all ORT releases run. */
export const OPSET = 17;
export const IR_VERSION = 8;

/** TensorProto from a tensor; data goes in `raw_data` (little-endian, as ONNX requires). */
export function tensorToProto(name: string, t: Tensor): TensorProto {
  const d = t.data;
  const raw = new Uint8Array(d.buffer, d.byteOffset, d.byteLength).slice();
  return onnx.TensorProto.create({ name, dataType: ONNX_TYPE[t.type], dims: [...t.dims], rawData: raw });
}

function longsToNumbers(xs: readonly (number | { toNumber(): number })[]): number[] {
  return xs.map((x) => (typeof x === 'number' ? x : x.toNumber()));
}

/** Tensor from a TensorProto (raw_data or the typed repeated fields); malformed → OnnxFormatError. */
export function protoToTensor(p: onnxProto.onnx.ITensorProto, where: string): Tensor {
  const type = DTYPE_OF_ONNX[p.dataType ?? 0];
  if (!type) throw new OnnxFormatError(where, `tensor '${p.name}' has unsupported data type ${p.dataType}`);
  if (p.dataLocation === 1) throw new OnnxFormatError(where, `tensor '${p.name}' uses external data, which is not supported`);
  const dims = longsToNumbers((p.dims ?? []) as never);
  if (dims.some((x) => !Number.isSafeInteger(x) || x < 0) || numel(dims) > 2 ** 31) {
    throw new OnnxFormatError(where, `tensor '${p.name}' has invalid dims [${dims.join(',')}]`);
  }
  const n = numel(dims);
  // Sizes are checked against the data actually present before allocating, so a few bytes of
  // malformed dims cannot request gigabytes.
  if (p.rawData && p.rawData.length > 0) {
    const need = n * allocate(type, 0).BYTES_PER_ELEMENT;
    if (p.rawData.length !== need) {
      throw new OnnxFormatError(where, `tensor '${p.name}' raw_data has ${p.rawData.length} bytes, dims [${dims.join(',')}] ${type} need ${need}`);
    }
    const data = allocate(type, n);
    new Uint8Array(data.buffer).set(p.rawData);
    return { type, dims, data };
  }
  const src: readonly (number | { toNumber(): number })[] =
    (type === 'float32' ? p.floatData : type === 'float64' ? p.doubleData : type === 'int64' ? (p.int64Data as never) : p.int32Data) ?? [];
  if (src.length !== n) throw new OnnxFormatError(where, `tensor '${p.name}' holds ${src.length} values, dims [${dims.join(',')}] need ${n}`);
  const vals = longsToNumbers(src);
  const data = allocate(type, n);
  if (data instanceof BigInt64Array) {
    for (let i = 0; i < n; i++) data[i] = BigInt(vals[i] as number);
  } else (data as Float64Array).set(vals);
  return { type, dims, data };
}

export function valueInfo(name: string, dtype: DType, shape: readonly Dim[]): ValueInfoProto {
  return onnx.ValueInfoProto.create({
    name,
    type: { tensorType: { elemType: ONNX_TYPE[dtype], shape: { dim: shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
  });
}

/** Our tagged attribute → AttributeProto. */
export function attrToProto(name: string, a: AttrValue): AttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if ('int' in a) return onnx.AttributeProto.create({ name, type: T.INT, i: a.int });
  if ('float' in a) return onnx.AttributeProto.create({ name, type: T.FLOAT, f: a.float });
  if ('ints' in a) return onnx.AttributeProto.create({ name, type: T.INTS, ints: [...a.ints] });
  if ('floats' in a) return onnx.AttributeProto.create({ name, type: T.FLOATS, floats: [...a.floats] });
  if ('str' in a) return onnx.AttributeProto.create({ name, type: T.STRING, s: new TextEncoder().encode(a.str) });
  return onnx.AttributeProto.create({ name, type: T.TENSOR, t: tensorToProto('', a.tensor) });
}

/** AttributeProto → our tagged attribute (graph-valued and sparse attributes are refused). */
export function protoToAttr(p: onnxProto.onnx.IAttributeProto, where: string): AttrValue {
  const T = onnx.AttributeProto.AttributeType;
  switch (p.type) {
    case T.INT:
      return { int: longsToNumbers([(p.i ?? 0) as never])[0] as number };
    case T.FLOAT:
      return { float: p.f ?? 0 };
    case T.INTS:
      return { ints: longsToNumbers((p.ints ?? []) as never) };
    case T.FLOATS:
      return { floats: [...(p.floats ?? [])] };
    case T.STRING:
      return { str: new TextDecoder().decode(p.s ?? new Uint8Array()) };
    case T.TENSOR:
      if (!p.t) throw new OnnxFormatError(where, `attribute ${p.name} has no tensor`);
      return { tensor: protoToTensor(p.t, where) };
    default:
      throw new OnnxFormatError(where, `attribute ${p.name} has unsupported type ${p.type}`);
  }
}
