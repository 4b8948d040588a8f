import { DTypeError, fmtDims, GraphError, ShapeError } from '../tensor/errors.js';
import { type DType, isDType, scalar as scalarTensor, type Tensor } from '../tensor/tensor.js';
import { OpMethods } from './methods.js';
import { ops } from './ops/index.js';
import { RuleError } from './shape.js';
import type { Dim, Node, OpAttrs, OpName, Source, TypeInfo, Value } from './types.js';

const NAME = /^[A-Za-z_][A-Za-z0-9_.:/-]*$/;
/** All-digit names, as PyTorch's ONNX export writes for intermediate values and outputs ("61"). */
const NUMERIC = /^[0-9]+$/;

export interface GraphOptions {
  /** Also accept all-digit input/output names ("61", as PyTorch exports write); decoded graphs set it. */
  readonly numericNames?: boolean;
}

/**
 * An ONNX graph under construction. Values are typed (dtype + dims, symbolic dims allowed) and every
 * op's shape rule runs as the op is added, so an ill-shaped graph fails here, naming the op and the
 * shapes, before ONNX Runtime sees it. Nodes are kept in creation order, which is a topological
 * order; `backward` appends to the same graph.
 *
 * The one-line op methods (`g.MatMul(a, b)`, …) come from `OpMethods`; `apply` is the general form.
 */
export class Graph extends OpMethods {
  readonly nodes: Node[] = [];
  /** Graph inputs, in order: data inputs and parameters. */
  readonly inputs: Value[] = [];
  readonly outputs: { readonly name: string; readonly value: Value }[] = [];
  /** Where each symbolic dim first appears (a graph input and axis), to read it at run time. */
  readonly symbols = new Map<string, { readonly value: Value; readonly axis: number }>();
  private nextId = 0;
  private readonly scopes: string[] = [];
  private readonly names = new Set<string>();
  private readonly scalars = new Map<string, Value>();

  /** Whether all-digit names are accepted (see GraphOptions). */
  readonly numericNames: boolean;

  constructor(
    readonly name = 'graph',
    opts: GraphOptions = {},
  ) {
    super();
    this.numericNames = opts.numericNames ?? false;
  }

  protected get graph(): Graph {
    return this;
  }

  /** A data input fed at run time: `g.input('images', 'float32', ['B', 1, 28, 28])`. */
  input(name: string, dtype: DType, dims: readonly Dim[]): Value {
    return this.leafInput('input', name, dtype, dims);
  }

  /** A trainable parameter, fed at run time from a parameter store (or baked in at compile). */
  param(name: string, dims: readonly Dim[], dtype: DType = 'float32'): Value {
    return this.leafInput('param', name, dtype, dims);
  }

  /** A constant tensor, emitted as an initializer. */
  constant(t: Tensor): Value {
    if (!isDType(t.type)) throw new DTypeError('Graph.constant', `unsupported dtype ${String(t.type)}`);
    return this.leaf({ kind: 'constant', tensor: t }, t.type, t.dims);
  }

  /** A 0-d constant, shared between uses (`g.scalar(0.5, 'float64')`). */
  scalar(value: number, dtype: DType = 'float32'): Value {
    const key = `${dtype}:${Object.is(value, -0) ? '-0' : value}`;
    let v = this.scalars.get(key);
    if (!v) {
      v = this.constant(scalarTensor(value, dtype));
      this.scalars.set(key, v);
    }
    return v;
  }

  /** A scalar constant with `like`'s dtype (VJPs use it to stay dtype-generic). */
  constLike(like: Value, value: number): Value {
    return this.scalar(value, like.dtype);
  }

  /** Declares `value` a graph output called `name`. */
  output(name: string, value: Value): Value {
    this.own('Graph.output', value);
    this.checkName('Graph.output', name);
    this.outputs.push({ name, value });
    return value;
  }

