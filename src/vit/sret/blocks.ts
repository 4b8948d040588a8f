import type { Graph } from '../../graph/builder.js';
import { layerNorm } from '../../graph/nn.js';
import type { Value } from '../../graph/types.js';
import { DTypeError, fmtDims, GraphError, ShapeError } from '../../tensor/errors.js';
import { attention, mlp } from '../blocks.js';
import type { AttnKey, Params } from '../params.js';
import { scope } from '../params.js';
import type { SretConfig } from './config.js';
import type { NllKey, SharedBlockKey, StageKey } from './params.js';
import { stageSchedule } from './schedule.js';

/**
 * SReT's transformer pieces as pure graph functions `(g, params, x, opts)`; tokens are [B, N, D]
 * (row-major over the stage grid). The LRC scalars α/β are [1] parameters broadcast over x.
 */

/** inv with inv[π[p]] = p (argsort of a permutation), as one ScatterElements. π: int64 [N] → int64 [N]. */
export function inversePermutation(g: Graph, perm: Value): Value {
  const n = perm.shape[0];
  if (perm.shape.length !== 1 || typeof n !== 'number')
    throw new ShapeError('inversePermutation', `perm must be int64 [N] with a static N, got ${fmtDims(perm.shape)}`);
  const ids = g.constant({ type: 'int64', dims: [n], data: BigInt64Array.from({ length: n }, (_, i) => BigInt(i)) });
  return g.ScatterElements(ids, perm, ids, 0);
}

export interface GroupAttentionOptions {
  readonly heads: number;
  /** G: contiguous slices of N/G tokens attend within themselves. */
  readonly groups: number;
  /** π (int64 [N]): tokens are gathered by π before slicing and put back by argsort(π) after. */
  readonly perm?: Value;
}

/**
 * Sliced group self-attention (spec §2.6). x [B, N, D] → [B, N, D]:
 * x ← Gather(x, π) if π; y = Reshape(attention(Reshape(x, [B·G, N/G, D])), [B, N, D]); y ← Gather(y, argsort π).
 * Groups are contiguous 1-D slices of the (permuted) token order, not windows. `proj` runs before the
 * inverse permutation, which is equivalent (it acts per token). N % G ≠ 0 throws ShapeError.
 */
export function groupAttention(g: Graph, p: Params<AttnKey>, x: Value, opts: GroupAttentionOptions): Value {
  const { heads, groups, perm } = opts;
  const [, n, d] = x.shape;
  if (x.shape.length !== 3 || typeof n !== 'number' || typeof d !== 'number') {
    throw new ShapeError('groupAttention', `x must be [B, N, D] with static N and D, got ${fmtDims(x.shape)}`);
  }
  if (!Number.isInteger(groups) || groups < 1 || n % groups !== 0) {
    throw new ShapeError('groupAttention', `N = ${n} tokens is not divisible by G = ${groups} groups (x ${fmtDims(x.shape)})`);
  }
  if (perm) {
    if (perm.dtype !== 'int64') throw new DTypeError('groupAttention', `perm must be int64 [${n}], got ${perm.dtype}`);
    if (perm.shape.length !== 1 || perm.shape[0] !== n)
      throw new ShapeError('groupAttention', `perm must be int64 [${n}] (one index per token), got ${fmtDims(perm.shape)}`);
  }
  let h = perm ? g.Gather(x, perm, 1) : x;
  if (groups > 1) h = g.Reshape(h, [-1, n / groups, d]); // [B·G, N/G, D]
  let y = attention(g, p, h, heads).y;
  if (groups > 1) y = g.Reshape(y, [-1, n, d]);
  return perm ? g.Gather(y, inversePermutation(g, perm), 1) : y;
}

/** Per-sample DropPath: branch [B, N, D] · mask [B, 1, 1] (0 or 1/keep), identity without a mask. */
function dropPath(g: Graph, branch: Value, mask: Value | undefined): Value {
  return mask ? g.Mul(branch, mask) : branch;
}

