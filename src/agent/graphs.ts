import { Graph } from '../graph/builder.js';
import { correctCount, distillationKL, softmaxCrossEntropy } from '../graph/nn.js';
import type { Value } from '../graph/types.js';
import { ValueError } from '../tensor/errors.js';
import type { DistillOptions, RewardContext } from '../train/apt-recipe.js';
import { addGradients } from '../train/step.js';
import { numTokens, type VitConfig } from '../vit/config.js';
import { classify, type ForwardHooks } from '../vit/model.js';
import { type Params, type VitKey, vitParams } from '../vit/params.js';
import { attentionPriorLoss } from './attention-prior.js';
import { type PrunerConfig, usesScorer } from './config.js';
import { aliveSlot, appendSlot, fuseDropped, splitFused } from './fusion.js';
import { prunerKey, type ScorerKey, scorerParams } from './params.js';
import { dropProbability, prunerLogits } from './scorer.js';
import { allTokens, decideAndGather, decideMask, type Gathered, keyBias, straightThroughGate } from './tokens.js';

export type PruneMode = 'masked' | 'gathered';

export interface PrunedForward {
  readonly logits: Value;
  /** Per cut layer: the alive mask after it ([B, N] masked; [B, n_k] gathered). */
  readonly keeps: readonly Value[];
  /** Gathered mode, per cut layer: original token index of each kept position [B, n_k] int64. */
  readonly indices: readonly Value[];
  /** Per cut layer: the block output the pruner decided on (masked: [B, N, D], all positions). */
  readonly cutStates: readonly Value[];
}

/** Count of tokens kept at cut k (static strategies); threshold decides per token. */
function countAt(p: PrunerConfig, k: number): number {
  return p.strategy.kind === 'threshold' ? 0 : (p.strategy.keep[k] as number);
}

/**
 * Whether cut k may drop a token (threshold: always; static counts: when it keeps fewer than enter).
 * With fusion, the fused slot appears at the first such cut: a static count that drops nothing has
 * nothing to fuse, and a slot that stayed empty would change the logits.
 */
function mayDrop(p: PrunerConfig, k: number, entering: number): boolean {
  return p.strategy.kind === 'threshold' || countAt(p, k) < entering;
}

/**
 * A ViT forward with APT decisions at the cut layers. `masked`: dropped tokens stay in the
 * sequence as masked keys (−10000 attention bias, accumulating) — the training and reference form.
 * `gathered`: dropped tokens are removed (gather), later blocks and pruners run on fewer tokens —
 * the inference form; same logits as masked (up to float rounding). With `p.fuse` (extension) the
 * dropped tokens are merged into one token appended to the sequence (agent/fusion.ts), in both forms.
 */
export function prunedForward(
  g: Graph,
  vit: Params<VitKey>,
  scorers: readonly Params<ScorerKey>[],
  images: Value,
  c: VitConfig,
  p: PrunerConfig,
  mode: PruneMode,
  randomScores: readonly Value[] = [],
  taskGrad = 0,
): PrunedForward {
  if (taskGrad > 0 && (mode !== 'masked' || p.fuse || !usesScorer(p.strategy)))
    throw new ValueError(
      'prunedForward',
      `taskGrad needs the masked form, a strategy with a scorer and no fusion, got ${mode} ${p.strategy.kind}${p.fuse ? ' with fuse' : ''}`,
    );
  const keeps: Value[] = [];
  const indices: Value[] = [];
  const cutStates: Value[] = [];
  const cutOf = new Map(p.cutLayers.map((l, k) => [l, k]));
  let maskedKeep: Value | null = null;
  let state: Gathered | null = null;
  /** Attention bias of the blocks after the latest cut (masked keys; none for static gathers). */
  let bias: Value | undefined;
  /** With taskGrad: the straight-through keep gate [B, N] (accumulating) and its attention form. */
  let gate: Value | null = null;
  let attnGate: Value | undefined;
  let index0: Value | null = null;
  /** The fused slot's alive mask [B, 1] once the sequence carries one (last position). */
  let slotAlive: Value | null = null;
  let entering = numTokens(c);
  const withSlot = (keep: Value) => (slotAlive ? appendSlot(g, keep, slotAlive) : keep);
  const hooks: ForwardHooks = {
    attnBias: () => bias,
    attnGate: () => attnGate,
    afterBlock: (i, out, clsAttn) => {
      const k = cutOf.get(i);
      if (k === undefined) return undefined;
      return g.scope(`prune.${k}`, () => {
        const seq = slotAlive ? splitFused(g, out, clsAttn) : { tokens: out, attn: clsAttn, slot: undefined };
        cutStates.push(seq.tokens);
        const fuseHere = p.fuse && (slotAlive !== null || mayDrop(p, k, entering));
        if (p.strategy.kind !== 'threshold') entering = countAt(p, k);
        const rnd = randomScores[k];
        let before: Value;
        let after: Value;
        let next: Value | undefined;
        if (mode === 'masked') {
          const start = maskedKeep ? null : allTokens(g, seq.tokens);
          index0 ??= (start as Gathered).index;
          before = maskedKeep ?? (start as Gathered).keep;
          after = decideMask(g, p.strategy, countAt(p, k), {
            tokens: seq.tokens,
            clsAttn: seq.attn,
            keep: before,
            index: index0,
            pruner: scorers[k],
            randomScore: rnd,
          });
          keeps.push(after);
          next = undefined; // masked: the sequence stays as it is
        } else {
          const cur: Gathered = state ? { ...state, tokens: seq.tokens } : allTokens(g, seq.tokens);
          const randomScore = rnd ? g.GatherElements(rnd, cur.index, 1) : undefined;
          const r = decideAndGather(g, p.strategy, countAt(p, k), cur, { clsAttn: seq.attn, pruner: scorers[k], randomScore }, `n${k}`);
          state = { tokens: r.tokens, keep: r.keep, index: r.index };
          keeps.push(state.keep);
          indices.push(state.index);
          [before, after, next] = [cur.keep, r.chosen, state.tokens];
        }
        if (fuseHere) {
          const f = fuseDropped(g, seq.tokens, g.Sub(before, after), seq.attn, seq.slot);
          // Static counts that drop something always fuse something: the slot needs no mask.
          slotAlive = p.strategy.kind === 'threshold' ? f.alive : aliveSlot(g, f.alive);
          next = appendSlot(g, next ?? seq.tokens, f.token);
        }
        if (mode === 'masked') maskedKeep = after;
        if (taskGrad > 0) {
          gate = straightThroughGate(g, gate, after, scorers[k] as Params<ScorerKey>, seq.tokens, taskGrad);
          attnGate = g.Unsqueeze(gate, [1, 2]);
        }
        // Gathered static counts keep every position alive: no bias. Threshold pads, masked masks.
        else if (mode === 'masked' || p.strategy.kind === 'threshold') bias = keyBias(g, withSlot(mode === 'masked' ? after : (state as Gathered).keep));
        return next;
      });
    },
  };
  return { logits: classify(g, vit, images, c, hooks).logits, keeps, indices, cutStates };
}

