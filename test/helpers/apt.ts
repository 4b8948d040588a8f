/**
 * Shared pieces of the APT tests (test/agent, test/reward, test/train/apt*): a tiny ViT of the
 * fmnist-vit-t family, seeded images and data sets, pruners with mixed decisions, one-shot graph
 * runs, parameter copies and the golden fixture of scripts/fixtures/apt.py.
 */
import { readFileSync } from 'node:fs';
import { type ScorerKey, scorerFeeds, TokenPruner } from '../../src/agent/index.js';
import { dropProbability, prunerLogits } from '../../src/agent/scorer.js';
import { keyBias } from '../../src/agent/tokens.js';
import { APT_NORM, type Dataset, fromArrays } from '../../src/data/index.js';
import { Graph } from '../../src/graph/builder.js';
import { compile } from '../../src/graph/runtime.js';
import type { Value } from '../../src/graph/types.js';
import { Rng } from '../../src/tensor/rng.js';
import { clone, type Tensor, tensor } from '../../src/tensor/tensor.js';
import type { AptRecipe } from '../../src/train/index.js';
import { create, VIT_PRESETS, type VitConfig, type VitModel } from '../../src/vit/index.js';
import { classify, type ForwardHooks } from '../../src/vit/model.js';
import { type Params, vitParams } from '../../src/vit/params.js';
import type { PackedTensor } from './engine-models.js';

/** fmnist-vit-t's family at toy size: patch 7 → 16 patches + CLS = 17 tokens, dim 16, depth 4, 2 heads; default cuts [0, 1, 2]. */
export const TINY: VitConfig = { ...VIT_PRESETS['fmnist-vit-t'], name: 'tiny-apt', dim: 16, depth: 4, heads: 2, patchSize: 7 };
export const N = 17;
export const SESSION = { intraOpThreads: 1 } as const;

/** Normal(0, 1) images [b, 1, 28, 28]. */
export function randomImages(seed: number, b: number): Tensor<'float32'> {
  return tensor(new Rng(seed).fillNormal(new Float32Array(b * 28 * 28)), [b, 1, 28, 28]);
}

/** `n` images of a bright blob on noise (uint8), labels cycling 0…9, APT's 0.5/0.5 normalisation. */
export function blobDataset(n: number, seed: number): Dataset {
  const rng = new Rng(seed);
  const px = new Uint8Array(n * 784);
  for (let i = 0; i < n; i++) {
    const [cy, cx, r] = [6 + rng.uniform() * 16, 6 + rng.uniform() * 16, 3 + rng.uniform() * 5];
    for (let y = 0; y < 28; y++)
      for (let x = 0; x < 28; x++)
        px[i * 784 + y * 28 + x] = Math.min(255, Math.round(220 * Math.exp(-((y - cy) ** 2 + (x - cx) ** 2) / r ** 2) + 30 * rng.uniform()));
  }
  return fromArrays(
    px,
    Array.from({ length: n }, (_, i) => i % 10),
    { c: 1, h: 28, w: 28 },
    { classes: 10, norm: APT_NORM },
  );
}

/**
 * Compiles `g` on one thread and runs it. The session is kept (not disposed): the runtime's cache
 * hands it back when the same graph is compiled again, for the life of the test process.
 */
export async function runGraph(g: Graph, feeds: Readonly<Record<string, Tensor>>): Promise<Record<string, Tensor>> {
  const s = await compile(g, SESSION);
  return await s.run(feeds);
}

export const copyParams = <T extends Tensor<'float32'>>(p: Readonly<Record<string, T>>): Record<string, Tensor<'float32'>> =>
  Object.fromEntries(Object.entries(p).map(([k, t]) => [k, clone(t)]));

/** Fresh copies of a model and pruner (train.apt updates parameters in place). */
export function copyOf(model: VitModel, pruner: TokenPruner): { model: VitModel; pruner: TokenPruner } {
  return {
    model: { config: model.config, params: copyParams(model.params) },
    pruner: TokenPruner.fromStateDict(pruner.vit, copyParams(pruner.params), pruner.config),
  };
}

