import type onnxProto from 'onnx-proto';
import { DTypeError, GraphError, OnnxFormatError, ShapeError } from '../tensor/errors.js';
import { isDType, type Tensor, toNumbers } from '../tensor/tensor.js';
import { Graph } from './builder.js';
import { onnx, protoToAttr, protoToTensor } from './onnx-proto.js';
import { DTYPE_OF_ONNX, ops } from './ops/index.js';
import { RuleError } from './shape.js';
import type { AttrValue, DecodeView, Dim, Node, OpName, Value } from './types.js';

export interface DecodeOptions {
  /**
   * Which initializers become parameters (graph inputs fed from `params`) rather than constants:
   * `'float'` (default) — every float initializer with more than one element (weights, biases,
   * BN statistics); `'none'` — all stay constants.
   */
  readonly params?: 'float' | 'none';
}

export interface DecodedModel {
  readonly graph: Graph;
  /** Values of the initializers decoded as parameters, by name. */
  readonly params: Record<string, Tensor>;
  readonly opset: number;
  /** The ONNX node name of each decoded node that had one (for reports such as the pruning analysis). */
  readonly nodeNames: ReadonlyMap<Node, string>;
}

/** ONNX op type → our op, from the table's decoders. */
const BY_ONNX = new Map<string, OpName>();
for (const [name, rule] of Object.entries(ops)) if (rule.decode) BY_ONNX.set(rule.decode.onnx, name as OpName);

/** Node fields with protobuf's defaults filled in. */
function normalise(n: onnxProto.onnx.INodeProto) {
  return {
    opType: n.opType ?? '',
    name: n.name ?? '',
    domain: n.domain ?? '',
    input: n.input ?? [],
    output: n.output ?? [],
    attribute: n.attribute ?? [],
  };
}

function parse(bytes: Uint8Array) {
  if (!(bytes instanceof Uint8Array)) throw new OnnxFormatError('decode', `expected ONNX bytes (Uint8Array), got ${typeof bytes}`);
  if (bytes.length === 0) throw new OnnxFormatError('decode', 'empty input');
  try {
    return onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new OnnxFormatError('decode', `not a valid ONNX model (protobuf: ${(e as Error).message})`);
  }
}

/**
 * ONNX bytes → a Graph of our ops (plus the parameter values), for models built from the op
 * table's ops at opset 13–18+: unsupported ops or attributes give OnnxFormatError naming them;
 * truncated or garbage bytes give OnnxFormatError, never a crash.
 */
export function decode(bytes: Uint8Array, opts: DecodeOptions = {}): DecodedModel {
  const model = parse(bytes);
  try {
    return build(model, opts);
  } catch (e) {
    // A malformed model reaches the builder as bad names, shapes or types: report it as a format error.
    if (e instanceof OnnxFormatError || !(e instanceof GraphError || e instanceof ShapeError || e instanceof DTypeError || e instanceof RuleError)) throw e;
    throw new OnnxFormatError('decode', e.message);
  }
}

