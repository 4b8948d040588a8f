import { DTypeError, fmtDims, GraphError, ShapeError } from '../tensor/errors.js';
import type { DType, Tensor } from '../tensor/tensor.js';
import type { Graph } from './builder.js';
import { attrToProto, IR_VERSION, type ModelProto, type NodeProto, OPSET, onnx, tensorToProto, valueInfo } from './onnx-proto.js';
import { int64s } from './ops/helpers.js';
import { ops } from './ops/index.js';
import { fuseTransposedMatMuls } from './ort-fusion.js';
import type { AttrValue, Dim, EmitCtx, Node, Value } from './types.js';

export interface EncodeOptions {
  /** Parameters to bake in as initializers (ORT can then constant-fold and pre-pack them). */
  readonly initializers?: Readonly<Record<string, Tensor>>;
  /** Model name written into the file. */
  readonly name?: string;
}

/** Outputs an op may leave unnamed when nothing reads them (ONNX optional outputs). */
const OPTIONAL_OUTPUTS: Partial<Record<string, readonly number[]>> = { MaxPool: [1], LayerNormalization: [1, 2] };

/**
 * Nodes that an output depends on, and the graph inputs they read. A symbol that live values use
 * but no live graph input carries (`zerosLike(x)` reads only x's shape) brings in the input that
 * introduced it, so its run-time size can be read.
 */
export function liveSet(g: Graph): { nodes: Set<Node>; values: Set<Value> } {
  const nodes = new Set<Node>();
  const values = new Set<Value>();
  const stack = g.outputs.map((o) => o.value);
  while (stack.length > 0) {
    const v = stack.pop() as Value;
    if (values.has(v)) continue;
    values.add(v);
    if (v.source.kind === 'node' && !nodes.has(v.source.node)) {
      nodes.add(v.source.node);
      stack.push(...v.source.node.inputs);
    }
  }
  const carried = new Set(g.inputs.filter((v) => values.has(v)).flatMap((v) => v.shape));
  for (const v of [...values]) {
    for (const d of v.shape) {
      const origin = typeof d === 'string' && !carried.has(d) ? g.symbols.get(d) : undefined;
      if (origin) {
        values.add(origin.value);
        for (const e of origin.value.shape) carried.add(e);
      }
    }
  }
  return { nodes, values };
}

/**
 * Graph → ONNX ModelProto (opset 18). Only nodes that reach an output are emitted; graph inputs
 * nothing reads are left out (the session ignores feeds for them). Symbolic dims become
 * `dim_param`s, and where an op needs a dim's value at run time, it is read from the first emitted
 * value carrying that symbol.
 */
export function toModelProto(g: Graph, opts: EncodeOptions = {}): ModelProto {
  return buildModel(g, opts).model;
}

/**
 * The bytes `compile(g, { fuseTransposes: true })` hands to ONNX Runtime: the model `encode` writes,
 * with transposed MatMul operands folded into ORT's FusedMatMul (see ort-fusion.ts). ORT-only;
 * never exported.
 */
export function encodeForOrt(g: Graph, opts: EncodeOptions = {}): Uint8Array {
  const { model, dtypes } = buildModel(g, opts);
  fuseTransposedMatMuls(model, (name) => dtypes.get(name));
  return new Uint8Array(onnx.ModelProto.encode(model).finish());
}