export interface SharedBlockOptions extends GroupAttentionOptions {
  readonly gelu: SretConfig['gelu'];
  readonly lnEps: number;
  /** DropPath scales [B, 1, 1] of this application's attention and MLP branches (training only). */
  readonly drop?: { readonly attn?: Value; readonly mlp?: Value };
}

/**
 * Pre-LN block with learnable residual connections (LRC, spec §2.4). x [B, N, D] → [B, N, D]:
 * x ← α1·x + α2·DP(groupAttn(LN1 x)); x ← α3·x + α4·DP(MLP(LN2 x)).
 */
export function sharedBlock(g: Graph, p: Params<SharedBlockKey>, x: Value, opts: SharedBlockOptions): Value {
  const a = groupAttention(g, scope(p, 'attn'), layerNorm(g, x, p['norm1.weight'], p['norm1.bias'], opts.lnEps), opts);
  const h = g.Add(g.Mul(x, p['coefficient1.bias']), g.Mul(dropPath(g, a, opts.drop?.attn), p['coefficient2.bias']));
  const m = mlp(g, scope(p, 'mlp'), layerNorm(g, h, p['norm2.weight'], p['norm2.bias'], opts.lnEps), opts.gelu);
  return g.Add(g.Mul(h, p['coefficient3.bias']), g.Mul(dropPath(g, m, opts.drop?.mlp), p['coefficient4.bias']));
}

/** Non-linear projection layer (spec §2.5): x ← β1·x + β2·MLP(LN x). x [B, N, D] → [B, N, D]. */
export function nll(g: Graph, p: Params<NllKey>, x: Value, opts: { readonly gelu: SretConfig['gelu']; readonly lnEps: number }): Value {
  const m = mlp(g, scope(p, 'mlp'), layerNorm(g, x, p['norm1.weight'], p['norm1.bias'], opts.lnEps), opts.gelu);
  return g.Add(g.Mul(x, p['coefficient1.bias']), g.Mul(m, p['coefficient2.bias']));
}

export interface StageOptions {
  /** π for permuted application `app` (int64 [N]); required where the schedule permutes. */
  readonly perm?: (app: number) => Value | undefined;
  /** DropPath scales [B, 1, 1] for a branch of application `app` (training only). */
  readonly dropPath?: (app: number, branch: 'attn' | 'mlp') => Value | undefined;
  /** Run the NLL after each application (default true; false for the no-NLL ablation and tests). */
  readonly nll?: boolean;
  /** Sees each application's output (after its NLL); may return a replacement. */
  readonly afterApplication?: (app: number, x: Value) => Value | undefined;
}

/**
 * Recursive stage s (spec §2.3), tokens [B, N, D] → [B, N', D]: for k < R, r < L,
 * x = sharedBlock(p.blocks[2Lk], x, r); x = nll(p.blocks[2(kL+r)+1], x). Nodes are scoped by the
 * reference's module index (`blocks.<2a>` / `blocks.<2a+1>`).
 */
export function recursiveStage(g: Graph, p: Params<StageKey>, x: Value, c: SretConfig, s: number, opts: StageOptions = {}): Value {
  let h = x;
  for (const a of stageSchedule(c, s)) {
    const perm = a.permuted ? opts.perm?.(a.app) : undefined;
    if (a.permuted && !perm) throw new GraphError('recursiveStage', `stage ${s} application ${a.app} (r = ${a.r}, G = ${a.groups}) needs a permutation input`);
    const drop = { attn: opts.dropPath?.(a.app, 'attn'), mlp: opts.dropPath?.(a.app, 'mlp') };
    const blockOpts = { heads: c.heads[s] as number, groups: a.groups, perm, gelu: c.gelu, lnEps: c.lnEps, drop };
    h = g.scope(`blocks.${a.moduleIndex}`, () => sharedBlock(g, scope(p, `blocks.${a.blockIndex}`), h, blockOpts));
    if (opts.nll ?? true) h = g.scope(`blocks.${a.nllIndex}`, () => nll(g, scope(p, `blocks.${a.nllIndex}`), h, c));
    h = opts.afterApplication?.(a.app, h) ?? h;
  }
  return h;
}