/** Every parameter's bytes in key order, for bitwise comparison. */
export function paramBytes(p: Readonly<Record<string, Tensor>>): Buffer {
  return Buffer.concat(
    Object.keys(p)
      .sort()
      .map((k) => {
        const d = p[k]?.data as Float32Array;
        return Buffer.from(d.buffer, d.byteOffset, d.byteLength);
      }),
  );
}

/** The plain block outputs H_ℓ at `cuts` ([B, N, D] each) of `model` on `images`. */
export async function blockOutputs(model: VitModel, images: Tensor, cuts: readonly number[]): Promise<Tensor<'float32'>[]> {
  const g = new Graph('h');
  const { features } = classify(g, vitParams(g, model.config), g.input('images', 'float32', ['B', 1, 28, 28]), model.config);
  for (const [k, l] of cuts.entries()) g.output(`h.${k}`, features.blockOutputs[l] as Value);
  const out = await runGraph(g, { ...model.params, images });
  return cuts.map((_, k) => out[`h.${k}`] as Tensor<'float32'>);
}

/** One pruner's logits [B, N, 2] and P(drop) [B, N] on `h` (the library's scorer composite). */
export async function scorerOutputs(params: Readonly<Record<string, Tensor>>, h: Tensor): Promise<{ logits: Float32Array; pDrop: Float32Array }> {
  const g = new Graph('scorer');
  const dim = h.dims[2] as number;
  const p = Object.fromEntries(Object.entries(params).map(([k, t]) => [k, g.param(k, [...t.dims])])) as Params<ScorerKey>;
  const logits = prunerLogits(g, p, g.input('h', 'float32', ['B', h.dims[1] as number, dim]));
  g.output('logits', logits);
  g.output('pdrop', dropProbability(g, logits));
  const out = await runGraph(g, { ...params, h });
  return { logits: out.logits?.data as Float32Array, pDrop: out.pdrop?.data as Float32Array };
}

/**
 * A full forward of the tiny model whose attention after cut k reads the input `keep.{k}` [B, N]:
 * as the −10000 key bias of masked stream 1 (`'bias'`) or as the multiplicative key gate of the
 * task-gradient extension (`'gate'`). Inputs `images` and the ViT parameters; output `logits`.
 */
export function fixedCutsGraph(cuts: readonly number[], form: 'bias' | 'gate'): Graph {
  const g = new Graph(`fixed-cuts-${form}`);
  const keeps = cuts.map((_, k) => g.input(`keep.${k}`, 'float32', ['B', N]));
  const keepAt = (i: number): Value | undefined => keeps[cuts.filter((l) => l < i).length - 1];
  const hooks: ForwardHooks =
    form === 'bias' ? { attnBias: (i) => ((m) => m && keyBias(g, m))(keepAt(i)) } : { attnGate: (i) => ((m) => m && g.Unsqueeze(m, [1, 2]))(keepAt(i)) };
  g.output('logits', classify(g, vitParams(g, TINY), g.input('images', 'float32', ['B', 1, 28, 28]), TINY, hooks).logits);
  return g;
}

/**
 * Pruners with distinct random parameters per cut whose decisions are mixed: fc rescaled so the
 * drop−keep logit gap has std `spread` over the patch tokens of the plain H_ℓ of `images`, and its
 * drop bias centred on their median (about half the tokens fall either side of τ = 0.5).
 */
