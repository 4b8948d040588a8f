import { Graph } from '../graph/builder.js';
import { softmaxCrossEntropy } from '../graph/nn.js';
import type { Dim } from '../graph/types.js';
import { addGradients } from '../train/step.js';
import { numTokens, type VitConfig } from '../vit/config.js';
import { classify, type ForwardHooks } from '../vit/model.js';
import { vitParams } from '../vit/params.js';
import type { PrunerConfig } from './config.js';
import { scorerParams } from './params.js';
import { prunerLogits } from './scorer.js';
import { keyBias } from './tokens.js';

/**
 * Stream 2's forward from a cut: `h` [B, N, D] (block `cut`'s plain output) and `keep` [B, N]
 * (one token dropped per sample) → `logits` of blocks cut+1… and the head. Exact against a full
 * forward with the same single cut, since dropout is 0.
 */
export function tailGraph(c: VitConfig, cut: number): Graph {
  const g = new Graph(`${c.name}-apt-tail-${cut}`);
  const n = numTokens(c);
  const h = g.input('h', 'float32', ['B', n, c.dim]);
  const keep = g.input('keep', 'float32', ['B', n]);
  const bias = keyBias(g, keep);
  const vit = vitParams(g, c);
  g.output('logits', classify(g, vit, null, c, { start: cut + 1, tokens: h, attnBias: () => bias }).logits);
  return g;
}

/**
 * Stream 2 in the pruned context (an extension): the forward from cut k of stream 1's state. `h`
 * [B, N, D] is block cutLayers[k]'s output in stream 1 (masked), `keep.{k'}` [B, N] for k' = k…K−1
 * the alive masks after each remaining cut (stream 1's, with one token toggled) → `logits`. With
 * stream 1's own masks it reproduces stream 1's logits.
 */
export function contextTailGraph(c: VitConfig, p: PrunerConfig, k: number): Graph {
  const g = new Graph(`${c.name}-apt-context-tail-${k}`);
  const n = numTokens(c);
  const h = g.input('h', 'float32', ['B', n, c.dim]);
  const biasAfter = new Map(p.cutLayers.slice(k).map((l, i) => [l, keyBias(g, g.input(`keep.${k + i}`, 'float32', ['B', n]))]));
  let bias = biasAfter.get(p.cutLayers[k] as number);
  const vit = vitParams(g, c);
  const hooks: ForwardHooks = {
    start: (p.cutLayers[k] as number) + 1,
    tokens: h,
    attnBias: () => bias,
    afterBlock: (i) => {
      bias = biasAfter.get(i) ?? bias;
      return undefined;
    },
  };
  g.output('logits', classify(g, vit, null, c, hooks).logits);
  return g;
}

/**
 * The agent's update for one cut layer: `h` [B, N, D], the explored token `j` [B] and its
 * reward-sign label `c` [B] (int64) → `loss` = mean_b CE(l[b, j_b, :], c_b) and the gradient of
 * every pruner parameter (generic names `query.weight`, …; feed pruner k's tensors).
 */
export function agentLossGraph(c: VitConfig): Graph {
  const g = new Graph(`${c.name}-apt-agent`);
  const n = numTokens(c);
  const h = g.input('h', 'float32', ['B', n, c.dim]);
  const j = g.input('j', 'int64', ['B']);
  const label = g.input('c', 'int64', ['B']);
  const p = scorerParams(g, c.dim, '');
  const logits = prunerLogits(g, p, h); // [B, N, 2]
  const at = g.Expand(g.Reshape(j, [-1, 1, 1]), [j.shape[0] as Dim, 1, 2]);
  const chosen = g.Reshape(g.GatherElements(logits, at, 1), [-1, 2]); // [B, 2]
  g.output('chosen', chosen);
  addGradients(g, softmaxCrossEntropy(g, chosen, label), p);
  return g;
}
