/**
 * Which layers can lose output channels, and what else must change with them: the eligibility
 * analysis of specs/resrep.md §3 on the op-level Graph, so it serves `cnn` models (through their
 * inference graph) and decoded ONNX models alike. It reads an inference graph (BN in running-
 * statistics form); parameters are graph params, named as in the model's state dict.
 *
 * A producer (Conv with group = 1, Gemm, or MatMul with a parameter weight) is followed through
 * its per-channel affine tail (BatchNormalization, or a MatMul's bias Add) to the compactor site,
 * then forward through ops that keep a zero channel zero (Relu, Gelu, Tanh, SiLU, Identity, pools,
 * Flatten before a linear, a Reshape that keeps a trailing channel axis) to its consumers: Convs
 * with group = 1 and linears. Anything else on the way refuses the layer with the rule it breaks.
 */

import type { CnnConfig } from '../cnn/config.js';
import { cnnInferenceGraph } from '../cnn/model.js';
import type { Graph } from '../graph/builder.js';
import { liveSet } from '../graph/encode.js';
import type { Node, OpName, Value } from '../graph/types.js';
import { fmtDims } from '../tensor/errors.js';
import type { BatchNormRef, ChannelAnalysis, ChannelGroup, ConsumerRef, ProducerRef, RefusedLayer } from './channel-group.js';
import type { PruneRule } from './errors.js';

export type { BatchNormRef, ChannelAnalysis, ChannelGroup, ConsumerRef, ProducerRef, RefusedLayer } from './channel-group.js';

/** Ops that map a zero channel to a zero channel, channel by channel. */
const PASS: ReadonlySet<OpName> = new Set<OpName>(['Relu', 'Gelu', 'Tanh', 'Identity', 'MaxPool', 'AveragePool', 'GlobalAveragePool']);
/** Ops that tie a channel to other channels or tensors. */
const MIXING: ReadonlySet<OpName> = new Set<OpName>([
  'Add',
  'Sub',
  'Mul',
  'Div',
  'Max',
  'Min',
  'Where',
  'Concat',
  'Split',
  'Reshape',
  'Transpose',
  'Slice',
  'Gather',
  'GatherElements',
  'Softmax',
  'LogSoftmax',
  'LayerNormalization',
  'BatchNormalization',
  'ReduceSum',
  'ReduceMean',
  'ReduceMax',
  'Expand',
  'Pad',
  'Squeeze',
  'Unsqueeze',
  'MatMul',
  'Gemm',
  'Conv',
  'ConvTranspose',
  'ScatterElements',
  'TopK',
  'ArgMax',
]);
const F_OF_ZERO: Partial<Record<OpName, string>> = { Sigmoid: '0.5', Exp: '1', Log: '-Inf', Reciprocal: 'Inf', Erf: '0 but it is not an activation here' };

class Refusal extends Error {
  constructor(
    readonly rule: PruneRule,
    readonly reason: string,
  ) {
    super(reason);
  }
}

const paramName = (v: Value | undefined): string | undefined => (v?.source.kind === 'param' ? v.source.name : undefined);
/** Names of nodes, when the graph came from a file that had them (`decode(...).nodeNames`). */
export interface AnalyzeOptions {
  readonly nodeNames?: ReadonlyMap<Node, string>;
}

interface WalkState {
  readonly chanAxis: number;
  readonly spatial: number;
}

/**
 * Finds every conv/linear producer of `g` and sorts it into prunable groups (with consumers) and
 * refused layers (with the rule and reason). Producers are listed in graph order.
 */