export async function mixedPruner(
  model: VitModel,
  images: Tensor,
  seed: number,
  spread = 2,
  opts: Parameters<typeof TokenPruner.create>[1] = {},
): Promise<TokenPruner> {
  const base = TokenPruner.create(model.config, { ...opts, seed });
  const rng = new Rng(seed + 1);
  const params = copyParams(base.params);
  for (const [k, t] of Object.entries(params)) if (!k.includes('.fc.')) rng.fillUniform(t.data, -0.4, 0.4);
  const hs = await blockOutputs(model, images, base.config.cutLayers);
  for (const [k, h] of hs.entries()) {
    const gap = async () => {
      const { logits } = await scorerOutputs(scorerFeeds(params, k), h);
      const [b, n] = h.dims as [number, number];
      return Array.from({ length: b * (n - 1) }, (_, i) => {
        const r = Math.floor(i / (n - 1)) * n + 1 + (i % (n - 1));
        return (logits[2 * r + 1] as number) - (logits[2 * r] as number);
      }).sort((x, y) => x - y);
    };
    const g0 = await gap();
    const mean = g0.reduce((s, v) => s + v, 0) / g0.length;
    const std = Math.sqrt(g0.reduce((s, v) => s + (v - mean) ** 2, 0) / g0.length);
    const w = params[`clip_layer.${k}.fc.weight`] as Tensor<'float32'>;
    w.data.forEach((v, i) => {
      w.data[i] = (v * spread) / std;
    });
    const g1 = await gap();
    const mid = ((g1[g1.length >> 1] as number) + (g1[(g1.length - 1) >> 1] as number)) / 2;
    const bias = (params[`clip_layer.${k}.fc.bias`] as Tensor<'float32'>).data;
    bias[1] = (bias[1] as number) - mid;
  }
  return TokenPruner.fromStateDict(model.config, params, base.config);
}

/** The train.apt recipe of the tiny tests: 12 images as 3 micro-batches of 4, SGD 0.05, no clipping to speak of; override per test. */
export function tinyAptRecipe(overrides: Partial<AptRecipe> = {}): AptRecipe {
  return {
    name: 'test',
    batch: 12,
    accum: 3,
    lr: 0.05,
    momentum: 0.9,
    weightDecay: 0,
    warmup: 4,
    total: 10,
    maxGradNorm: 1e9,
    evalEvery: 1000,
    rewardKind: 'prob',
    augment: false,
    seed: 0,
    ...overrides,
  };
}

/** A tiny model with a random (not zero) head. */
export const tinyModel = (seed = 1): VitModel => create(TINY, { seed });

/** Sets `clip_layer.{k}.fc.{weight,bias}` of every pruner (weight zero, bias as given). */
export function setFc(pruner: TokenPruner, bias: readonly [number, number], cuts: readonly number[] = pruner.config.cutLayers.map((_, k) => k)): void {
  for (const k of cuts) {
    pruner.params[`clip_layer.${k}.fc.weight`]?.data.fill(0);
    pruner.params[`clip_layer.${k}.fc.bias`]?.data.set(bias);
  }
}

// ------------------------------------------------------------------ golden fixture (scripts/fixtures/apt.py)

export interface AptGolden {
  readonly meta: { readonly seed: number; readonly torch: string; readonly checks: Record<string, unknown> };
  readonly config: VitConfig;
  readonly cutLayers: number[];
  readonly recipe: {
    batch: number;
    accum: number;
    lr: number;
    momentum: number;
    warmup: number;
    total: number;
    maxGradNorm: number;
    exploreGreedyProb: number;
  };
  readonly pixels: { readonly shape: number[]; readonly data: number[] };
  readonly labels: PackedTensor;
  readonly explore: { readonly j: number[][]; readonly greedy: boolean[][] };
  readonly pdrop: PackedTensor[];
  readonly s1: { readonly logits: PackedTensor; readonly masks: number[][] };
  readonly loss: { readonly s1: number; readonly agent: number[] };
  readonly rewards: number[][];
  readonly rewardLabels: number[][];
  readonly lr: number;
  readonly weights: string;
  readonly after: string;
}

export const APT_FIXTURES = new URL('../fixtures/apt/', import.meta.url);

export function readGolden(): AptGolden {
  return JSON.parse(readFileSync(new URL('tiny.json', APT_FIXTURES), 'utf8')) as AptGolden;
}

/** Splits a state dict into ViT keys and `clip_layer.*` keys. */
export function splitStateDict(sd: Readonly<Record<string, Tensor>>): { vit: Record<string, Tensor>; pruners: Record<string, Tensor> } {
  const vit: Record<string, Tensor> = {};
  const pruners: Record<string, Tensor> = {};
  for (const [k, t] of Object.entries(sd)) (k.startsWith('clip_layer.') ? pruners : vit)[k] = t;
  return { vit, pruners };
}
