import { ShapeError, ValueError } from '../../tensor/errors.js';

/** One value per stage. */
export type Tri = readonly [number, number, number];
/** Groups of the group attention per application: the first application of a shared block, and every later one. */
export type GroupSpec = readonly [first: number, later: number];
/**
 * Token permutation before the group attention of applications r ≥ 1 with G > 1 (spec §4.1):
 * `'random'` draws π from the seeded Rng each forward, `'fixed'` uses the listed ones (in
 * `permutationSites` order; for goldens), `'none'` is the no-P/I ablation.
 */
export type Permutation = { readonly kind: 'random' } | { readonly kind: 'fixed'; readonly perms: readonly Int32Array[] } | { readonly kind: 'none' };

/** SReT (Shen et al., ECCV 2022): conv stem, three recursive stages with NLLs and LRC, stage pools, GAP head. */
export interface SretConfig {
  readonly kind: 'sret';
  readonly name: string;
  readonly imageSize: number;
  readonly inChans: number;
  readonly numClasses: number;
  readonly stemStrides: Tri;
  /** Head dim per stage; D_s = baseDim_s · heads_s. */
  readonly baseDim: Tri;
  readonly heads: Tri;
  /** Block applications per stage; loops L_s = depth_s / uniqueBlocks_s. */
  readonly depth: Tri;
  readonly uniqueBlocks: Tri;
  readonly groups: readonly [GroupSpec, GroupSpec, GroupSpec];
  readonly mlpRatio: number;
  readonly nllMlpRatio: number;
  readonly qkvBias: boolean;
  readonly lnEps: number;
  readonly dropPathRate: number;
  readonly gelu: 'erf' | 'tanh';
  /** Stem BatchNorm: `'frozen'` uses running statistics; `'train'` batch statistics in training (running ones updated in TS). */
  readonly bn: 'frozen' | 'train';
  readonly permutation: Permutation;
}

export type SretPreset = 'sret-t' | 'sret-lt' | 'sret-s' | 'fmnist-sret';

const PAPER = {
  kind: 'sret',
  imageSize: 224,
  inChans: 3,
  numClasses: 1000,
  stemStrides: [2, 2, 2],
  baseDim: [32, 32, 32],
  heads: [2, 4, 8],
  depth: [4, 10, 6],
  uniqueBlocks: [2, 5, 3],
  groups: [
    [8, 2],
    [4, 1],
    [1, 1],
  ],
  mlpRatio: 3.6,
  nllMlpRatio: 1,
  qkvBias: true,
  lnEps: 1e-6,
  dropPathRate: 0.1,
  gelu: 'erf',
  bn: 'frozen',
  permutation: { kind: 'random' },
} as const satisfies Omit<SretConfig, 'name'>;

/**
 * Presets (spec §1). The paper's are for checkpoints (erf GELU, frozen BN); `fmnist-sret` is ours,
 * trained from scratch, so its stem BN uses batch statistics (`bn: 'train'`).
 */
export const SRET_PRESETS: Readonly<Record<SretPreset, SretConfig>> = {
  'sret-t': { ...PAPER, name: 'sret-t' },
  'sret-lt': { ...PAPER, name: 'sret-lt', mlpRatio: 4 },
  'sret-s': { ...PAPER, name: 'sret-s', baseDim: [42, 42, 42], heads: [3, 6, 12], mlpRatio: 3, nllMlpRatio: 2, dropPathRate: 0.2 },
  'fmnist-sret': {
    ...PAPER,
    name: 'fmnist-sret',
    imageSize: 28,
    inChans: 1,
    numClasses: 10,
    stemStrides: [2, 2, 1],
    baseDim: [16, 16, 16],
    depth: [2, 4, 2],
    uniqueBlocks: [1, 2, 1],
    groups: [
      [7, 1],
      [4, 2],
      [1, 1],
    ],
    mlpRatio: 4,
    dropPathRate: 0,
    gelu: 'tanh',
    bn: 'train',
  },
};

export const STAGES = [0, 1, 2] as const;

/** Token width D_s = baseDim_s · heads_s. */
export function stageDim(c: SretConfig, s: number): number {
  return (c.baseDim[s] as number) * (c.heads[s] as number);
}

/** Loops L_s = depth_s / uniqueBlocks_s (applications of each shared block). */
export function loops(c: SretConfig, s: number): number {
  return (c.depth[s] as number) / (c.uniqueBlocks[s] as number);
}

/** Hidden widths: block MLP ⌊D·mlpRatio⌋ and NLL ⌊D·nllMlpRatio⌋ (T: 230/460/921 and 64/128/256). */
export function hiddenDims(c: SretConfig, s: number): { mlp: number; nll: number } {
  const d = stageDim(c, s);
  return { mlp: Math.floor(d * c.mlpRatio), nll: Math.floor(d * c.nllMlpRatio) };
}

/** Grid side after a 3×3 stride-`stride` pad-1 convolution. */
export function convOut(size: number, stride: number): number {
  return Math.floor((size - 1) / stride) + 1;
}