/** Declares the pruners' parameters, named as in checkpoints (`clip_layer.{k}.…`). */
export function prunerParams(g: Graph, c: VitConfig, p: PrunerConfig): Params<ScorerKey>[] {
  return p.cutLayers.map((_, k) => scorerParams(g, c.dim, `clip_layer.${k}.`));
}

/** Random-baseline score inputs (`random_score.{k}` [B, N]), one per cut layer, or none. */
function randomInputs(g: Graph, c: VitConfig, p: PrunerConfig): Value[] {
  if (p.strategy.kind !== 'random') return [];
  const n = numTokens(c);
  return p.cutLayers.map((_, k) => g.input(`random_score.${k}`, 'float32', ['B', n]));
}

/**
 * Inference graph: `images` → `logits`, and per cut layer `kept.{k}` (tokens kept per sample, [B])
 * and, gathered, `index.{k}` (original indices of the kept tokens, [B, n_k]: the kept ones first,
 * ascending, then padding) or, masked, `mask.{k}` (the alive mask [B, N]).
 */
export function prunedInferenceGraph(c: VitConfig, p: PrunerConfig, mode: PruneMode): Graph {
  const g = new Graph(`${c.name}-apt-${mode}`);
  const images = g.input('images', 'float32', ['B', c.inChans, c.imageSize, c.imageSize]);
  const f = prunedForward(g, vitParams(g, c), prunerParams(g, c, p), images, c, p, mode, randomInputs(g, c, p));
  g.output('logits', f.logits);
  f.keeps.forEach((k, i) => {
    g.output(`kept.${i}`, g.ReduceSum(k, [1], false));
    if (mode === 'masked') g.output(`mask.${i}`, k);
  });
  f.indices.forEach((x, i) => {
    g.output(`index.${i}`, x);
  });
  return g;
}

/** Extensions of the training graph (all absent = the source's streams 0 and 1). */
export interface AptGraphOptions {
  /** Stream 1's loss becomes (1 − α)·CE + α·T²·KL(teacher ‖ pruned), see `DistillOptions`. */
  readonly distill?: DistillOptions;
  /** 'pruned': also output stream 1's cut states, masks and P(drop) for stream 2 in that context. */
  readonly rewardContext?: RewardContext;
  /** λ > 0: the pruners also get λ·∂loss/∂θ through straight-through key gates (masked stream 1). */
  readonly taskGrad?: number;
  /** β > 0 (budget only): the pruners also get β·∂prior/∂θ, EViT's decisions as labels (`attentionPriorLoss`). */
  readonly attentionPrior?: number;
  /** The counts the prior teaches at (default the strategy's): a run whose stream 1 warms its counts up (`recipe.keepWarmup`). */
  readonly priorKeep?: readonly number[];
}