  /** Runs `fn` with `name` pushed on the scope path (`blocks.0` then `attn` → `blocks.0.attn`). */
  scope<T>(name: string, fn: () => T): T {
    this.scopes.push(name);
    try {
      return fn();
    } finally {
      this.scopes.pop();
    }
  }

  get scopePath(): string {
    return this.scopes.join('.');
  }

  /** Adds one node: checks arity and ownership, runs the shape rule, returns the outputs. */
  apply<K extends OpName>(op: K, inputs: readonly Value[], attrs: OpAttrs[K]): Value[] {
    const rule = ops[op];
    const where = this.scopePath ? `${op} '${this.scopePath}'` : op;
    const [lo, hi] = typeof rule.arity === 'number' ? [rule.arity, rule.arity] : rule.arity;
    if (inputs.length < lo || inputs.length > hi) {
      throw new GraphError(where, `expects ${lo === hi ? lo : `${lo}..${hi}`} inputs, got ${inputs.length}`);
    }
    for (const v of inputs) this.own(where, v);
    let types: TypeInfo[];
    try {
      types = rule.shape(inputs, attrs);
    } catch (e) {
      if (!(e instanceof RuleError)) throw e;
      const shown = inputs.map((v) => `${fmtDims(v.shape)} ${v.dtype}`).join(', ');
      const msg = `${e.message} (inputs: ${shown})`;
      throw e.kind === 'dtype' ? new DTypeError(where, msg) : new ShapeError(where, msg);
    }
    const node: Node<K> = { id: this.nodes.length, op, inputs: [...inputs], attrs, outputs: [], scope: this.scopePath };
    const outputs = types.map((t, index) => this.make({ kind: 'node', node, index }, t.dtype, t.shape));
    (node as unknown as { outputs: Value[] }).outputs = outputs;
    this.nodes.push(node as unknown as Node);
    return outputs;
  }

  private leafInput(kind: 'input' | 'param', name: string, dtype: DType, dims: readonly Dim[]): Value {
    const where = kind === 'input' ? 'Graph.input' : 'Graph.param';
    if (!isDType(dtype)) throw new DTypeError(where, `'${name}': unknown dtype ${String(dtype)}`);
    for (const d of dims) {
      const ok = typeof d === 'string' ? d.length > 0 : Number.isInteger(d) && d >= 0;
      if (!ok) throw new ShapeError(where, `'${name}': dims must be sizes >= 0 or symbol names, got ${fmtDims(dims)}`);
    }
    this.checkName(where, name); // last: a refused declaration must not reserve its name
    const v = this.leaf({ kind, name }, dtype, dims);
    this.inputs.push(v);
    dims.forEach((d, axis) => {
      if (typeof d === 'string' && !this.symbols.has(d)) this.symbols.set(d, { value: v, axis });
    });
    return v;
  }

  private leaf(source: Source, dtype: DType, dims: readonly Dim[]): Value {
    return this.make(source, dtype, dims);
  }

  private make(source: Source, dtype: DType, shape: readonly Dim[]): Value {
    return { id: this.nextId++, graph: this, source, dtype, shape: [...shape] };
  }

  private checkName(where: string, name: string): void {
    if (typeof name !== 'string' || !(NAME.test(name) || (this.numericNames && NUMERIC.test(name)))) {
      throw new GraphError(where, `name must match ${NAME}, got ${JSON.stringify(name)}`);
    }
    if (this.names.has(name)) throw new GraphError(where, `name '${name}' is already used in this graph`);
    this.names.add(name);
  }

  private own(where: string, v: Value): void {
    if (!v || typeof v !== 'object' || !('graph' in v)) throw new GraphError(where, `expected a graph Value, got ${String(v)}`);
    if (v.graph !== this) throw new GraphError(where, `value %${v.id} belongs to graph '${v.graph.name}', not '${this.name}'`);
  }
}

/** Display name of a value: its input/param name, or `%id`. */
export function valueName(v: Value): string {
  return v.source.kind === 'input' || v.source.kind === 'param' ? v.source.name : `%${v.id}`;
}
