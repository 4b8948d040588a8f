import { Graph } from '../../graph/builder.js';
import { correctCount, softmaxCrossEntropy } from '../../graph/nn.js';
import type { Value } from '../../graph/types.js';
import { addGradients } from '../../train/step.js';
import { type Params, scope } from '../params.js';
import { recursiveStage } from './blocks.js';
import { type SretConfig, STAGES, stageGrids } from './config.js';
import { type SretBufferKey, type SretKey, sretParams } from './params.js';
import { DROP_PATH_INPUT, dropPathSites, permutationSites } from './schedule.js';
import { type BnBatchStats, convStem, forwardHead, gridToTokens, stagePool, tokensToGrid } from './stem.js';
import { assertPrunableStage } from './tokens.js';

/** Per-forward inputs of the graph: permutations and (training) DropPath scales. */
export interface ForwardInputs {
  /** π of application `app` of stage `stage` (int64 [N_s]), where the schedule permutes. */
  readonly perm?: (stage: number, app: number) => Value | undefined;
  /** DropPath scale [B, 1, 1] of a branch; undefined = identity (eval, or rate 0). */
  readonly dropPath?: (stage: number, app: number, branch: 'attn' | 'mlp') => Value | undefined;
  /** Training with `bn: 'train'`: the stem normalises by batch statistics and returns them. */
  readonly batchStats?: boolean;
  /**
   * Sees every application's output [B, N, D] (after its NLL); may return replacement tokens (a
   * KeepPlan applied), which only the last stage accepts (`assertPrunableStage`, else ShapeError).
   */
  readonly afterApplication?: (stage: number, app: number, x: Value) => Value | undefined;
}

export interface SretFeatures {
  /** Tokens after the last stage [B, N', D_3]. */
  readonly tokens: Value;
  /** Each stage's output as a grid [B, D_s, H_s, W_s] (stage 3 only while no tokens were dropped). */
  readonly stages: readonly Value[];
  readonly bnStats: readonly BnBatchStats[];
}

/** Stem + pos_embed, the three recursive stages with pools between them. images [B, C, H, W] → features. */
export function forwardFeatures(
  g: Graph,
  p: Params<SretKey>,
  buffers: Params<SretBufferKey>,
  images: Value,
  c: SretConfig,
  inputs: ForwardInputs = {},
): SretFeatures {
  const stem = g.scope('patch_embed', () =>
    convStem(g, { ...scope(p, 'patch_embed'), ...scope(buffers, 'patch_embed') }, images, c, { batchStats: inputs.batchStats }),
  );
  let grid = g.Add(stem.y, p.pos_embed); // [B, C0, g, g]
  const sides = stageGrids(c);
  const stages: Value[] = [];
  let tokens = grid;
  for (let s = 0; s < STAGES.length; s++) {
    const side = sides[s] as number;
    let replaced = false;
    tokens = g.scope(`transformers.${s}`, () =>
      recursiveStage(g, scope(p, `transformers.${s}`), gridToTokens(g, grid), c, s, {
        perm: (app) => inputs.perm?.(s, app),
        dropPath: (app, branch) => inputs.dropPath?.(s, app, branch),
        afterApplication: (app, x) => {
          const y = inputs.afterApplication?.(s, app, x);
          if (y) {
            assertPrunableStage(c, s, 'sret.forwardFeatures');
            replaced = true;
          }
          return y;
        },
      }),
    );
    if (s < 2) {
      stages.push(tokensToGrid(g, tokens, side, side));
      grid = g.scope(`pools.${s}`, () => stagePool(g, scope(p, `pools.${s}`), stages[s] as Value));
    } else if (!replaced) stages.push(tokensToGrid(g, tokens, side, side));
  }
  return { tokens, stages, bnStats: stem.stats };
}

