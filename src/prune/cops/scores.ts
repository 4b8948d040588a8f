/**
 * Pruning-at-initialisation scores (specs/cops.md §2) as keep-scores (higher = keep), one
 * Float64Array per prunable weight: magnitude, SNIP, GraSP (signed), random. SynFlow is in
 * ./synflow.ts. Gradients come from the engine: `backward` for SNIP, and for GraSP `backward`
 * applied to its own output (a Hessian-gradient product).
 */
import type { CnnModel } from '../../cnn/api.js';
import { buildCnn } from '../../cnn/model.js';
import { cnnParamShapes } from '../../cnn/params.js';
import type { Batch } from '../../data/loader.js';
import { backward } from '../../graph/backward.js';
import { Graph } from '../../graph/builder.js';
import { softmaxCrossEntropy } from '../../graph/nn.js';
import { compile, type SessionOptions } from '../../graph/runtime.js';
import type { Value } from '../../graph/types.js';
import { DTypeError, fmtDims, ShapeError } from '../../tensor/errors.js';
import type { Rng } from '../../tensor/rng.js';
import type { Tensor } from '../../tensor/tensor.js';
import { type LayerRecord, prunableLayout } from './layout.js';

/**
 * A loss as a function of the weights to score, for the gradient scores of any graph (a CNN, a
 * quadratic in a test, a user's own model).
 */
export interface LossProblem {
  /** Weights to score, by name, in the order scores come back (float32 or float64). */
  readonly weights: Readonly<Record<string, Tensor<'float32'> | Tensor<'float64'>>>;
  /** Builds the scalar loss from graph values of the weights; declares its other inputs itself. */
  readonly loss: (g: Graph, w: Readonly<Record<string, Value>>) => Value;
  /** Values of the other inputs `loss` declares (batch, frozen parameters). */
  readonly feeds?: Readonly<Record<string, Tensor>>;
  readonly session?: SessionOptions;
}

/** ∇θL, and with `hessian` also Hg = ∇θ Σ(stopgrad(g) ⊙ ∇θL), per weight, in float64. */
export async function lossGradients(p: LossProblem, opts: { readonly hessian?: boolean } = {}): Promise<{ loss: number; grad: LayerRecord; hg?: LayerRecord }> {
  const names = Object.keys(p.weights);
  const g = new Graph('cops-scores');
  const w: Record<string, Value> = {};
  for (const n of names) {
    const t = p.weights[n] as Tensor;
    w[n] = g.param(n, t.dims, t.type);
  }
  const loss = p.loss(g, w);
  const wrt = names.map((n) => w[n] as Value);
  const grads = backward(g, loss, wrt);
  g.output('loss', loss);
  names.forEach((n, i) => {
    g.output(`grad:${n}`, grads[i] as Value);
  });
  if (opts.hessian) {
    // z = Σ_j Σ stopgrad(g_j) ⊙ g_j; ∇θ z = H·g (the gradient is a constant inside z).
    let z: Value | null = null;
    for (const gj of grads) {
      const term = g.ReduceSum(g.Mul(g.StopGradient(gj), gj), [], false);
      z = z ? g.Add(z, term) : term;
    }
    const hg = backward(g, z as Value, wrt);
    names.forEach((n, i) => {
      g.output(`hg:${n}`, hg[i] as Value);
    });
  }
  const session = await compile(g, p.session);
  let out: Record<string, Tensor>;
  try {
    out = await session.run({ ...p.feeds, ...p.weights });
  } finally {
    session.dispose();
  }
  const pick = (prefix: string): LayerRecord =>
    Object.fromEntries(names.map((n) => [n, Float64Array.from((out[`${prefix}${n}`] as Tensor).data as Float32Array)]));
  return { loss: Number((out.loss as Tensor).data[0]), grad: pick('grad:'), ...(opts.hessian ? { hg: pick('hg:') } : {}) };
}

/** SNIP on any loss: s = |θ ⊙ ∇θL|. */
export async function snipOf(p: LossProblem): Promise<LayerRecord> {
  const { grad } = await lossGradients(p);
  return product(p.weights, grad, true);
}

/** GraSP keep-score on any loss: s = +θ ⊙ Hg, signed (GraSP's own score is −s; it prunes its largest). */
export async function graspOf(p: LossProblem): Promise<LayerRecord> {
  const { hg } = await lossGradients(p, { hessian: true });
  return product(p.weights, hg as LayerRecord, false);
}

function product(w: LossProblem['weights'], g: LayerRecord, abs: boolean): LayerRecord {
  return Object.fromEntries(
    Object.entries(w).map(([n, t]) => {
      const gv = g[n] as Float64Array;
      const s = new Float64Array(gv.length);
      for (let i = 0; i < s.length; i++) {
        const v = (t.data[i] as number) * (gv[i] as number);
        s[i] = abs ? Math.abs(v) : v;
      }
      return [n, s];
    }),
  );
}

