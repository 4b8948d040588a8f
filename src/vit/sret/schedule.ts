import { ValueError } from '../../tensor/errors.js';
import type { Rng } from '../../tensor/rng.js';
import { type Tensor, tensor } from '../../tensor/tensor.js';
import { groupsAt, loops, type SretConfig, STAGES, stageGrids } from './config.js';

/**
 * The static plan of a model: which shared block runs at each application, with which groups and
 * permutation, which NLL follows, and the DropPath rate. Graphs and host-side draws both read it,
 * so a graph input and the tensor fed to it always agree.
 */

/** One application of a shared block inside stage `stage`, followed by its own NLL. */
export interface Application {
  readonly stage: number;
  /** Application index in the stage, a = k·L + r. */
  readonly app: number;
  /** Unique (shared) block k and loop r. */
  readonly k: number;
  readonly r: number;
  readonly groups: number;
  /** Whether tokens are permuted before the group attention (r ≥ 1, G > 1, permutation not 'none'). */
  readonly permuted: boolean;
  /** Reference module index of the shared block's parameters (2·L·k) and of this application (2a); the NLL is 2a + 1. */
  readonly blockIndex: number;
  readonly moduleIndex: number;
  readonly nllIndex: number;
  /** DropPath rate of block k (spec §3). */
  readonly dropRate: number;
}

/**
 * DropPath rates per stage and unique block: `dropPathRate·(start_s + k)/Σdepth` with start_s the
 * depth before stage s (the reference's first-R-entries quirk). T at 0.1: [[0,.005],[.02,…,.04],[.07,.075,.08]].
 */
export function dropPathRates(c: SretConfig): number[][] {
  const total = c.depth.reduce((a, b) => a + b, 0);
  let start = 0;
  return STAGES.map((s) => {
    const rates = Array.from({ length: c.uniqueBlocks[s] as number }, (_, k) => (c.dropPathRate * (start + k)) / total);
    start += c.depth[s] as number;
    return rates;
  });
}

/** Applications of stage s in execution order (internal loop): B0 N0 B0 N1 B1 N2 … for L = 2. */
export function stageSchedule(c: SretConfig, s: number): Application[] {
  const L = loops(c, s);
  const rates = dropPathRates(c)[s] as number[];
  const out: Application[] = [];
  for (let k = 0; k < (c.uniqueBlocks[s] as number); k++) {
    for (let r = 0; r < L; r++) {
      const app = k * L + r;
      const groups = groupsAt(c, s, r);
      out.push({
        stage: s,
        app,
        k,
        r,
        groups,
        permuted: r >= 1 && groups > 1 && c.permutation.kind !== 'none',
        blockIndex: 2 * L * k,
        moduleIndex: 2 * app,
        nllIndex: 2 * app + 1,
        dropRate: rates[k] as number,
      });
    }
  }
  return out;
}

/** `['B0', 'N0', 'B0', 'N1', …]`: the execution trace of stage s (shared block k, NLL a). */
export function stageTrace(c: SretConfig, s: number): string[] {
  return stageSchedule(c, s).flatMap((a) => [`B${a.k}`, `N${a.app}`]);
}

/** A permutation input: graph input name, stage, application and token count. */
export interface PermutationSite {
  readonly name: string;
  readonly stage: number;
  readonly app: number;
  readonly tokens: number;
}

/** Graph input name of the permutation of application `app` of stage `stage`. */
export const permName = (stage: number, app: number): string => `perm.${stage}.${app}`;

/** Every permuted application, in stage then application order (2 for T: stage 0, r = 1 of each block). */
export function permutationSites(c: SretConfig): PermutationSite[] {
  const grids = stageGrids(c);
  return STAGES.flatMap((s) =>
    stageSchedule(c, s)
      .filter((a) => a.permuted)
      .map((a) => ({ name: permName(s, a.app), stage: s, app: a.app, tokens: (grids[s] as number) ** 2 })),
  );
}

