/**
 * Structured pruning of an imported ONNX model: decode it (src/graph/decode.ts), find the
 * prunable layers by the §3 rules (`analyzeChannels`), slice the parameters of each planned layer
 * and its consumers (`sliceChannelGroup`), replay the graph with the new parameter shapes, and
 * encode a smaller model with the weights baked in. When the removed channels were zero in the
 * original (e.g. after ResRep, or a model whose pruned filters were zeroed), both models compute
 * the same outputs.
 */
import { Graph } from '../graph/builder.js';
import { decode } from '../graph/decode.js';
import { encode, liveSet } from '../graph/encode.js';
import type { Value } from '../graph/types.js';
import { ValueError } from '../tensor/errors.js';
import { l1Along, l2Along } from '../tensor/ndarray.js';
import type { Tensor } from '../tensor/tensor.js';
import { type Keep, sliceChannelGroup } from './channels.js';
import { analyzeChannels, type ChannelAnalysis, type ChannelGroup } from './deps.js';
import { PruneError } from './errors.js';
import { countMacs } from './macs.js';
import { floatTensor } from './tensors.js';

export interface ImportedModel {
  readonly graph: Graph;
  /** Float initializers (weights, biases, BN tensors) by name. */
  readonly params: Record<string, Tensor>;
  readonly analysis: ChannelAnalysis;
}

/** Decodes ONNX bytes and analyses which layers can lose output channels (and why not). */
export function analyzeOnnx(bytes: Uint8Array): ImportedModel {
  const { graph, params, nodeNames } = decode(bytes);
  return { graph, params, analysis: analyzeChannels(graph, { nodeNames }) };
}

/**
 * The same graph with parameters of new shapes: every live node is re-applied (shape rules run
 * again), parameters are declared with `params[name].dims`. Input, parameter and output names,
 * node scopes and attributes are kept.
 */
export function rebuildGraph(g: Graph, params: Readonly<Record<string, Tensor>>): Graph {
  const h = new Graph(g.name, { numericNames: g.numericNames });
  const map = new Map<Value, Value>();
  const { nodes: live } = liveSet(g);
  for (const v of g.inputs) {
    const src = v.source as { kind: 'input' | 'param'; name: string };
    map.set(v, src.kind === 'param' ? h.param(src.name, params[src.name]?.dims ?? (v.shape as number[]), v.dtype) : h.input(src.name, v.dtype, v.shape));
  }
  const get = (v: Value): Value => {
    let m = map.get(v);
    if (!m && v.source.kind === 'constant') {
      m = h.constant(v.source.tensor);
      map.set(v, m);
    }
    return m as Value;
  };
  for (const n of g.nodes) {
    if (!live.has(n)) continue;
    const outs = h.scope(n.scope, () => h.apply(n.op, n.inputs.map(get), n.attrs as never));
    n.outputs.forEach((o, i) => {
      map.set(o, outs[i] as Value);
    });
  }
  for (const o of g.outputs) h.output(o.name, get(o.value));
  return h;
}

export interface PrunedOnnx {
  /** The smaller model, weights baked in as initializers. */
  readonly bytes: Uint8Array;
  readonly graph: Graph;
  readonly params: Record<string, Tensor>;
  /** Kept output channels per pruned layer. */
  readonly keep: Record<string, Int32Array>;
  readonly macs: { readonly before: number; readonly after: number };
}

/**
 * Prunes an ONNX model by a plan `{ layer: keep }` (layer names as `analyzeOnnx` reports them).
 * A layer the §3 rules refuse throws PruneError with its rule; indices out of range or unsorted
 * throw PruneError 'plan-indices'; an unknown layer 'plan-shapes'.
 */
export function pruneOnnx(bytes: Uint8Array, plan: Readonly<Record<string, Keep>>): PrunedOnnx {
  const where = 'prune.pruneOnnx';
  const m = analyzeOnnx(bytes);
  let params = m.params;
  const keep: Record<string, Int32Array> = {};
  for (const [layer, k] of Object.entries(plan)) {
    const group = groupOf(where, m.analysis, layer);
    params = sliceChannelGroup(params, group, k);
    keep[layer] = Int32Array.from(k);
  }
  const graph = rebuildGraph(m.graph, params);
  return {
    bytes: encode(graph, { initializers: params, name: m.graph.name }),
    graph,
    params,
    keep,
    macs: { before: countMacs(m.graph).total, after: countMacs(graph).total },
  };
}

/** The prunable group of `layer`, or PruneError naming the rule that refused it. */
export function groupOf(where: string, analysis: ChannelAnalysis, layer: string): ChannelGroup {
  const g = analysis.groups.find((x) => x.layer === layer);
  if (g) return g;
  const r = analysis.refused.find((x) => x.layer === layer);
  if (r) throw new PruneError(where, layer, r.rule, `cannot be pruned: ${r.reason}`);
  const known = [...analysis.groups.map((x) => x.layer), ...analysis.refused.map((x) => x.layer)];
  throw new PruneError(where, layer, 'plan-shapes', `is not a conv or linear layer of this model (layers: ${known.join(', ')})`);
}

/**
 * A ranking plan: in each prunable layer (or `opts.layers`), keep the `keepFraction` of output
 * channels whose filters have the largest L1 (default) or L2 norm (Li et al. 2017), at least one,
 * rounded up to `multipleOf`. Ties keep the lower index. → `{ layer: sorted keep }`.
 */
export function filterNormPlan(
  analysis: ChannelAnalysis,
  params: Readonly<Record<string, Tensor>>,
  opts: { readonly keepFraction: number; readonly norm?: 'l1' | 'l2'; readonly layers?: readonly string[]; readonly multipleOf?: number },
): Record<string, Int32Array> {
  const where = 'prune.filterNormPlan';
  if (!(opts.keepFraction > 0 && opts.keepFraction <= 1)) throw new ValueError(where, `keepFraction must be in (0, 1], got ${opts.keepFraction}`);
  const out: Record<string, Int32Array> = {};
  for (const layer of opts.layers ?? analysis.groups.map((g) => g.layer)) {
    const g = groupOf(where, analysis, layer);
    const w = floatTensor(where, g.producer.weight, params[g.producer.weight]);
    const scores = (opts.norm ?? 'l1') === 'l1' ? l1Along(w, g.producer.outAxis) : l2Along(w, g.producer.outAxis);
    const m = opts.multipleOf ?? 1;
    const n = Math.min(g.width, Math.max(1, Math.ceil(Math.ceil(g.width * opts.keepFraction) / m) * m));
    const order = Array.from({ length: g.width }, (_, j) => j).sort((a, b) => (scores[b] as number) - (scores[a] as number) || a - b);
    out[layer] = Int32Array.from(order.slice(0, n).sort((a, b) => a - b));
  }
  return out;
}