/** Grid side of each stage: stem output, then each stride-2 pool (224 → 28, 14, 7; fmnist 7, 4, 2). */
export function stageGrids(c: SretConfig): [number, number, number] {
  const g0 = c.stemStrides.reduce((s, st) => convOut(s, st), c.imageSize);
  const g1 = convOut(g0, 2);
  return [g0, g1, convOut(g1, 2)];
}

/** Groups of application r of a shared block: `groups[s][0]` for r = 0, `groups[s][1]` for every r ≥ 1 (spec §4.6). */
export function groupsAt(c: SretConfig, s: number, r: number): number {
  const spec = c.groups[s] as GroupSpec;
  return r === 0 ? spec[0] : spec[1];
}

function posInt(where: string, what: string, v: unknown): void {
  if (!Number.isInteger(v) || (v as number) < 1) throw new ValueError(where, `${what} must be a positive integer, got ${String(v)}`);
}

function checkTri(where: string, what: string, t: unknown): void {
  if (!Array.isArray(t) || t.length !== 3) throw new ValueError(where, `${what} must have 3 entries (one per stage), got ${JSON.stringify(t)}`);
  for (const [i, v] of t.entries()) posInt(where, `${what}[${i}]`, v);
}

/** Validates a config (spec §1): divisibility of depth, widths, image size and tokens by groups. */
export function validateSretConfig(c: SretConfig, where = 'sret.config'): SretConfig {
  if (c?.kind !== 'sret') throw new ValueError(where, `kind must be 'sret', got '${String(c?.kind)}'`);
  for (const k of ['imageSize', 'inChans', 'numClasses'] as const) posInt(where, k, c[k]);
  for (const k of ['stemStrides', 'baseDim', 'heads', 'depth', 'uniqueBlocks'] as const) checkTri(where, k, c[k]);
  if (!Array.isArray(c.groups) || c.groups.length !== 3)
    throw new ValueError(where, `groups must have 3 [first, later] pairs, got ${JSON.stringify(c.groups)}`);
  c.groups.forEach((gs, s) => {
    if (!Array.isArray(gs) || gs.length !== 2) throw new ValueError(where, `groups[${s}] must be [first, later], got ${JSON.stringify(gs)}`);
    for (const [i, v] of gs.entries()) posInt(where, `groups[${s}][${i}]`, v);
  });
  for (const s of STAGES) {
    if ((c.depth[s] as number) % (c.uniqueBlocks[s] as number) !== 0) {
      throw new ValueError(where, `depth[${s}] = ${c.depth[s]} is not a multiple of uniqueBlocks[${s}] = ${c.uniqueBlocks[s]}`);
    }
  }
  for (const s of [0, 1]) {
    const [a, b] = [stageDim(c, s), stageDim(c, s + 1)];
    if (b % a !== 0) throw new ValueError(where, `D_${s + 2} = ${b} is not a multiple of D_${s + 1} = ${a} (the stage pool is grouped by input channel)`);
  }
  const stride = c.stemStrides.reduce((p, s) => p * s, 1);
  if (c.imageSize % stride !== 0) throw new ValueError(where, `imageSize ${c.imageSize} is not divisible by the stem's total stride ${stride}`);
  if (!(c.mlpRatio > 0) || !(c.nllMlpRatio > 0)) throw new ValueError(where, `mlpRatio and nllMlpRatio must be > 0, got ${c.mlpRatio} and ${c.nllMlpRatio}`);
  if (!(c.lnEps > 0)) throw new ValueError(where, `lnEps must be > 0, got ${c.lnEps}`);
  if (!(c.dropPathRate >= 0 && c.dropPathRate < 1)) throw new ValueError(where, `dropPathRate must be in [0, 1), got ${c.dropPathRate}`);
  if (c.gelu !== 'erf' && c.gelu !== 'tanh') throw new ValueError(where, `gelu must be 'erf' or 'tanh', got '${String(c.gelu)}'`);
  if (c.bn !== 'frozen' && c.bn !== 'train') throw new ValueError(where, `bn must be 'frozen' or 'train', got '${String(c.bn)}'`);
  const pk = c.permutation?.kind;
  if (pk !== 'random' && pk !== 'fixed' && pk !== 'none')
    throw new ValueError(where, `permutation.kind must be 'random', 'fixed' or 'none', got '${String(pk)}'`);
  const grids = stageGrids(c);
  for (const s of STAGES) {
    const n = (grids[s] as number) ** 2;
    for (const gr of c.groups[s] as GroupSpec) {
      if (n % gr !== 0) throw new ShapeError(where, `stage ${s}: N = ${n} tokens (${grids[s]}×${grids[s]} grid) is not divisible by G = ${gr} groups`);
    }
  }
  return c;
}

export function isSretPreset(name: string): name is SretPreset {
  return Object.hasOwn(SRET_PRESETS, name);
}

/** A preset name or a validated config (sugar normalised once, at the boundary). */
export function resolveSretConfig(presetOrConfig: SretPreset | SretConfig, where = 'sret.create'): SretConfig {
  if (typeof presetOrConfig === 'string') {
    if (!isSretPreset(presetOrConfig)) throw new ValueError(where, `unknown preset '${presetOrConfig}'; presets are ${Object.keys(SRET_PRESETS).join(', ')}`);
    return SRET_PRESETS[presetOrConfig];
  }
  return validateSretConfig(presetOrConfig, where);
}