/** argsort of a permutation, i.e. its inverse: `inv[perm[p]] = p`. */
export function argsort(perm: ArrayLike<number>): Int32Array {
  const inv = new Int32Array(perm.length);
  for (let p = 0; p < perm.length; p++) inv[perm[p] as number] = p;
  return inv;
}

function checkPermutation(where: string, name: string, perm: ArrayLike<number>, n: number): void {
  const seen = new Uint8Array(n);
  const ok =
    perm.length === n &&
    Array.prototype.every.call(perm, (v: number) => {
      if (!Number.isInteger(v) || v < 0 || v >= n || seen[v]) return false;
      seen[v] = 1;
      return true;
    });
  if (!ok)
    throw new ValueError(
      where,
      `${name} must be a permutation of 0..${n - 1}, got length ${perm.length} [${Array.from(perm).slice(0, 8).join(',')}${perm.length > 8 ? ',…' : ''}]`,
    );
}

/**
 * The permutation feeds of one forward pass (`perm.<s>.<a>`: int64 [N_s]). `'random'`: one fresh
 * π per permuted application from `rng` (Fisher–Yates, `Rng.permutation`), in `permutationSites`
 * order; `'fixed'`: the config's; `'none'`: no feeds.
 */
export function drawPermutations(c: SretConfig, rng: Rng): Record<string, Tensor<'int64'>> {
  const sites = permutationSites(c);
  const p = c.permutation;
  if (p.kind === 'fixed' && p.perms.length !== sites.length) {
    throw new ValueError(
      'sret.drawPermutations',
      `permutation 'fixed' needs ${sites.length} permutations (one per permuted application), got ${p.perms.length}`,
    );
  }
  const out: Record<string, Tensor<'int64'>> = {};
  sites.forEach((site, i) => {
    const perm = p.kind === 'fixed' ? (p.perms[i] as Int32Array) : rng.permutation(site.tokens);
    checkPermutation('sret.drawPermutations', site.name, perm, site.tokens);
    out[site.name] = tensor(
      BigInt64Array.from(perm, (v) => BigInt(v)),
      [site.tokens],
      'int64',
    );
  });
  return out;
}

/** One DropPath site: a branch (attention or MLP) of one application, with its rate. */
export interface DropPathSite {
  readonly stage: number;
  readonly app: number;
  readonly branch: 'attn' | 'mlp';
  readonly rate: number;
  /** Column of the `drop_path` input. */
  readonly column: number;
}

/** Name of the training graph's per-sample DropPath input, [B, sites] float32. */
export const DROP_PATH_INPUT = 'drop_path';

/**
 * Sites with a non-zero rate, two per application (each `drop_path` call of the reference draws
 * its own mask, for the attention and the MLP branch), in stage / application / branch order.
 */
export function dropPathSites(c: SretConfig): DropPathSite[] {
  const out: DropPathSite[] = [];
  for (const s of STAGES) {
    for (const a of stageSchedule(c, s)) {
      if (a.dropRate <= 0) continue;
      for (const branch of ['attn', 'mlp'] as const) out.push({ stage: s, app: a.app, branch, rate: a.dropRate, column: out.length });
    }
  }
  return out;
}

/**
 * Per-sample DropPath scales for one training step: [B, sites] float32, entry (b, j) = 1/keep_j
 * with probability keep_j = 1 − rate_j, else 0; drawn row by row (`rng.uniform() < keep`).
 * Null when no site has a non-zero rate.
 */
export function drawDropPath(c: SretConfig, batch: number, rng: Rng): Tensor<'float32'> | null {
  const sites = dropPathSites(c);
  if (sites.length === 0) return null;
  const out = new Float32Array(batch * sites.length);
  for (let b = 0; b < batch; b++) {
    for (const site of sites) {
      const keep = 1 - site.rate;
      out[b * sites.length + site.column] = rng.uniform() < keep ? 1 / keep : 0;
    }
  }
  return tensor(out, [batch, sites.length]);
}
