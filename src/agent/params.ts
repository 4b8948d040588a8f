import type { Graph } from '../graph/builder.js';
import type { Value } from '../graph/types.js';
import { CheckpointError, fmtDims } from '../tensor/errors.js';
import type { Rng } from '../tensor/rng.js';
import { clone, type Tensor, zeros } from '../tensor/tensor.js';
import type { Params } from '../vit/params.js';

export type ScorerKey = `${'query' | 'key' | 'value' | 'fc'}.${'weight' | 'bias'}`;

/** A pruner's eight tensors, in checkpoint order. */
export const SCORER_KEYS: readonly ScorerKey[] = (['query', 'key', 'value', 'fc'] as const).flatMap((m) =>
  (['weight', 'bias'] as const).map((w): ScorerKey => `${m}.${w}`),
);

/** A pruner's parameter shapes for token dim D (PyTorch Linear layout [out, in]). */
export function scorerShapes(dim: number): [ScorerKey, number[]][] {
  return [
    ['query.weight', [dim, dim]],
    ['query.bias', [dim]],
    ['key.weight', [dim, dim]],
    ['key.bias', [dim]],
    ['value.weight', [dim, dim]],
    ['value.bias', [dim]],
    ['fc.weight', [2, 2 * dim]],
    ['fc.bias', [2]],
  ];
}

/** Parameters per pruner: 3(D² + D) + 4D + 2 (28,322 at D = 96). */
export function scorerParamCount(dim: number): number {
  return 3 * (dim * dim + dim) + 4 * dim + 2;
}

/** Checkpoint key of pruner k's parameter (the source's `clip_layer.{k}.{query,key,value,fc}.…`). */
export const prunerKey = (k: number, key: ScorerKey): string => `clip_layer.${k}.${key}`;

/**
 * PyTorch Linear's default init, U(±1/√fan_in) for weight and bias (fan_in D for q/k/v, 2D for fc),
 * drawn ONCE and copied into every pruner, as the source does.
 */
export function initScorers(dim: number, count: number, rng: Rng): Record<string, Tensor<'float32'>> {
  const one: Partial<Record<ScorerKey, Tensor<'float32'>>> = {};
  for (const [key, dims] of scorerShapes(dim)) {
    const fanIn = key.startsWith('fc') ? 2 * dim : dim;
    const t = zeros(dims);
    rng.fillUniform(t.data, -1 / Math.sqrt(fanIn), 1 / Math.sqrt(fanIn));
    one[key] = t;
  }
  const out: Record<string, Tensor<'float32'>> = {};
  for (let k = 0; k < count; k++) for (const [key] of scorerShapes(dim)) out[prunerKey(k, key)] = clone(one[key] as Tensor<'float32'>);
  return out;
}

/** Declares one pruner's parameters as graph params named `<prefix><key>`. */
export function scorerParams(g: Graph, dim: number, prefix: string): Params<ScorerKey> {
  return Object.fromEntries(scorerShapes(dim).map(([k, dims]) => [k, g.param(`${prefix}${k}`, dims)])) as Params<ScorerKey>;
}

/** Validates pruner tensors in a state dict against D and the number of cut layers. */
export function checkScorers(where: string, dim: number, count: number, sd: Readonly<Record<string, Tensor>>): void {
  const bad: string[] = [];
  for (let k = 0; k < count; k++) {
    for (const [key, dims] of scorerShapes(dim)) {
      const t = sd[prunerKey(k, key)];
      if (!t) bad.push(`missing ${prunerKey(k, key)}`);
      else if (t.type !== 'float32' || fmtDims(t.dims) !== fmtDims(dims))
        bad.push(`${prunerKey(k, key)}: ${fmtDims(dims)} float32 expected, got ${fmtDims(t.dims)} ${t.type}`);
    }
  }
  const extra = Object.keys(sd).filter((k) => k.startsWith('clip_layer.') && Number(k.split('.')[1]) >= count);
  if (extra.length) bad.push(`unexpected ${extra.join(', ')} (the model has ${count} cut layers)`);
  if (bad.length) throw new CheckpointError(where, `pruner tensors do not match (D = ${dim}, ${count} cut layers): ${bad.join('; ')}`);
}

/** Pruner k's tensors under their generic keys (what the shared scorer graphs are fed with). */
export function scorerFeeds(params: Readonly<Record<string, Tensor>>, k: number, prefix = ''): Record<string, Tensor> {
  return Object.fromEntries(SCORER_KEYS.map((key) => [`${prefix}${key}`, params[prunerKey(k, key)] as Tensor]));
}

export type { Value };
