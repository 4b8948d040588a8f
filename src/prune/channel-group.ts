/** The records the channel analysis (./deps.ts) returns: who produces a layer's channels and who reads them. */
import type { Value } from '../graph/types.js';
import type { PruneRule } from './errors.js';

export interface ProducerRef {
  readonly kind: 'conv' | 'linear';
  /** Parameter names of the weight and (optional) bias. */
  readonly weight: string;
  readonly bias?: string;
  /** Output-channel axis of the weight: 0 for conv [D, C, kh, kw] and Gemm transB [D, C]; 1 for MatMul [C, D]. */
  readonly outAxis: number;
}

export interface BatchNormRef {
  readonly layer: string;
  readonly weight: string;
  readonly bias: string;
  readonly mean: string;
  readonly var: string;
  readonly eps: number;
}

export interface ConsumerRef {
  readonly layer: string;
  readonly kind: 'conv' | 'linear';
  readonly weight: string;
  /** Input-channel axis of the weight: 1 for conv and Gemm transB, 0 for MatMul [C, O]. */
  readonly inAxis: number;
  /** Columns per channel of a linear after Flatten of [D, H, W]: H·W (1 otherwise). */
  readonly flattenSpatial: number;
}

/** A prunable layer: its producer, per-channel affine tail, and every consumer of its channels. */
export interface ChannelGroup {
  readonly layer: string;
  /** Output channels D. */
  readonly width: number;
  readonly producer: ProducerRef;
  readonly bn?: BatchNormRef;
  readonly consumers: readonly ConsumerRef[];
  /** The value after the affine tail, [B, D, H, W] or [.., D]: where a compactor goes (before the activation). */
  readonly site: Value;
  /** Ops between the site and the consumers, in walk order (e.g. ['Relu', 'MaxPool']). */
  readonly path: readonly string[];
}

/** A conv/linear that cannot be pruned, with the §3 rule it breaks. */
export interface RefusedLayer {
  readonly layer: string;
  readonly rule: PruneRule;
  readonly reason: string;
}

export interface ChannelAnalysis {
  readonly groups: readonly ChannelGroup[];
  readonly refused: readonly RefusedLayer[];
}
