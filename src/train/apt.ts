import { type PrunerConfig, usesScorer } from '../agent/config.js';
import { aptTrainGraph } from '../agent/graphs.js';
import type { KeepPlan } from '../agent/keep-plan.js';
import { prunerKey, SCORER_KEYS, scorerFeeds } from '../agent/params.js';
import type { RunResult, TokenPruner } from '../agent/pruner.js';
import { agentLossGraph, contextTailGraph, tailGraph } from '../agent/stream2-graphs.js';
import { assertDataset, type Dataset } from '../data/dataset.js';
import { batches } from '../data/loader.js';
import { compile, promiseCache, type Session, type SessionOptions, trainingSession } from '../graph/runtime.js';
import { NonFiniteLossError, ShapeError, ValueError } from '../tensor/errors.js';
import { Rng } from '../tensor/rng.js';
import { type Tensor, tensor } from '../tensor/tensor.js';
import type { VitModel } from '../vit/api.js';
import { forward } from '../vit/api.js';
import { numTokens } from '../vit/config.js';
import { type AptRecipe, checkAptRecipe, keepSchedule } from './apt-recipe.js';
import { type ExploreOverride, stream2 } from './apt-stream2.js';
import { scoreLogits } from './metrics.js';
import { clipGradNorm, type ParamStore, SGD } from './optim.js';
import { warmupCosine } from './schedule.js';
import { gradName } from './step.js';

export type AptEvent =
  | {
      readonly kind: 'update';
      readonly update: number;
      readonly total: number;
      readonly lossPruned: number;
      readonly agentLoss: readonly number[];
      readonly keptMean: readonly number[];
      readonly lr: number;
      /** With `recipe.attentionPrior`: each pruner's prior loss (cross-entropy against EViT's decisions). */
      readonly priorLoss?: readonly number[];
      /** L2 norms of the accumulated gradients before the joint clip: the ViT's and each pruner's. */
      readonly gradNorm: { readonly vit: number; readonly pruners: readonly number[] };
      readonly imagesPerSec: number;
      readonly etaSec: number;
    }
  | { readonly kind: 'eval'; readonly update: number; readonly plainAccuracy: number; readonly prunedAccuracy: number; readonly keptMean: readonly number[] };

export interface AptOptions {
  readonly model: VitModel;
  readonly pruner: TokenPruner;
  readonly train: Dataset;
  /** Validation split for plain/pruned accuracy and best-checkpoint tracking (never the test set). */
  readonly val?: Dataset;
  readonly recipe: AptRecipe;
  readonly onEvent?: (e: AptEvent) => void;
  /** Called with the parameters whenever plain or pruned validation accuracy improves. */
  readonly onBest?: (which: 'plain' | 'pruned', update: number, accuracy: number) => Promise<void> | void;
  readonly session?: SessionOptions;
  /**
   * Replaces stream 2's exploration (parity replays, tests): cut index k, the pruner's P(drop)
   * [B, N] on the micro-batch (on stream 1's state with `rewardContext: 'pruned'`, where j must be
   * alive entering the cut), the data-set rows of its samples and N → j per sample (1…N−1).
   * Default: `explore` on the run's seeded generator.
   */
  readonly explore?: ExploreOverride;
}

export interface AptResult {
  readonly updates: number;
  readonly bestPlain: { readonly update: number; readonly accuracy: number };
  readonly bestPruned: { readonly update: number; readonly accuracy: number };
  readonly history: { update: number; plainAccuracy: number; prunedAccuracy: number; keptMean: number[] }[];
}

export interface AptEvaluation {
  readonly plainAccuracy: number;
  /** Top-1 with the pruner's decisions, tokens really removed (gathered). */
  readonly prunedAccuracy: number;
  /** Mean cross-entropy of the pruned model. */
  readonly prunedLoss: number;
  /** Mean tokens kept after each cut layer. */
  readonly keptMean: number[];
  /** The decisions on the first batch (for per-image reports). */
  readonly firstPlans: KeepPlan;
}

/**
 * Plain and pruned top-1 on `ds`, the pruned loss and mean kept tokens per cut layer. `onBatch`
 * sees the images done so far and that batch's pruned run (logits [b, classes], its plans).
 */