/** Logits [B, K] (GAP → norm → head) and the features. */
export function classify(
  g: Graph,
  p: Params<SretKey>,
  buffers: Params<SretBufferKey>,
  images: Value,
  c: SretConfig,
  inputs: ForwardInputs = {},
): { logits: Value; features: SretFeatures } {
  const features = forwardFeatures(g, p, buffers, images, c, inputs);
  return { logits: forwardHead(g, scope(p, 'norm'), scope(p, 'head'), features.tokens, c.lnEps), features };
}

/** Declares the permutation inputs `perm.<s>.<a>` (int64 [N_s]) and returns the lookup. */
export function permutationInputs(g: Graph, c: SretConfig): (stage: number, app: number) => Value | undefined {
  const perms = new Map(permutationSites(c).map((site) => [`${site.stage}.${site.app}`, g.input(site.name, 'int64', [site.tokens])]));
  return (stage, app) => perms.get(`${stage}.${app}`);
}

/** Declares the DropPath input `drop_path` [B, sites] (when any rate is > 0) and returns per-branch [B, 1, 1] scales. */
export function dropPathInputs(
  g: Graph,
  c: SretConfig,
  dtype: 'float32' | 'float64' = 'float32',
): (stage: number, app: number, branch: 'attn' | 'mlp') => Value | undefined {
  const sites = dropPathSites(c);
  if (sites.length === 0) return () => undefined;
  const mask = g.input(DROP_PATH_INPUT, dtype, ['B', sites.length]);
  const at = new Map(sites.map((site) => [`${site.stage}.${site.app}.${site.branch}`, site.column]));
  const cache = new Map<number, Value>();
  return (stage, app, branch) => {
    const j = at.get(`${stage}.${app}.${branch}`);
    if (j === undefined) return undefined;
    let v = cache.get(j);
    if (!v) {
      v = g.Reshape(g.Slice(mask, [j], [j + 1], [1]), [-1, 1, 1]);
      cache.set(j, v);
    }
    return v;
  };
}

/** Inference graph: inputs `images` [B, C, H, W] and the permutations, parameters and BN buffers by key; output `logits`. */
export function inferenceGraph(c: SretConfig): Graph {
  const g = new Graph(`${c.name}-forward`);
  const images = g.input('images', 'float32', ['B', c.inChans, c.imageSize, c.imageSize]);
  const perm = permutationInputs(g, c);
  const { params, buffers } = sretParams(g, c);
  g.output('logits', classify(g, params, buffers, images, c, { perm }).logits);
  return g;
}

export interface SretTrainGraphOptions {
  readonly labelSmoothing?: number;
}

/** Output names of the stem BN's batch statistics in the training graph. */
export const batchMeanName = (key: string): string => `batch_mean:${key}`;
export const batchVarName = (key: string): string => `batch_var:${key}`;

/**
 * Training graph: inputs `images`, `labels` [B] int64, the permutations and `drop_path` [B, sites];
 * outputs `loss`, `correct`, `grad:<key>` per parameter and, with `bn: 'train'`, the stem's batch
 * statistics `batch_mean:<bn>` / `batch_var:<bn>` (biased) for the running-stat update.
 */
export function trainGraph(c: SretConfig, opts: SretTrainGraphOptions = {}): Graph {
  const g = new Graph(`${c.name}-train`);
  const images = g.input('images', 'float32', ['B', c.inChans, c.imageSize, c.imageSize]);
  const labels = g.input('labels', 'int64', ['B']);
  const perm = permutationInputs(g, c);
  const dropPath = dropPathInputs(g, c);
  const { params, buffers } = sretParams(g, c);
  const { logits, features } = classify(g, params, buffers, images, c, { perm, dropPath, batchStats: c.bn === 'train' });
  const loss = softmaxCrossEntropy(g, logits, labels, { labelSmoothing: opts.labelSmoothing ?? 0 });
  g.output('correct', correctCount(g, logits, labels));
  for (const st of features.bnStats) {
    g.output(batchMeanName(st.key), st.mean);
    g.output(batchVarName(st.key), st.variance);
  }
  addGradients(g, loss, params);
  return g;
}