/**
 * Streams 0 and 1 of APT training in one graph. Inputs `images`, `labels`, the ViT and pruner
 * parameters. Stream 0 (plain, no gradient): `logits.plain`, and per cut layer the block output
 * `h.{k}` [B, N, D] and the pruner's `pdrop.{k}` [B, N] on it (for stream 2's exploration). Stream 1
 * (decisions at every cut, masked, accumulating): `loss` = mean CE, `correct`, `kept.{k}`, and the
 * gradient of `loss` for every ViT parameter only — the pruners' inputs are detached and their
 * decisions are comparisons, so no gradient reaches them. With `distill` (an extension), `loss` =
 * (1 − α)·CE + α·T²·KL(teacher ‖ pruned), the teacher's logits detached: stream 0's plain logits
 * (`teacher: 'live'`) or an input `logits.teacher` [B, K] (`'frozen'`, the default). With
 * `taskGrad` λ > 0 (an extension) the same forward also outputs `grad:clip_layer.{k}.…`, λ times the
 * loss's gradient through straight-through gates (`straightThroughGate`). With `attentionPrior` β > 0
 * (an extension, budget only) it outputs `prior.{k}` (`attentionPriorLoss` on stream 0) and the
 * pruners' gradients include β·∂prior.{k}/∂θ (no ViT gradient changes: the prior reads detached states).
 */
export function aptTrainGraph(c: VitConfig, p: PrunerConfig, opts: AptGraphOptions = {}): Graph {
  const { distill, rewardContext = 'plain', taskGrad = 0, attentionPrior = 0 } = opts;
  if (attentionPrior > 0 && (p.strategy.kind !== 'budget' || p.fuse))
    throw new ValueError('aptTrainGraph', `attentionPrior needs the budget strategy without fusion, got ${p.strategy.kind}${p.fuse ? ' with fuse' : ''}`);
  const g = new Graph(`${c.name}-apt-train`);
  const images = g.input('images', 'float32', ['B', c.inChans, c.imageSize, c.imageSize]);
  const labels = g.input('labels', 'int64', ['B']);
  const vit = vitParams(g, c);
  const scorers = prunerParams(g, c, p);
  const plain = g.scope('plain', () => classify(g, vit, images, c));
  g.output('logits.plain', g.StopGradient(plain.logits));
  p.cutLayers.forEach((l, k) => {
    const h = g.StopGradient(plain.features.blockOutputs[l] as Value);
    g.output(`h.${k}`, h);
    g.output(`pdrop.${k}`, dropProbability(g, prunerLogits(g, scorers[k] as Params<ScorerKey>, h)));
  });
  const s1 = g.scope('pruned', () => prunedForward(g, vit, scorers, images, c, p, 'masked', randomInputs(g, c, p), taskGrad));
  const ce = softmaxCrossEntropy(g, s1.logits, labels);
  const loss = distill
    ? g.Add(
        g.scale(ce, 1 - distill.alpha),
        g.scale(distillationKL(g, s1.logits, teacherLogits(g, c, distill, plain.logits), distill.temperature), distill.alpha),
      )
    : ce;
  g.output('correct', correctCount(g, s1.logits, labels));
  s1.keeps.forEach((k, i) => {
    g.output(`kept.${i}`, g.ReduceSum(k, [1], false));
  });
  if (rewardContext === 'pruned') {
    g.output('logits.pruned', g.StopGradient(s1.logits));
    s1.cutStates.forEach((state, k) => {
      const h = g.StopGradient(state);
      g.output(`h1.${k}`, h);
      g.output(`mask1.${k}`, g.StopGradient(s1.keeps[k] as Value));
      g.output(`pdrop1.${k}`, dropProbability(g, prunerLogits(g, scorers[k] as Params<ScorerKey>, h)));
    });
  }
  let total = loss;
  // The prior builds its own scorer logits: sharing stream 0's (pdrop.{k}) yields a valid model that
  // ONNX Runtime 1.30.0 rejects at optimisation level basic and above ("Argument type mismatch when adding edge").
  if (attentionPrior > 0 && p.strategy.kind === 'budget') {
    const keep = opts.priorKeep ?? p.strategy.keep;
    if (keep.length !== p.cutLayers.length)
      throw new ValueError('aptTrainGraph', `priorKeep needs one count per cut layer (${p.cutLayers.length}), got ${keep.length}`);
    p.cutLayers.forEach((l, k) => {
      const prior = attentionPriorLoss(
        g,
        scorers[k] as Params<ScorerKey>,
        plain.features.blockOutputs[l] as Value,
        plain.features.clsAttn[l] as Value,
        keep[k] as number,
      );
      g.output(`prior.${k}`, prior);
      total = g.Add(total, g.scale(prior, attentionPrior));
    });
  }
  const toPruners = taskGrad > 0 || attentionPrior > 0;
  const agents = toPruners ? scorers.flatMap((sp, k) => Object.entries(sp).map(([key, v]) => [prunerKey(k, key as ScorerKey), v] as const)) : [];
  addGradients(g, total, { ...vit, ...Object.fromEntries(agents) }, loss); // `loss` stays stream 1's
  return g;
}

/** The distillation teacher: stream 0's logits ('live') or the frozen model's, fed as `logits.teacher`. */
function teacherLogits(g: Graph, c: VitConfig, d: DistillOptions, plain: Value): Value {
  return (d.teacher ?? 'frozen') === 'live' ? plain : g.input('logits.teacher', 'float32', ['B', c.numClasses]);
}
