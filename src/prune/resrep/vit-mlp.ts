/**
 * ResRep on a ViT MLP (specs/resrep.md §4): fc1 [H, E] + b1 → Q [H, H] → GELU → fc2 [E, H] + b2.
 * The compactor sits after fc1 and before GELU, so a zero row j makes hidden unit j exactly 0 for
 * every token; GELU(0) = 0, so column j of fc2 receives 0 and can be dropped. No BN to fold.
 * The embedding width E (residual adds, LayerNorm) and attention dims are out of scope.
 */
import type { Graph } from '../../graph/builder.js';
import { type GeluKind, gelu, linear } from '../../graph/nn.js';
import type { Value } from '../../graph/types.js';
import { sliceInputChannels } from '../channels.js';
import type { LayerTensors } from '../fold-bn.js';
import type { FloatTensor } from '../tensors.js';
import { type MergeOptions, mergeCompactor } from './merge.js';

/** Graph values of one MLP with its compactor (timm keys plus `compactor.weight` [H, H]). */
export interface MlpCompactorParams {
  readonly 'fc1.weight': Value;
  readonly 'fc1.bias': Value;
  readonly 'fc2.weight': Value;
  readonly 'fc2.bias': Value;
  readonly 'compactor.weight': Value;
}

/** fc1 → Q → GELU → fc2 on x [.., E] → [.., E]; with Q = I it equals the plain MLP. */
export function mlpWithCompactor(g: Graph, p: MlpCompactorParams, x: Value, kind: GeluKind = 'erf'): Value {
  return g.scope('mlp', () => {
    const h = linear(g, x, p['fc1.weight'], p['fc1.bias']); // [.., H]
    const q = g.scope('compactor', () => linear(g, h, p['compactor.weight'])); // [.., H], no bias
    return linear(g, gelu(g, q, kind), p['fc2.weight'], p['fc2.bias']);
  });
}

/**
 * Merges an MLP's compactor: W1' = Q'·W1, b1' = Q'·b1, W2' = W2[:, keep], b2 unchanged
 * (Q' = rows of Q with norm ≥ threshold). fc1 [H, E], fc2 [E, H], Q [H, H] →
 * { fc1: [H', E] + [H'], fc2: [E, H'] + [E], keep }.
 */
export function mergeVitMlp(
  mlp: { readonly fc1: LayerTensors; readonly fc2: LayerTensors },
  q: unknown,
  opts: MergeOptions = {},
): { fc1: { weight: FloatTensor; bias: FloatTensor }; fc2: LayerTensors; keep: Int32Array } {
  const m = mergeCompactor(mlp.fc1, q, { layer: 'mlp.fc1', ...opts });
  const fc2 = sliceInputChannels(mlp.fc2, m.keep, { layer: 'mlp.fc2' });
  return { fc1: { weight: m.weight, bias: m.bias }, fc2, keep: m.keep };
}