/** The images and labels scores are computed on: images float32 [B, C, H, W], labels int64 [B]. */
export type ScoreBatch = Pick<Batch, 'images' | 'labels'>;

function checkBatch(where: string, model: CnnModel, b: ScoreBatch): void {
  const c = model.config;
  const want = [c.inChans, c.imageSize, c.imageSize];
  const im = b?.images;
  if (im?.type !== 'float32' || im.dims.length !== 4 || im.dims.slice(1).some((d, i) => d !== want[i]) || !((im.dims[0] as number) > 0)) {
    throw new ShapeError(where, `batch.images must be [B, ${want.join(', ')}] float32, got ${im ? `${fmtDims(im.dims)} ${im.type}` : String(im)}`);
  }
  if (b.labels?.type !== 'int64') throw new DTypeError(where, `batch.labels must be int64 [B], got ${b.labels?.type}`);
  if (b.labels.dims.length !== 1 || b.labels.dims[0] !== im.dims[0]) {
    throw new ShapeError(where, `batch.labels must be [${im.dims[0]}], got ${fmtDims(b.labels.dims)}`);
  }
}

/**
 * The cross-entropy of a CNN on a batch as a LossProblem over its prunable weights: BN in train
 * mode (batch statistics), logits divided by `temperature`. The exact initial weights are scored.
 */
export function cnnLossProblem(
  model: CnnModel,
  batch: ScoreBatch,
  opts: { readonly temperature?: number; readonly session?: SessionOptions } = {},
): LossProblem {
  const c = model.config;
  const layout = prunableLayout(c);
  const scored = new Set(layout.names);
  const others = cnnParamShapes(c).filter((s) => !scored.has(s.name));
  const t = opts.temperature ?? 1;
  return {
    weights: Object.fromEntries(layout.names.map((n) => [n, model.params[n] as Tensor<'float32'>])),
    loss: (g, w) => {
      const images = g.input('images', 'float32', ['B', c.inChans, c.imageSize, c.imageSize]);
      const labels = g.input('labels', 'int64', ['B']);
      const p: Record<string, Value> = { ...w };
      for (const s of others) p[s.name] = g.param(s.name, s.dims);
      const { logits } = buildCnn(g, c, p, images, { mode: 'train' });
      return softmaxCrossEntropy(g, t === 1 ? logits : g.scale(logits, 1 / t), labels);
    },
    feeds: { images: batch.images, labels: batch.labels, ...Object.fromEntries(others.map((s) => [s.name, model.params[s.name] as Tensor])) },
    ...(opts.session ? { session: opts.session } : {}),
  };
}

/** Magnitude of any weights: s = |θ|. */
export function magnitudeOf(weights: Readonly<Record<string, Tensor<'float32'> | Tensor<'float64'>>>): LayerRecord {
  return Object.fromEntries(Object.entries(weights).map(([n, t]) => [n, Float64Array.from(t.data, Math.abs)]));
}

/** Magnitude: s = |θ| per prunable weight. */
export function magnitude(model: CnnModel): LayerRecord {
  return magnitudeOf(Object.fromEntries(prunableLayout(model.config).names.map((n) => [n, model.params[n] as Tensor<'float32'>])));
}

/** SNIP (Lee et al. 2019): s = |θ ⊙ ∇θL| on the batch (BN in train mode). */
export async function snip(model: CnnModel, batch: ScoreBatch, opts: { readonly session?: SessionOptions } = {}): Promise<LayerRecord> {
  checkBatch('cops.snip', model, batch);
  return snipOf(cnnLossProblem(model, batch, opts));
}

/**
 * GraSP keep-score (Wang et al. 2020): s = +θ ⊙ Hg with g = ∇θL at temperature T (default 200, as
 * the official code), Hg the Hessian-gradient product; signed, never |·|. BN in train mode.
 */
export async function grasp(
  model: CnnModel,
  batch: ScoreBatch,
  opts: { readonly temperature?: number; readonly session?: SessionOptions } = {},
): Promise<LayerRecord> {
  checkBatch('cops.grasp', model, batch);
  return graspOf(cnnLossProblem(model, batch, { temperature: opts.temperature ?? 200, ...(opts.session ? { session: opts.session } : {}) }));
}

/** Random keep-scores U(0, 1) (the random-pruning baseline), from a seeded Rng. */
export function randomScores(model: CnnModel, rng: Rng): LayerRecord {
  return Object.fromEntries(
    prunableLayout(model.config).names.map((n) => {
      const s = new Float64Array((model.params[n] as Tensor).data.length);
      for (let i = 0; i < s.length; i++) s[i] = rng.uniform();
      return [n, s];
    }),
  );
}
