/**
 * The two models of the engine's PyTorch parity check (scripts/fixtures/engine.py), written as
 * plain graph code, and a loader for their golden JSON. Shared by test/graph/parity.test.ts and
 * scripts/fixtures/export-engine-onnx.ts. Keys and layouts follow PyTorch / timm (weight [out, in]).
 */
import { readFileSync } from 'node:fs';
import { backward } from '../../src/graph/backward.js';
import { Graph } from '../../src/graph/builder.js';
import { type GeluKind, gelu, layerNorm, linear, softmaxCrossEntropy } from '../../src/graph/nn.js';
import type { Value } from '../../src/graph/types.js';
import { type Tensor, tensor } from '../../src/tensor/tensor.js';

// ------------------------------------------------------------------ fixtures

export interface PackedTensor {
  readonly shape: number[];
  readonly dtype: 'float32' | 'int64';
  readonly data: number[];
}

type Packed = Record<string, PackedTensor>;

export interface Meta {
  readonly torch: string;
  readonly seed: number;
  readonly config: Record<string, unknown>;
  readonly torch_f32_max_rel?: Record<string, number>;
}

export interface MlpFixture {
  readonly meta: Meta;
  readonly inputs: Packed;
  readonly params: Packed;
  readonly loss: number;
  readonly outputs: Packed;
  readonly grads: Packed;
}

export interface BlockCase {
  readonly gelu: GeluKind;
  readonly torch_f32_max_rel: Record<string, number>;
  readonly loss: number;
  readonly outputs: Packed;
  readonly grads: Packed;
}

export interface BlockFixture {
  readonly meta: Meta & { readonly config: BlockConfig & Record<string, unknown> };
  readonly inputs: Packed;
  readonly params: Packed;
  readonly cases: BlockCase[];
}

export const FIXTURE_DIR = new URL('../fixtures/engine/', import.meta.url);

/** The encoded training graph checked by scripts/fixtures/check_onnx.py: the block with GELU tanh. */
export const EXPORTED_BLOCK = { file: 'block-train.onnx', gelu: 'tanh', name: 'apt-prune-parity-block-train' } as const;

export function readFixture<T>(name: string): T {
  return JSON.parse(readFileSync(new URL(name, FIXTURE_DIR), 'utf8')) as T;
}

/** Largest |x|. */
export function maxAbs(xs: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < xs.length; i++) m = Math.max(m, Math.abs(xs[i] as number));
  return m;
}

/** rtol of the parity check (docs/parity.md). */
export const PARITY_RTOL = 1e-4;

/**
 * Tolerance for one golden tensor: rtol 1e-4, atol 1e-6·max|expected|. Entries above 1% of the
 * tensor's largest are held to 1e-4 relative; smaller ones, where float32 cancellation dominates
 * (the key-bias gradient is 0 in exact arithmetic), to 1e-6 of the tensor's scale.
 */
export function parityTolerance(expected: ArrayLike<number>): { rtol: number; atol: number } {
  return { rtol: PARITY_RTOL, atol: 1e-6 * maxAbs(expected) };
}

export function unpack(p: PackedTensor): Tensor {
  return p.dtype === 'int64' ? tensor(BigInt64Array.from(p.data, BigInt), p.shape) : tensor(Float32Array.from(p.data), p.shape);
}

export function unpackAll(ps: Packed): Record<string, Tensor> {
  return Object.fromEntries(Object.entries(ps).map(([k, p]) => [k, unpack(p)]));
}

// ------------------------------------------------------------------ graphs

/** A graph with outputs `loss`, one forward output and `grad.<key>` for each key in `wrt` (x and every parameter). */
export interface TrainGraph {
  readonly g: Graph;
  readonly wrt: readonly string[];
}

/** Appends ∂loss/∂v for every entry of `wrt` as outputs `grad.<key>`; returns the keys. */
function withGrads(g: Graph, loss: Value, wrt: Record<string, Value>): string[] {
  const keys = Object.keys(wrt);
  const grads = backward(
    g,
    loss,
    keys.map((k) => wrt[k] as Value),
  );
  for (const [i, k] of keys.entries()) g.output(`grad.${k}`, grads[i] as Value);
  return keys;
}

export interface MlpConfig {
  readonly in: number;
  readonly hidden: number;
  readonly classes: number;
  readonly label_smoothing: number;
}

