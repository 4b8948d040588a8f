import { ValueError } from '../tensor/errors.js';

/** A plain ViT (timm's VisionTransformer, pre-LN, CLS token, learned positions). */
export interface VitConfig {
  readonly kind: 'vit';
  readonly name: string;
  readonly imageSize: number;
  readonly patchSize: number;
  readonly inChans: number;
  readonly numClasses: number;
  readonly dim: number;
  readonly depth: number;
  readonly heads: number;
  readonly mlpRatio: number;
  readonly qkvBias: boolean;
  readonly lnEps: number;
  readonly gelu: 'tanh' | 'erf';
}

export type VitPreset = 'fmnist-vit-t' | 'fmnist-vit-s' | 'vit-b16';

const FMNIST = { kind: 'vit', imageSize: 28, patchSize: 4, inChans: 1, numClasses: 10, mlpRatio: 4, qkvBias: true, lnEps: 1e-6, gelu: 'tanh' } as const;

export const VIT_PRESETS: Readonly<Record<VitPreset, VitConfig>> = {
  'fmnist-vit-t': { ...FMNIST, name: 'fmnist-vit-t', dim: 96, depth: 6, heads: 3 },
  'fmnist-vit-s': { ...FMNIST, name: 'fmnist-vit-s', dim: 192, depth: 12, heads: 3 },
  'vit-b16': {
    kind: 'vit',
    name: 'vit-b16',
    imageSize: 224,
    patchSize: 16,
    inChans: 3,
    numClasses: 1000,
    dim: 768,
    depth: 12,
    heads: 12,
    mlpRatio: 4,
    qkvBias: true,
    lnEps: 1e-6,
    gelu: 'erf',
  },
};

/** Patch tokens per image (without CLS). */
export function numPatches(c: VitConfig): number {
  return (c.imageSize / c.patchSize) ** 2;
}

/** Tokens per image including CLS. */
export function numTokens(c: VitConfig): number {
  return numPatches(c) + 1;
}

export function mlpDim(c: VitConfig): number {
  return Math.round(c.dim * c.mlpRatio);
}

/**
 * Resolves a preset name or validates a config (sugar normalised once, at the boundary). `where`
 * names the public function in error messages.
 */
export function resolveConfig(presetOrConfig: VitPreset | VitConfig, where = 'vit.config'): VitConfig {
  if (typeof presetOrConfig === 'string') {
    // Own keys only: 'constructor' or 'toString' are not presets.
    if (!Object.hasOwn(VIT_PRESETS, presetOrConfig)) {
      throw new ValueError(where, `unknown preset '${presetOrConfig}'; presets are ${Object.keys(VIT_PRESETS).join(', ')}`);
    }
    return VIT_PRESETS[presetOrConfig];
  }
  const c = presetOrConfig;
  if (typeof c !== 'object' || c === null) throw new ValueError(where, `expected a preset name or a VitConfig, got ${String(c)}`);
  const ints: (keyof VitConfig)[] = ['imageSize', 'patchSize', 'inChans', 'numClasses', 'dim', 'depth', 'heads'];
  for (const k of ints) {
    const v = c[k];
    if (!Number.isInteger(v) || (v as number) < 1) throw new ValueError(where, `${k} must be a positive integer, got ${String(v)}`);
  }
  if (c.kind !== 'vit') throw new ValueError(where, `kind must be 'vit', got '${String(c.kind)}'`);
  if (c.imageSize % c.patchSize !== 0) throw new ValueError(where, `imageSize ${c.imageSize} is not divisible by patchSize ${c.patchSize}`);
  if (c.dim % c.heads !== 0) throw new ValueError(where, `dim ${c.dim} is not divisible by heads ${c.heads}`);
  if (!(c.mlpRatio > 0)) throw new ValueError(where, `mlpRatio must be > 0, got ${c.mlpRatio}`);
  if (!(c.lnEps > 0)) throw new ValueError(where, `lnEps must be > 0, got ${c.lnEps}`);
  if (c.gelu !== 'tanh' && c.gelu !== 'erf') throw new ValueError(where, `gelu must be 'tanh' or 'erf', got '${String(c.gelu)}'`);
  return c;
}