export function analyzeChannels(g: Graph, opts: AnalyzeOptions = {}): ChannelAnalysis {
  const named = (n: Node) => opts.nodeNames?.get(n) ?? n.scope;
  const nodeName = (n: Node): string => (named(n) ? `${n.op} '${named(n)}'` : `${n.op} %${n.outputs[0]?.id ?? n.id}`);
  /** A layer is named by its weight (`layer1.0.conv1.weight` → `layer1.0.conv1`), else its node, else the weight. */
  const layerName = (n: Node, weight: string): string => (weight.endsWith('.weight') ? weight.slice(0, -'.weight'.length) : named(n) || weight);
  const { nodes: live } = liveSet(g);
  const readers = new Map<Value, { node: Node; index: number }[]>();
  for (const n of g.nodes) {
    if (!live.has(n)) continue;
    n.inputs.forEach((v, index) => {
      const list = readers.get(v) ?? [];
      list.push({ node: n, index });
      readers.set(v, list);
    });
  }
  const outputs = new Map(g.outputs.map((o) => [o.value, o.name]));
  const groups: ChannelGroup[] = [];
  const refused: RefusedLayer[] = [];
  for (const n of g.nodes) {
    if (!live.has(n)) continue;
    const p = producerOf(n, layerName);
    if (!p) continue;
    try {
      if (p.refusal) throw p.refusal;
      groups.push(follow(n, p.ref, p.layer));
    } catch (e) {
      if (!(e instanceof Refusal)) throw e;
      refused.push({ layer: p.layer, rule: e.rule, reason: e.reason });
    }
  }
  return { groups, refused };

  function follow(n: Node, producer: ProducerRef, layer: string): ChannelGroup {
    let site = n.outputs[0] as Value;
    let bn: BatchNormRef | undefined;
    let bias = producer.bias;
    const only = readers.get(site) ?? [];
    const r0 = only[0];
    if (only.length === 1 && r0 && r0.index === 0 && r0.node.op === 'BatchNormalization') {
      const [, w, b, m, v] = r0.node.inputs.map(paramName);
      if (w && b && m && v) {
        bn = { layer: layerName(r0.node, w), weight: w, bias: b, mean: m, var: v, eps: (r0.node.attrs as { epsilon: number }).epsilon };
        site = r0.node.outputs[0] as Value;
      }
    } else if (only.length === 1 && r0 && n.op === 'MatMul' && r0.node.op === 'Add' && !bias) {
      const other = paramName(r0.node.inputs[1 - r0.index]);
      const ov = r0.node.inputs[1 - r0.index] as Value;
      if (other && ov.shape.length === 1) {
        bias = other;
        site = r0.node.outputs[0] as Value;
      }
    }
    const consumers = new Map<string, ConsumerRef>();
    const path: string[] = [];
    const rank = site.shape.length;
    walk(site, { chanAxis: n.op === 'Conv' ? 1 : rank - 1, spatial: 1 }, consumers, path);
    const width = (n.inputs[1] as Value).shape[producer.outAxis] as number;
    return { layer, width, producer: bias ? { ...producer, bias } : producer, bn, consumers: [...consumers.values()], site, path };
  }

  function walk(v: Value, s: WalkState, consumers: Map<string, ConsumerRef>, path: string[]): void {
    const out = outputs.get(v);
    if (out !== undefined) throw new Refusal('not-graph-output', `its channels reach the graph output '${out}'`);
    const rs = readers.get(v) ?? [];
    if (rs.length === 0) throw new Refusal('zero-preserving-path', `value %${v.id} ${fmtDims(v.shape)} has no reader (dead end)`);
    for (const { node: r, index } of rs) {
      const next = (state: WalkState = s) => {
        path.push(r.op);
        walk(r.outputs[0] as Value, state, consumers, path);
      };
      const spatialAxis = s.chanAxis === 1 && v.shape.length === 4;
      if (r.op === 'Conv' && index === 0 && s.spatial === 1 && spatialAxis) {
        const group = (r.attrs as { group: number }).group;
        const w = paramName(r.inputs[1]);
        if (group !== 1) {
          const dw = group === v.shape[1];
          throw new Refusal(
            'dense-consumer',
            `consumer ${nodeName(r)} is ${dw ? 'depthwise' : 'grouped'} (group = ${group}); only convs with group = 1 and linears may lose input channels`,
          );
        }
        if (!w) throw new Refusal('dense-consumer', `consumer ${nodeName(r)} has a weight that is not a parameter`);
        consumers.set(w, { layer: layerName(r, w), kind: 'conv', weight: w, inAxis: 1, flattenSpatial: 1 });
      } else if ((r.op === 'Gemm' || r.op === 'MatMul') && index === 0 && s.chanAxis === v.shape.length - 1 && paramName(r.inputs[1])) {
        const a = r.attrs as { transA?: boolean; transB?: boolean };
        const w = paramName(r.inputs[1]) as string;
        if (a.transA || (r.inputs[1] as Value).shape.length !== 2)
          throw new Refusal('dense-consumer', `consumer ${nodeName(r)} is not a plain linear (transA or batched weight)`);
        consumers.set(w, { layer: layerName(r, w), kind: 'linear', weight: w, inAxis: r.op === 'Gemm' && a.transB ? 1 : 0, flattenSpatial: s.spatial });
      } else if (r.op === 'ConvTranspose' || r.op === 'Conv') {
        throw new Refusal('dense-consumer', `consumer ${nodeName(r)} reads the channels in a way that cannot drop an input channel`);
      } else if (PASS.has(r.op) && index === 0) {
        if (r.op === 'MaxPool' && (readers.get(r.outputs[1] as Value)?.length ?? 0) > 0)
          throw new Refusal('no-mixing-op', `${nodeName(r)}'s indices output is read`);
        if (r.op.endsWith('Pool') && !spatialAxis) throw new Refusal('no-mixing-op', `${nodeName(r)} pools over the channel axis`);
        next();
      } else if (r.op === 'Flatten' && s.chanAxis === 1 && (r.attrs as { axis: number }).axis === 1) {
        const rest = v.shape.slice(2);
        if (!rest.every((d) => typeof d === 'number')) throw new Refusal('no-mixing-op', `${nodeName(r)} flattens symbolic dims ${fmtDims(v.shape)}`);
        next({ chanAxis: 1, spatial: s.spatial * rest.reduce((p: number, d) => p * (d as number), 1) });
      } else if (r.op === 'Reshape' && keepsTrailingChannel(v, r.outputs[0] as Value, s)) {
        next({ chanAxis: (r.outputs[0] as Value).shape.length - 1, spatial: s.spatial });
      } else if (r.op === 'Sigmoid' && isSiluGate(v, r)) {
        const mul = (readers.get(r.outputs[0] as Value) ?? [])[0]?.node as Node;
        path.push('SiLU');
        walk(mul.outputs[0] as Value, s, consumers, path);
      } else if (r.op === 'Mul' && isSiluMul(v, r)) {
        // the other half of a SiLU, reached through the Sigmoid branch
      } else if (F_OF_ZERO[r.op] !== undefined) {
        throw new Refusal('zero-preserving-path', `${nodeName(r)} maps a zero channel to ${F_OF_ZERO[r.op]}, so the channel cannot be deleted exactly`);
      } else if (MIXING.has(r.op)) {
        throw new Refusal('no-mixing-op', `its channels reach ${nodeName(r)}, which ${mixingWhy(r.op)}`);
      } else {
        throw new Refusal('zero-preserving-path', `${nodeName(r)} is not known to keep a zero channel zero`);
      }
    }
  }

  function isSiluGate(x: Value, sig: Node): boolean {
    const rs = readers.get(sig.outputs[0] as Value) ?? [];
    return rs.length === 1 && rs[0]?.node.op === 'Mul' && (rs[0].node.inputs as Value[]).includes(x);
  }
  function isSiluMul(x: Value, mul: Node): boolean {
    const other = mul.inputs.find((i) => i !== x);
    return other?.source.kind === 'node' && other.source.node.op === 'Sigmoid' && other.source.node.inputs[0] === x;
  }
}

