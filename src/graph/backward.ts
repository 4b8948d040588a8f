import { fmtDims, GraphError } from '../tensor/errors.js';
import type { Graph } from './builder.js';
import { valueName } from './builder.js';
import { ops } from './ops/index.js';
import { dimsAgree, FLOATS, shapesEqual } from './shape.js';
import type { Node, Value, Vjp } from './types.js';

export interface BackwardOptions {
  /** Seed gradient ∂L/∂loss (default: ones; required when `loss` is not a single element). */
  readonly seed?: Value;
}

/** Values that depend on any of `roots` (forward reachability), over the graph's nodes. */
function dependents(g: Graph, roots: readonly Value[]): Set<Value> {
  const dep = new Set<Value>(roots);
  for (const n of g.nodes) {
    if (n.inputs.some((v) => dep.has(v))) for (const o of n.outputs) dep.add(o);
  }
  return dep;
}

/** Nodes whose outputs `loss` depends on (backward reachability). */
function ancestors(loss: Value): Set<Node> {
  const seen = new Set<Node>();
  const stack = [loss];
  while (stack.length > 0) {
    const v = stack.pop() as Value;
    if (v.source.kind !== 'node' || seen.has(v.source.node)) continue;
    seen.add(v.source.node);
    stack.push(...v.source.node.inputs);
  }
  return seen;
}

/**
 * Appends the gradient of `loss` with respect to each of `wrt` to the graph and returns them
 * (same shapes and dtypes as `wrt`). A reverse walk over the nodes between `wrt` and `loss`:
 * each op's VJP (from the op table) maps output gradients to input gradients, fan-out is summed
 * with Add, `StopGradient` and non-differentiable ops end the flow. A `wrt` value the loss does not
 * depend on gets zeros. The appended nodes are ordinary graph ops, so calling `backward` again on a
 * gradient gives second derivatives (Hessian-vector products).
 */
export function backward(g: Graph, loss: Value, wrt: readonly Value[], opts: BackwardOptions = {}): Value[] {
  if (loss.graph !== g) throw new GraphError('backward', `loss %${loss.id} belongs to another graph`);
  if (!FLOATS.includes(loss.dtype)) throw new GraphError('backward', `loss must be float32 or float64, got ${loss.dtype}`);
  for (const v of wrt) {
    if (v.graph !== g) throw new GraphError('backward', `wrt value ${valueName(v)} belongs to another graph`);
    if (!FLOATS.includes(v.dtype)) throw new GraphError('backward', `cannot differentiate with respect to ${valueName(v)} of dtype ${v.dtype}`);
  }
  let seed = opts.seed;
  if (!seed) {
    const single = loss.shape.every((d) => d === 1);
    if (!single) throw new GraphError('backward', `loss must have one element or a seed must be given, got ${fmtDims(loss.shape)}`);
    seed = loss.shape.length === 0 ? g.constLike(loss, 1) : g.Expand(g.constLike(loss, 1), loss.shape);
  } else if (seed.dtype !== loss.dtype || seed.shape.length !== loss.shape.length) {
    throw new GraphError('backward', `seed must be ${fmtDims(loss.shape)} ${loss.dtype}, got ${fmtDims(seed.shape)} ${seed.dtype}`);
  }

  const dep = dependents(g, wrt);
  const onPath = ancestors(loss);
  const grads = new Map<Value, Value>([[loss, seed]]);
  const accumulate = (v: Value, gv: Value) => {
    const prev = grads.get(v);
    grads.set(v, prev ? g.Add(prev, gv) : gv);
  };

  // Nodes were appended in topological order; walk the relevant ones in reverse. Snapshot the list
  // first, since the VJPs append to it.
  const relevant = g.nodes.filter((n) => onPath.has(n) && n.outputs.some((o) => dep.has(o)));
  for (let i = relevant.length - 1; i >= 0; i--) {
    const node = relevant[i] as Node;
    const gys = node.outputs.map((o) => grads.get(o) ?? null);
    if (gys.every((x) => x === null)) continue;
    const rule = ops[node.op];
    if ('noGrad' in rule.vjp) continue;
    const din = g.scope(node.scope ? `${node.scope}.grad` : 'grad', () =>
      (rule.vjp as Vjp<typeof node.op>)(g, { inputs: node.inputs, outputs: node.outputs, gys, attrs: node.attrs as never }),
    );
    node.inputs.forEach((x, k) => {
      const gx = din[k];
      if (!gx || !dep.has(x) || !FLOATS.includes(x.dtype)) return;
      const ok = gx.dtype === x.dtype && gx.shape.length === x.shape.length && gx.shape.every((d, j) => dimsAgree(d, x.shape[j] as never));
      if (!ok) {
        throw new GraphError(`backward ${node.op}`, `VJP for input ${k} gave ${fmtDims(gx.shape)} ${gx.dtype}, input is ${fmtDims(x.shape)} ${x.dtype}`);
      }
      // A VJP may know a symbolic dim only as an expression (`(B[1:-1:1]+2)` for B): restate x's own
      // shape, so the gradient composes with x-shaped values (updates, HVP directions, other terms).
      accumulate(x, shapesEqual(gx.shape, x.shape) ? gx : g.Reshape(gx, x.shape));
    });
  }
  return wrt.map((v) => grads.get(v) ?? g.zerosLike(v));
}