/** fc1 → ReLU → fc2 → softmax cross-entropy (mean, label smoothing); batch symbolic. */
export function mlpGraph(cfg: MlpConfig): TrainGraph {
  const g = new Graph('parity-mlp');
  const x = g.input('x', 'float32', ['B', cfg.in]);
  const labels = g.input('labels', 'int64', ['B']);
  const p = {
    'fc1.weight': g.param('fc1.weight', [cfg.hidden, cfg.in]),
    'fc1.bias': g.param('fc1.bias', [cfg.hidden]),
    'fc2.weight': g.param('fc2.weight', [cfg.classes, cfg.hidden]),
    'fc2.bias': g.param('fc2.bias', [cfg.classes]),
  };
  const h = g.Relu(linear(g, x, p['fc1.weight'], p['fc1.bias']));
  const logits = g.output('logits', linear(g, h, p['fc2.weight'], p['fc2.bias']));
  const loss = g.output('loss', softmaxCrossEntropy(g, logits, labels, { labelSmoothing: cfg.label_smoothing }));
  return { g, wrt: withGrads(g, loss, { x, ...p }) };
}

export interface BlockConfig {
  readonly tokens: number;
  readonly dim: number;
  readonly heads: number;
  readonly mlp_ratio: number;
  readonly ln_eps: number;
}

export const BLOCK_KEYS = [
  'norm1.weight',
  'norm1.bias',
  'attn.qkv.weight',
  'attn.qkv.bias',
  'attn.proj.weight',
  'attn.proj.bias',
  'norm2.weight',
  'norm2.bias',
  'mlp.fc1.weight',
  'mlp.fc1.bias',
  'mlp.fc2.weight',
  'mlp.fc2.bias',
] as const;
export type BlockKey = (typeof BLOCK_KEYS)[number];
type BlockParams = Record<BlockKey, Value>;

/** Multi-head self-attention, timm layout: qkv [B,N,3D] → [B,N,3,H,Dh] → [3,B,H,N,Dh]. */
function attention(g: Graph, p: BlockParams, x: Value, heads: number): Value {
  const [b, n, d] = x.shape as [string, number, number];
  const hd = d / heads;
  const qkv = g.Transpose(g.Reshape(linear(g, x, p['attn.qkv.weight'], p['attn.qkv.bias']), [b, n, 3, heads, hd]), [2, 0, 3, 1, 4]);
  const [q, k, v] = g.Split(qkv, [1, 1, 1], 0).map((t) => g.Squeeze(t, [0])) as [Value, Value, Value];
  const attn = g.Softmax(g.scale(g.MatMul(q, g.Transpose(k, [0, 1, 3, 2])), hd ** -0.5), -1); // [B,H,N,N]
  const y = g.Reshape(g.Transpose(g.MatMul(attn, v), [0, 2, 1, 3]), [b, n, d]); // [B,N,H,Dh] → [B,N,D]
  return linear(g, y, p['attn.proj.weight'], p['attn.proj.bias']);
}

/** Pre-LN block: x + attn(norm1(x)), then h + mlp(norm2(h)); x [B, N, D]. */
export function preLnBlock(g: Graph, p: BlockParams, x: Value, cfg: BlockConfig, kind: GeluKind): Value {
  const h = g.Add(x, attention(g, p, layerNorm(g, x, p['norm1.weight'], p['norm1.bias'], cfg.ln_eps), cfg.heads));
  const m = gelu(g, linear(g, layerNorm(g, h, p['norm2.weight'], p['norm2.bias'], cfg.ln_eps), p['mlp.fc1.weight'], p['mlp.fc1.bias']), kind);
  return g.Add(h, linear(g, m, p['mlp.fc2.weight'], p['mlp.fc2.bias']));
}

/** The block with loss = Σ output ⊙ loss_weight, and gradients for x and every parameter. */
export function blockGraph(cfg: BlockConfig, kind: GeluKind): TrainGraph {
  const g = new Graph(`parity-block-${kind}`);
  const { tokens: n, dim: d } = cfg;
  const hidden = d * cfg.mlp_ratio;
  const x = g.input('x', 'float32', ['B', n, d]);
  const lossWeight = g.input('loss_weight', 'float32', ['B', n, d]);
  const shapes: Record<BlockKey, number[]> = {
    'norm1.weight': [d],
    'norm1.bias': [d],
    'attn.qkv.weight': [3 * d, d],
    'attn.qkv.bias': [3 * d],
    'attn.proj.weight': [d, d],
    'attn.proj.bias': [d],
    'norm2.weight': [d],
    'norm2.bias': [d],
    'mlp.fc1.weight': [hidden, d],
    'mlp.fc1.bias': [hidden],
    'mlp.fc2.weight': [d, hidden],
    'mlp.fc2.bias': [d],
  };
  const p = Object.fromEntries(BLOCK_KEYS.map((k) => [k, g.param(k, shapes[k])])) as BlockParams;
  const y = g.output('output', preLnBlock(g, p, x, cfg, kind));
  const loss = g.output('loss', g.ReduceSum(g.Mul(y, lossWeight), [0, 1, 2], false));
  return { g, wrt: withGrads(g, loss, { x, ...p }) };
}