function build(model: onnxProto.onnx.ModelProto, opts: DecodeOptions): DecodedModel {
  const gp = model.graph;
  if (!gp) throw new OnnxFormatError('decode', 'model has no graph');
  const opset = Number(model.opsetImport.find((o) => !o.domain || o.domain === 'ai.onnx')?.version ?? 0);
  if (opset < 13) throw new OnnxFormatError('decode', `opset ${opset} is too old; need 13 or newer`);
  const g = new Graph(gp.name || 'decoded', { numericNames: true });
  const values = new Map<string, Value>();
  const constants = new Map<string, Tensor>();
  const params: Record<string, Tensor> = {};
  const nodeNames = new Map<Node, string>();
  const asParams = (opts.params ?? 'float') === 'float';

  for (const init of gp.initializer ?? []) {
    const name = init.name ?? '';
    const t = protoToTensor(init, 'decode');
    if (asParams && (t.type === 'float32' || t.type === 'float64') && t.data.length > 1) {
      values.set(name, g.param(name, t.dims, t.type));
      params[name] = t;
    } else {
      constants.set(name, t);
      values.set(name, g.constant(t));
    }
  }
  for (const vi of gp.input ?? []) {
    const name = vi.name ?? '';
    if (values.has(name)) continue; // an initializer also listed as input (old exporters)
    const tt = vi.type?.tensorType;
    const dtype = DTYPE_OF_ONNX[tt?.elemType ?? 0];
    if (!tt || !dtype || !isDType(dtype)) throw new OnnxFormatError('decode', `input '${name}' has an unsupported type`);
    const dims: Dim[] = (tt.shape?.dim ?? []).map((d, i) =>
      d.dimParam ? d.dimParam : d.dimValue != null && Number(d.dimValue) > 0 ? Number(d.dimValue) : `${name}_d${i}`,
    );
    values.set(name, g.input(name, dtype, dims));
  }

  for (const raw of gp.node ?? []) {
    const np = normalise(raw);
    const where = `decode ${np.opType} '${np.name}'`;
    if (np.domain && np.domain !== 'ai.onnx') throw new OnnxFormatError(where, `domain '${np.domain}' is not supported`);
    const attrs = new Map<string, AttrValue>(np.attribute.map((a) => [a.name ?? '', protoToAttr(a, where)]));
    if (np.opType === 'Constant') {
      const a = attrs.get('value');
      if (!a || !('tensor' in a)) throw new OnnxFormatError(where, 'only Constant with a tensor value is supported');
      constants.set(np.output[0] as string, a.tensor);
      values.set(np.output[0] as string, g.constant(a.tensor));
      continue;
    }
    if (np.opType === 'ConstantOfShape') {
      // Our ConstantOfShape takes its shape as an attribute, so the ONNX shape input must be constant.
      const shape = constants.get(np.input[0] ?? '');
      if (!shape) throw new OnnxFormatError(where, 'input 0 (shape) must be a constant; data-dependent shapes are not supported');
      const dims = toNumbers(shape);
      if (!dims.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new OnnxFormatError(where, `shape must be sizes >= 0, got [${dims.join(',')}]`);
      const a = attrs.get('value');
      if (a && !('tensor' in a && a.tensor.data.length === 1)) throw new OnnxFormatError(where, 'value must be a one-element tensor');
      const value = a && 'tensor' in a ? a.tensor : { type: 'float32' as const, data: [0] };
      bind(np.output[0] as string, g.ConstantOfShape(dims, Number(value.data[0]), value.type));
      continue;
    }
    const view: DecodeView = {
      opType: np.opType,
      name: np.name,
      inputs: np.input,
      outputs: np.output,
      attr: (n) => attrs.get(n),
      constantInput: (i) => constants.get(np.input[i] ?? ''),
      inputType: (i) => values.get(np.input[i] ?? ''),
    };
    if (np.opType === 'Dropout') {
      bind(np.output[0] as string, lookup(np.input[0] as string, where));
      continue;
    }
    const op = BY_ONNX.get(np.opType);
    if (!op) throw new OnnxFormatError(where, `op ${np.opType} is not supported (supported: ${[...BY_ONNX.keys()].sort().join(', ')})`);
    const dec = (ops[op].decode as NonNullable<(typeof ops)[typeof op]['decode']>).read(view as never);
    const inputs = dec.inputs.map((i) => lookup(np.input[i] as string, where));
    let outs: Value[];
    try {
      outs = g.apply(op, inputs, dec.attrs as never);
    } catch (e) {
      throw new OnnxFormatError(where, (e as Error).message);
    }
    np.output.forEach((name, i) => {
      if (name && outs[i]) bind(name, outs[i] as Value);
    });
    const made = outs[0]?.source;
    if (np.name && made?.kind === 'node') nodeNames.set(made.node, np.name);
  }
  for (const o of gp.output ?? []) g.output(o.name ?? '', lookup(o.name ?? '', 'decode outputs'));
  return { graph: g, params, opset, nodeNames };

  function lookup(name: string, where: string): Value {
    const v = values.get(name);
    if (!v) throw new OnnxFormatError(where, `input '${name}' is not defined before use`);
    return v;
  }
  function bind(name: string, v: Value): void {
    values.set(name, v);
  }
}