function buildModel(g: Graph, opts: EncodeOptions): { model: ModelProto; dtypes: Map<string, DType> } {
  if (g.outputs.length === 0) throw new GraphError('encode', `graph '${g.name}' has no outputs`);
  const bake = opts.initializers ?? {};
  const { nodes: live, values: liveValues } = liveSet(g);
  const protoNodes: NodeProto[] = [];
  const initializers = [];
  const names = new Map<Value, string>();
  const taken = new Set<string>();
  const symbolAt = new Map<string, { name: string; axis: number }>();
  let temps = 0;

  const fresh = (prefix: string): string => {
    let n = `${prefix}${temps++}`;
    while (taken.has(n)) n = `${prefix}${temps++}`;
    taken.add(n);
    return n;
  };
  const note = (name: string, shape: readonly Dim[]) =>
    shape.forEach((d, axis) => {
      if (typeof d === 'string' && !symbolAt.has(d)) symbolAt.set(d, { name, axis });
    });

  for (const v of g.inputs) taken.add((v.source as { name: string }).name);
  for (const o of g.outputs) taken.add(o.name);

  // Graph inputs (or baked initializers).
  const inputs = [];
  for (const v of g.inputs) {
    const name = (v.source as { name: string }).name;
    names.set(v, name);
    const baked = bake[name];
    if (baked) {
      if (baked.type !== v.dtype) throw new DTypeError('encode', `initializer '${name}' must be ${v.dtype}, got ${baked.type}`);
      if (baked.dims.length !== v.shape.length || !v.shape.every((d, i) => typeof d === 'string' || d === baked.dims[i])) {
        throw new ShapeError('encode', `initializer '${name}' must be ${fmtDims(v.shape)}, got ${fmtDims(baked.dims)}`);
      }
      initializers.push(tensorToProto(name, baked));
      note(name, baked.dims);
    } else if (liveValues.has(v)) {
      inputs.push(valueInfo(name, v.dtype, v.shape));
      note(name, v.shape);
    }
  }

  const nameOf = (v: Value): string => {
    const n = names.get(v);
    if (n !== undefined) return n;
    if (v.source.kind !== 'constant') throw new GraphError('encode', `value %${v.id} is used before it is defined`);
    const c = fresh('const_');
    initializers.push(tensorToProto(c, v.source.tensor));
    names.set(v, c);
    return c;
  };

  const shapeCache = new Map<string, string>();
  const ctx: EmitCtx = {
    node: (opType, ins, outs, attrs?: Record<string, AttrValue>) => {
      protoNodes.push(
        onnx.NodeProto.create({
          opType,
          input: [...ins],
          output: [...outs],
          name: fresh(`${opType}_`),
          attribute: Object.entries(attrs ?? {}).map(([k, a]) => attrToProto(k, a)),
        }),
      );
    },
    constant: (t) => {
      const c = fresh('const_');
      initializers.push(tensorToProto(c, t));
      return c;
    },
    temp: () => fresh('tmp_'),
    shape: (target, mode, like) => {
      const parts: (number | string)[] = [];
      const open: number[] = [];
      const off = like ? target.length - like.shape.length : 0;
      target.forEach((d, i) => {
        if (typeof d === 'number') parts.push(d);
        else if (mode === 'reshape' && like?.shape[i] === d) parts.push(0);
        else if (mode === 'expand' && like?.shape[i - off] === d) parts.push(1);
        else {
          parts.push(d);
          open.push(i);
        }
      });
      if (mode === 'reshape' && open.length === 1 && !parts.includes(-1)) parts[open[0] as number] = -1;
      else for (const i of open) parts[i] = runtimeDim(parts[i] as string);
      if (parts.every((p) => typeof p === 'number')) return ctx.constant(int64s(parts as number[]));
      // Group runs of static sizes into constants, then concatenate with the run-time dims.
      const pieces: string[] = [];
      let run: number[] = [];
      const flush = () => {
        if (run.length > 0) pieces.push(ctx.constant(int64s(run)));
        run = [];
      };
      for (const p of parts) {
        if (typeof p === 'number') run.push(p);
        else {
          flush();
          pieces.push(p);
        }
      }
      flush();
      const out = fresh('shape_');
      ctx.node('Concat', pieces, [out], { axis: { int: 0 } });
      return out;
    },
  };

  /** An int64 [1] tensor holding the run-time size of symbol `sym`. */
  function runtimeDim(sym: string): string {
    const cached = shapeCache.get(`dim:${sym}`);
    if (cached) return cached;
    const src = symbolAt.get(sym);
    if (!src) throw new GraphError('encode', `symbolic dim '${sym}' cannot be resolved: no emitted value carries it`);
    let shp = shapeCache.get(`shape:${src.name}`);
    if (!shp) {
      shp = fresh('shape_');
      ctx.node('Shape', [src.name], [shp]);
      shapeCache.set(`shape:${src.name}`, shp);
    }
    const out = fresh('dim_');
    ctx.node('Gather', [shp, ctx.constant(int64s([src.axis]))], [out], { axis: { int: 0 } });
    shapeCache.set(`dim:${sym}`, out);
    return out;
  }

  // Graph outputs that are node results take the output's name directly.
  const outputNameFor = new Map<Value, string>();
  for (const o of g.outputs) if (o.value.source.kind === 'node' && !outputNameFor.has(o.value)) outputNameFor.set(o.value, o.name);

  const readers = new Set<Value>();
  for (const n of live) for (const v of n.inputs) readers.add(v);
  for (const o of g.outputs) readers.add(o.value);

  for (const n of g.nodes) {
    if (!live.has(n)) continue;
    const optional = OPTIONAL_OUTPUTS[n.op] ?? [];
    const outs = n.outputs.map((v, i) => {
      if (!readers.has(v) && optional.includes(i)) return '';
      const name = outputNameFor.get(v) ?? fresh(`${n.op}_${v.id}_`);
      names.set(v, name);
      return name;
    });
    const ins = n.inputs.map(nameOf);
    const rule = ops[n.op] as (typeof ops)[typeof n.op];
    (rule.emit as (c: EmitCtx, a: unknown) => void)(ctx, { inputs: ins, outputs: outs, attrs: n.attrs, inputTypes: n.inputs, outputTypes: n.outputs });
    n.outputs.forEach((v, i) => {
      if (outs[i]) note(outs[i] as string, v.shape);
    });
  }

  const outputs = g.outputs.map((o) => {
    const src = nameOf(o.value);
    if (src !== o.name) ctx.node('Identity', [src], [o.name]);
    return valueInfo(o.name, o.value.dtype, o.value.shape);
  });

  const model = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    opsetImport: [{ domain: '', version: OPSET }],
    producerName: 'apt-prune',
    graph: onnx.GraphProto.create({ name: opts.name ?? g.name, node: protoNodes, input: inputs, output: outputs, initializer: initializers }),
  });
  const dtypes = new Map<string, DType>();
  for (const [v, name] of names) dtypes.set(name, v.dtype);
  return { model, dtypes };
}

/**
 * Graph → ONNX bytes that ONNX Runtime (any language) and `onnx.checker` accept. A plain, owned
 * Uint8Array: protobufjs returns a Node Buffer carved from a shared pool, whose `slice` is a view.
 */
export function encode(g: Graph, opts: EncodeOptions = {}): Uint8Array {
  return new Uint8Array(onnx.ModelProto.encode(toModelProto(g, opts)).finish());
}