export async function evaluateApt(
  model: VitModel,
  pruner: TokenPruner,
  ds: Dataset,
  opts: { readonly batchSize?: number; readonly session?: SessionOptions; readonly onBatch?: (done: number, run: RunResult) => void } = {},
): Promise<AptEvaluation> {
  let [plain, pruned, loss, n] = [0, 0, 0, 0];
  const kept = pruner.config.cutLayers.map(() => 0);
  let firstPlans: KeepPlan | null = null;
  for (const b of batches(ds, { batchSize: opts.batchSize ?? 500, reuseBuffers: false })) {
    plain += scoreLogits(await forward(model, b.images, opts.session), b.labels).correct;
    const r = await pruner.run(model, b.images, { mode: 'gathered', session: opts.session });
    const s = scoreLogits(r.logits, b.labels);
    [pruned, loss] = [pruned + s.correct, loss + s.lossSum];
    r.plans.kept.forEach((per, k) => {
      kept[k] = (kept[k] as number) + per.reduce((t, idx) => t + idx.length, 0);
    });
    firstPlans ??= r.plans;
    n += b.labels.dims[0] as number;
    opts.onBatch?.(n, r);
  }
  return { plainAccuracy: plain / n, prunedAccuracy: pruned / n, prunedLoss: loss / n, keptMean: kept.map((v) => v / n), firstPlans: firstPlans as KeepPlan };
}

const cached = promiseCache<Session>();

/**
 * APT's three-channel training (specs/apt.md §4), per micro-batch of batch/accum images:
 *  S0 plain forward (no gradient) → p_plain, block outputs H_ℓ, the pruners' P(drop) on them;
 *  S1 decisions at every cut (masked, accumulating) → cross-entropy → gradient into the ViT only;
 *  S2 per cut layer ℓ: one token per sample cut (explore) → forward from H_ℓ → reward (p_pruned[y] −
 *     p_plain[y]) → reward-sign labels → 2-class cross-entropy → gradient into pruner ℓ only.
 * Each loss is divided by accum; every accum micro-batches one joint clip over ViT + pruners, the
 * warmup-cosine lr of update k (scheduler before optimizer, as the source) and an SGD step.
 * Strategies without an agent (evit, random) fine-tune the ViT through S1 alone. With
 * `recipe.rewardContext: 'pruned'` (extension) S2 toggles one token inside S1's state instead.
 * (apt-stream2.ts).
 */