function mixingWhy(op: OpName): string {
  if (op === 'Add' || op === 'Sub') return 'ties them to another branch (a residual add)';
  if (op === 'Concat' || op === 'Split') return 'shifts channel positions';
  if (op === 'BatchNormalization') return 'maps a zero channel to β − μγ/√(σ²+ε)';
  if (op === 'LayerNormalization' || op === 'Softmax' || op === 'LogSoftmax') return 'normalises over the channel axis';
  return 'mixes or moves channels';
}

function keepsTrailingChannel(x: Value, y: Value, s: WalkState): boolean {
  const last = x.shape.length - 1;
  return s.spatial === 1 && s.chanAxis === last && x.shape[last] === y.shape[y.shape.length - 1] && typeof x.shape[last] === 'number';
}

function producerOf(n: Node, layerName: (n: Node, w: string) => string): { ref: ProducerRef; layer: string; refusal?: Refusal } | undefined {
  const w = paramName(n.inputs[1]);
  if (!w || n.inputs[0]?.source.kind === 'param') return undefined;
  const layer = layerName(n, w);
  if (n.op === 'Conv') {
    const group = (n.attrs as { group: number }).group;
    const ref: ProducerRef = { kind: 'conv', weight: w, bias: paramName(n.inputs[2]), outAxis: 0 };
    if (group === 1) return { ref, layer };
    return {
      ref,
      layer,
      refusal: new Refusal('dense-target', `Conv has group = ${group}: a compactor mixes output channels across groups, so Q·K is not a grouped kernel`),
    };
  }
  if (n.op === 'Gemm' || n.op === 'MatMul') {
    const a = n.attrs as { transA?: boolean; transB?: boolean };
    if (a.transA || (n.inputs[1] as Value).shape.length !== 2) return undefined;
    const b = paramName(n.inputs[2]);
    return { ref: { kind: 'linear', weight: w, bias: b, outAxis: n.op === 'Gemm' && a.transB ? 0 : 1 }, layer };
  }
  return undefined;
}

const cnnCache = new Map<string, ChannelAnalysis>();

/** `analyzeChannels` of a `cnn` config's inference graph (cached per config). Layer names are the config's. */
export function cnnChannelAnalysis(c: CnnConfig): ChannelAnalysis {
  const key = JSON.stringify(c);
  let a = cnnCache.get(key);
  if (!a) {
    a = analyzeChannels(cnnInferenceGraph(c));
    cnnCache.set(key, a);
  }
  return a;
}
