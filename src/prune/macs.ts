/**
 * Multiply-accumulates, specs/resrep.md §7: batch 1, no factor 2; conv H_out·W_out·C_out·(C_in/groups)·
 * kh·kw, linear tokens·out·in, matmuls of two activations (attention QKᵀ and AV) counted too; BN,
 * biases, activations, pooling, adds, softmax and norms ignored. Counted on the op-level Graph, so
 * it serves `cnn` models, ViTs and decoded ONNX models alike; symbolic dims (the batch) count as 1.
 */
import type { CnnModel } from '../cnn/api.js';
import type { CnnConfig } from '../cnn/config.js';
import { cnnInferenceGraph } from '../cnn/model.js';
import { Graph } from '../graph/builder.js';
import { liveSet } from '../graph/encode.js';
import { dimFactors } from '../graph/shape.js';
import type { Dim, Node, Value } from '../graph/types.js';
import { ValueError } from '../tensor/errors.js';
import type { ChannelAnalysis } from './deps.js';

/** MACs of a conv: H_out·W_out·C_out·(C_in/groups)·kh·kw. */
export function convMacs(o: { hOut: number; wOut: number; cOut: number; cIn: number; kh: number; kw: number; groups?: number }): number {
  return o.hOut * o.wOut * o.cOut * (o.cIn / (o.groups ?? 1)) * o.kh * o.kw;
}

/** MACs of a linear on `tokens` rows: tokens·out·in. */
export function linearMacs(o: { tokens?: number; out: number; in: number }): number {
  return (o.tokens ?? 1) * o.out * o.in;
}

/** MACs of a ViT MLP (fc1 E→H, fc2 H→E) on N tokens: 2·N·E·H. */
export function vitMlpMacs(o: { tokens: number; dim: number; hidden: number }): number {
  return 2 * o.tokens * o.dim * o.hidden;
}

/** A dim at batch 1: symbols (and symbolic factors of products such as `(B*50)`) count as 1. */
function at1(d: Dim | undefined): number {
  return dimFactors(d ?? 1).reduce((p: number, f) => p * (typeof f === 'number' ? f : 1), 1);
}
const prod = (dims: readonly Dim[]): number => dims.reduce((p: number, d) => p * at1(d), 1);

/** One counted node: its MACs and its output/input channel counts (for the widths function). */
interface Term {
  readonly layer: string;
  readonly op: string;
  readonly macs: number;
  readonly weight?: string;
  readonly cOut: number;
  readonly cIn: number;
}

function termOf(n: Node): Term | undefined {
  const w = n.inputs[1] as Value | undefined;
  const weight = w?.source.kind === 'param' ? w.source.name : undefined;
  const layer = weight?.endsWith('.weight') ? weight.slice(0, -7) : n.scope || `${n.op}%${n.id}`;
  const y = n.outputs[0] as Value;
  if (n.op === 'Conv' && w) {
    const [o, cg, kh, kw] = w.shape.map(at1) as [number, number, number, number];
    const g = (n.attrs as { group: number }).group;
    return { layer, op: n.op, weight, macs: at1(y.shape[2]) * at1(y.shape[3]) * o * cg * kh * kw, cOut: o, cIn: cg * g };
  }
  if (n.op === 'ConvTranspose' && w) {
    const x = n.inputs[0] as Value;
    return { layer, op: n.op, weight, macs: prod(x.shape.slice(2)) * prod(w.shape), cOut: at1(y.shape[1]), cIn: at1(x.shape[1]) };
  }
  if ((n.op === 'Gemm' || n.op === 'MatMul') && w) {
    const a = n.inputs[0] as Value;
    const t = n.attrs as { transA?: boolean; transB?: boolean };
    const k = at1(t.transA ? a.shape[a.shape.length - 2] : a.shape[a.shape.length - 1]);
    const out = at1(y.shape[y.shape.length - 1]);
    const rows = prod(y.shape.slice(0, -1));
    // A parameter weight is a linear layer; otherwise two activations (attention): batch dims count.
    return { layer, op: n.op, weight, macs: rows * out * k, cOut: out, cIn: k };
  }
  return undefined;
}

export interface MacsReport {
  /** Total MACs at batch 1. */
  readonly total: number;
  /** Per counted node (conv, conv-transpose, Gemm, MatMul), in graph order. */
  readonly layers: readonly { readonly layer: string; readonly op: string; readonly macs: number }[];
}

function graphOf(where: string, model: Graph | CnnModel | CnnConfig): Graph {
  if (model instanceof Graph) return model;
  const c = (model as CnnModel).config ?? model;
  if ((c as CnnConfig)?.kind !== 'cnn') throw new ValueError(where, `model must be a Graph, a cnn model or a cnn config, got ${typeof model}`);
  return cnnInferenceGraph(c as CnnConfig);
}

/**
 * MACs of a model (§7 convention): a Graph (inference graph, e.g. decoded ONNX or a ViT), a `cnn`
 * model or a `cnn` config. `countMacs(cnn.create('fmnist-resnet20')).total`.
 */
export function countMacs(model: Graph | CnnModel | CnnConfig): MacsReport {
  const g = graphOf('prune.countMacs', model);
  const { nodes: live } = liveSet(g);
  const layers = g.nodes
    .filter((n) => live.has(n))
    .flatMap((n) => {
      const t = termOf(n);
      return t ? [{ layer: t.layer, op: t.op, macs: t.macs }] : [];
    });
  return { total: layers.reduce((s, l) => s + l.macs, 0), layers };
}

/**
 * F(widths) of §7 for the prunable groups of `analysis` (in that order): every counted node's MACs
 * scale with its output width when it is a group's producer and with its input width when it is a
 * group's consumer, so F is exact and costs O(nodes) per call (the mask schedule calls it often).
 * `widths[i]` is the width of `analysis.groups[i]`; `F(originalWidths)` equals `countMacs(g).total`.
 */
export function macsFunction(model: Graph | CnnModel | CnnConfig, analysis: ChannelAnalysis): (widths: ArrayLike<number>) => number {
  const g = graphOf('prune.macsFunction', model);
  const { nodes: live } = liveSet(g);
  const outOf = new Map<string, number>();
  const inOf = new Map<string, { group: number; spatial: number }>();
  analysis.groups.forEach((grp, i) => {
    outOf.set(grp.producer.weight, i);
    for (const c of grp.consumers) inOf.set(c.weight, { group: i, spatial: c.flattenSpatial });
  });
  const terms = g.nodes
    .filter((n) => live.has(n))
    .flatMap((n) => {
      const t = termOf(n);
      if (!t) return [];
      const o = t.weight !== undefined ? outOf.get(t.weight) : undefined;
      const c = t.weight !== undefined ? inOf.get(t.weight) : undefined;
      // A linear after Flatten reads C·S columns: its MACs scale with the channel count C.
      const base = t.macs / ((o !== undefined ? t.cOut : 1) * (c !== undefined ? t.cIn / c.spatial : 1));
      return [{ base, o, i: c?.group }];
    });
  return (widths) =>
    terms.reduce((s, t) => s + t.base * (t.o !== undefined ? (widths[t.o] as number) : 1) * (t.i !== undefined ? (widths[t.i] as number) : 1), 0);
}