export async function apt(o: AptOptions): Promise<AptResult> {
  const { model, pruner, recipe } = o;
  checkAptRecipe(recipe);
  if (pruner.vit.dim !== model.config.dim || pruner.vit.depth !== model.config.depth)
    throw new ValueError('train.apt', `pruner built for ${pruner.vit.name}, model is ${model.config.name}`);
  assertDataset('train.apt', o.train);
  const { c: ch, h, w } = o.train.shape;
  if (ch !== model.config.inChans || h !== model.config.imageSize || w !== model.config.imageSize)
    throw new ShapeError(
      'train.apt',
      `train images must be [${model.config.inChans}, ${model.config.imageSize}, ${model.config.imageSize}] for ${model.config.name}, got [${ch}, ${h}, ${w}]`,
    );
  // Micro-batches drop the last partial one: a set smaller than one would loop forever without an update.
  if (o.train.n < recipe.batch / recipe.accum)
    throw new ValueError('train.apt', `train has ${o.train.n} images, fewer than one micro-batch (batch/accum = ${recipe.batch / recipe.accum})`);
  const c = model.config;
  const pc = pruner.config;
  const withAgent = usesScorer(pc.strategy);
  const so = trainingSession(o.session);
  const key = JSON.stringify([c, pc, so]);
  const context = recipe.rewardContext ?? 'plain';
  const taskGrad = recipe.taskGrad ?? 0;
  // Both extensions read the scorer inside stream 1's masked sequence, which fusion extends.
  const needsScorer = (what: string) => {
    if (!withAgent || pc.fuse)
      throw new ValueError('train.apt', `${what} needs a strategy with a scorer and no fusion, got ${pc.strategy.kind}${pc.fuse ? ' with fuse' : ''}`);
  };
  if (context === 'pruned') needsScorer("recipe.rewardContext 'pruned'");
  if (taskGrad > 0) needsScorer('recipe.taskGrad');
  const prior = recipe.attentionPrior ?? 0;
  if (prior > 0 && (pc.strategy.kind !== 'budget' || pc.fuse))
    throw new ValueError('train.apt', `recipe.attentionPrior needs the budget strategy without fusion, got ${pc.strategy.kind}${pc.fuse ? ' with fuse' : ''}`);
  const graphOpts = { distill: recipe.distill, rewardContext: context, taskGrad, attentionPrior: prior };
  const graphA = () => cached(`A${key}${JSON.stringify(graphOpts)}`, () => compile(aptTrainGraph(c, pc, graphOpts), so));
  const countsAt = keepSchedule(pc, recipe, context, numTokens(c));
  // Streams 0 and 1 of update u: during the keep warmup one graph per level (the prior at the target counts).
  const graphAt = (u: number) => {
    const [keep, s] = [countsAt?.(u), pc.strategy];
    if (!keep || s.kind === 'threshold' || keep.every((k, i) => k === s.keep[i])) return graphA();
    const stage: PrunerConfig = { ...pc, strategy: { ...s, keep } };
    const opts = { ...graphOpts, priorKeep: s.keep };
    return cached(`A${JSON.stringify([c, stage, so])}${JSON.stringify(opts)}`, () => compile(aptTrainGraph(c, stage, opts), so));
  };
  await graphAt(0);
  const tailOf = (k: number, l: number) =>
    context === 'pruned' ? cached(`X${k}${key}`, () => compile(contextTailGraph(c, pc, k), so)) : cached(`T${l}${key}`, () => compile(tailGraph(c, l), so));
  const tails = withAgent ? await Promise.all(pc.cutLayers.map((l, k) => tailOf(k, l))) : [];
  const agent = withAgent ? await cached(`C${key}`, () => compile(agentLossGraph(c), so)) : null;

  // Distillation's frozen teacher: the ViT as it is now, copied before any update.
  const frozen =
    recipe.distill && (recipe.distill.teacher ?? 'frozen') === 'frozen'
      ? { config: c, params: Object.fromEntries(Object.entries(model.params).map(([k, t]) => [k, { ...t, data: t.data.slice() }])) }
      : null;
  const micro = recipe.batch / recipe.accum;
  const n = numTokens(c);
  const prunerNames = pc.cutLayers.map((_, k) => SCORER_KEYS.map((key) => prunerKey(k, key)));
  const store: ParamStore = new Map([...Object.entries(model.params), ...Object.entries(pruner.params)]);
  const opt = new SGD(store, { lr: recipe.lr, momentum: recipe.momentum, weightDecay: recipe.weightDecay });
  const lambda = warmupCosine(recipe.warmup, recipe.total);
  const rng = new Rng(recipe.seed);
  const dataRng = rng.split();
  const exploreRng = rng.split();
  const randRng = rng.split();
  const history: AptResult['history'] = [];
  let bestPlain = { update: 0, accuracy: -1 };
  let bestPruned = { update: 0, accuracy: -1 };
  const started = performance.now();

  const evaluateNow = async (update: number) => {
    if (!o.val) return;
    const m = await evaluateApt(model, pruner, o.val, { session: o.session });
    const entry = { plainAccuracy: m.plainAccuracy, prunedAccuracy: m.prunedAccuracy, keptMean: m.keptMean };
    history.push({ update, ...entry });
    o.onEvent?.({ kind: 'eval', update, ...entry });
    if (m.plainAccuracy > bestPlain.accuracy) {
      bestPlain = { update, accuracy: m.plainAccuracy };
      await o.onBest?.('plain', update, m.plainAccuracy);
    }
    if (m.prunedAccuracy > bestPruned.accuracy) {
      bestPruned = { update, accuracy: m.prunedAccuracy };
      await o.onBest?.('pruned', update, m.prunedAccuracy);
    }
  };

  let update = 0;
  let microCount = 0; // counted globally, across epochs (no leftover gradients leak between epochs)
  let grads: Record<string, Tensor<'float32'>> = {};
  const freshStats = () => ({ loss: 0, agent: pc.cutLayers.map(() => 0), prior: pc.cutLayers.map(() => 0), kept: pc.cutLayers.map(() => 0) });
  let stats = freshStats();
  const add = (name: string, g: Tensor) => {
    const acc = grads[name];
    const src = g.data as Float32Array;
    if (!acc) grads[name] = { type: 'float32', dims: [...g.dims], data: src.map((v) => v / recipe.accum) };
    else for (let i = 0; i < src.length; i++) acc.data[i] = (acc.data[i] as number) + (src[i] as number) / recipe.accum;
  };

  while (update < recipe.total) {
    for (const batch of batches(o.train, { batchSize: micro, shuffle: true, rng: dataRng, dropLast: true, augment: recipe.augment })) {
      const b = batch.labels.dims[0] as number;
      const random =
        pc.strategy.kind === 'random'
          ? Object.fromEntries(pc.cutLayers.map((_, k) => [`random_score.${k}`, tensor(randRng.fillUniform(new Float32Array(b * n)), [b, n])]))
          : {};
      const teacher: Record<string, Tensor> = frozen ? { 'logits.teacher': await forward(frozen, batch.images, so) } : {};
      const a = await (await graphAt(update)).run({ ...model.params, ...pruner.params, ...random, ...teacher, images: batch.images, labels: batch.labels });
      const loss1 = Number((a.loss as Tensor).data[0]);
      if (!Number.isFinite(loss1)) throw new NonFiniteLossError('train.apt', update + 1, loss1);
      for (const name of Object.keys(model.params)) add(name, a[gradName(name)] as Tensor);
      if (taskGrad > 0 || prior > 0) for (const name of Object.keys(pruner.params)) add(name, a[gradName(name)] as Tensor);
      stats.loss += loss1 / recipe.accum;
      pc.cutLayers.forEach((_, k) => {
        if (prior > 0) stats.prior[k] = (stats.prior[k] as number) + Number((a[`prior.${k}`] as Tensor).data[0]) / recipe.accum;
        stats.kept[k] = (stats.kept[k] as number) + Array.from((a[`kept.${k}`] as Tensor).data as Float32Array).reduce((s, v) => s + v, 0) / b / recipe.accum;
      });
      for (let k = 0; withAgent && k < pc.cutLayers.length; k++) {
        const { h, j, labels } = await stream2({
          k,
          context,
          a,
          labels: batch.labels,
          vit: model.params,
          tail: tails[k] as Session,
          pruner: pc,
          rewardKind: recipe.rewardKind,
          rng: exploreRng,
          rows: batch.indices,
          explore: o.explore,
        });
        const out = await (agent as Session).run({
          ...scorerFeeds(pruner.params, k),
          h,
          j: tensor(BigInt64Array.from(j, BigInt), [b], 'int64'),
          c: tensor(BigInt64Array.from(labels, BigInt), [b], 'int64'),
        });
        stats.agent[k] = (stats.agent[k] as number) + Number((out.loss as Tensor).data[0]) / recipe.accum;
        for (const key of SCORER_KEYS) add(prunerKey(k, key), out[gradName(key)] as Tensor);
      }
      if (++microCount % recipe.accum !== 0) continue;
      const gradNorm = {
        vit: groupNorm(grads, Object.keys(model.params)),
        pruners: prunerNames.map((names) => groupNorm(grads, names)),
      };
      clipGradNorm(grads, recipe.maxGradNorm);
      update++;
      const lr = recipe.lr * lambda(update);
      opt.update(grads, lr);
      const secs = (performance.now() - started) / 1000;
      const rate = (update * recipe.batch) / secs;
      o.onEvent?.({
        kind: 'update',
        update,
        total: recipe.total,
        lossPruned: stats.loss,
        agentLoss: stats.agent,
        ...(prior > 0 ? { priorLoss: stats.prior } : {}),
        keptMean: stats.kept,
        lr,
        gradNorm,
        imagesPerSec: rate,
        etaSec: ((recipe.total - update) * recipe.batch) / rate,
      });
      grads = {};
      stats = freshStats();
      if (update % recipe.evalEvery === 0 || update === recipe.total) await evaluateNow(update);
      if (update >= recipe.total) break;
    }
  }
  return { updates: update, bestPlain, bestPruned, history };
}

/** L2 norm of the named gradients (absent ones count 0: a pruner without gradient this update). */
function groupNorm(grads: Readonly<Record<string, Tensor>>, names: readonly string[]): number {
  let sq = 0;
  for (const name of names) for (const v of (grads[name]?.data ?? []) as Float32Array) sq += v * v;
  return Math.sqrt(sq);
}
