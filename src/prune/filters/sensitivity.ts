/**
 * Sensitivity analysis (Li et al., specs/cops.md §7): each prunable layer alone, every other layer
 * intact and no retraining, loses p ∈ {0.1, …, 0.9} of its filters (by the ranking criterion) and
 * the validation accuracy is recorded; the δ rule turns the curves into per-layer ratios.
 *
 * The sweep evaluates the masked model (`maskFilters`: removed filters zeroed), which computes what
 * the sliced model computes (tested to 1e-5) with one compiled session for every point.
 */
import { type CnnModel, forward } from '../../cnn/api.js';
import type { Dataset } from '../../data/dataset.js';
import type { SessionOptions } from '../../graph/runtime.js';
import { ValueError } from '../../tensor/errors.js';
import { evaluate } from '../../train/fit.js';
import { cnnChannelAnalysis } from '../deps.js';
import { macsFunction } from '../macs.js';
import { checkRatio, filterGroups, SENSITIVITY_RATIOS } from './layers.js';
import { maskFilters, rankFilters } from './prune.js';
import type { FilterCriterion } from './rank.js';

export const SENSITIVITY_FORMAT = 'apt-prune.sensitivity';

/** One layer's curve: per grid ratio, the kept filters, validation accuracy, drop (points) and model MACs. */
export interface SensitivityCurve {
  readonly layer: string;
  readonly width: number;
  readonly keep: number[];
  readonly accuracy: number[];
  /** 100·(base accuracy − accuracy): accuracy points lost. */
  readonly drop: number[];
  readonly macs: number[];
}

export interface SensitivityResult {
  readonly format: typeof SENSITIVITY_FORMAT;
  readonly version: 1;
  readonly model: string;
  readonly criterion: FilterCriterion;
  /** Validation images per point. */
  readonly images: number;
  readonly baseAccuracy: number;
  readonly baseMacs: number;
  readonly ratios: number[];
  readonly curves: SensitivityCurve[];
}

export interface SensitivityEvent {
  readonly kind: 'sensitivity';
  readonly layer: string;
  readonly ratio: number;
  readonly keep: number;
  readonly accuracy: number;
  readonly drop: number;
  readonly done: number;
  readonly total: number;
}

export interface SensitivityOptions {
  /** Layers to sweep (default: every prunable conv); refused layers throw PruneError with their rule. */
  readonly layers?: readonly string[];
  /** Grid of ratios, increasing in (0, 1) (default 0.1 … 0.9). */
  readonly ratios?: readonly number[];
  readonly criterion?: FilterCriterion;
  /** Scores per layer (required for 'entropy': `entropyScoresOf`). */
  readonly scores?: Readonly<Record<string, ArrayLike<number>>>;
  readonly batchSize?: number;
  readonly session?: SessionOptions;
  readonly onProgress?: (e: SensitivityEvent) => void;
}

/** Runs the sweep on `val` (accuracy of the intact model first). Points with equal n_keep are evaluated once. */
export async function sensitivity(model: CnnModel, val: Dataset, opts: SensitivityOptions = {}): Promise<SensitivityResult> {
  const where = 'prune.filters.sensitivity';
  const ratios = [...(opts.ratios ?? SENSITIVITY_RATIOS)];
  ratios.forEach((p, i) => {
    checkRatio(where, 'grid', p);
    if (p === 0 || (i > 0 && p <= (ratios[i - 1] as number))) throw new ValueError(where, `ratios must increase within (0, 1), got [${ratios.join(', ')}]`);
  });
  const groups = filterGroups(where, model.config, opts.layers);
  const acc = async (m: CnnModel) => (await evaluate({ predict: (x) => forward(m, x, opts.session) }, val, opts.batchSize ?? 500)).accuracy;
  const analysis = cnnChannelAnalysis(model.config);
  const f = macsFunction(model.config, analysis);
  const widths = analysis.groups.map((g) => g.width);
  const baseAccuracy = await acc(model);
  const total = groups.length * ratios.length;
  let done = 0;
  const curves: SensitivityCurve[] = [];
  for (const g of groups) {
    const curve: SensitivityCurve = { layer: g.layer, width: g.width, keep: [], accuracy: [], drop: [], macs: [] };
    const byKeep = new Map<number, number>();
    for (const ratio of ratios) {
      const [ranked] = rankFilters(model, { ratios: { [g.layer]: ratio }, criterion: opts.criterion, scores: opts.scores });
      const keep = ranked?.keep as Int32Array;
      let a = byKeep.get(keep.length);
      if (a === undefined) {
        a = await acc(maskFilters(model, { [g.layer]: keep }));
        byKeep.set(keep.length, a);
      }
      const w = widths.map((x, i) => (analysis.groups[i]?.layer === g.layer ? keep.length : x));
      const drop = 100 * (baseAccuracy - a);
      curve.keep.push(keep.length);
      curve.accuracy.push(a);
      curve.drop.push(drop);
      curve.macs.push(f(w));
      opts.onProgress?.({ kind: 'sensitivity', layer: g.layer, ratio, keep: keep.length, accuracy: a, drop, done: ++done, total });
    }
    curves.push(curve);
  }
  const criterion = opts.criterion ?? 'l1';
  return { format: SENSITIVITY_FORMAT, version: 1, model: model.config.name, criterion, images: val.n, baseAccuracy, baseMacs: f(widths), ratios, curves };
}

/**
 * The δ rule (a project choice; the paper gives no threshold): the largest grid ratio p such that
 * every grid ratio up to p drops accuracy by ≤ δ points; 'skip' when the first already drops more.
 * §9 test 12: drops [0.1, 0.2, 0.5, 0.9, 1.5, …] at p = 0.1, 0.2, … with δ = 1 → 0.4.
 */
export function deltaRule(drops: readonly number[], ratios: readonly number[] = SENSITIVITY_RATIOS, delta = 1): number | 'skip' {
  const where = 'prune.filters.deltaRule';
  if (drops.length !== ratios.length || drops.length === 0)
    throw new ValueError(where, `drops (${drops.length}) and ratios (${ratios.length}) must have one entry per grid ratio`);
  if (!(delta >= 0)) throw new ValueError(where, `delta must be ≥ 0 accuracy points, got ${delta}`);
  let chosen: number | 'skip' = 'skip';
  for (let i = 0; i < drops.length; i++) {
    // 1e-9 absorbs float noise in 100·(a − b), so a drop of exactly δ points passes.
    if (!((drops[i] as number) <= delta + 1e-9)) break;
    chosen = ratios[i] as number;
  }
  return chosen;
}

export interface ChosenRatios {
  readonly delta: number;
  /** Per swept layer: its ratio, or 'skip' (too sensitive at the first grid ratio). */
  readonly perLayer: Record<string, number | 'skip'>;
  /** The layers to prune and their ratios (skipped layers left out), ready for `pruneFilters`. */
  readonly ratios: Record<string, number>;
  readonly skipped: string[];
}

/**
 * δ-rule ratios for every curve of a sweep. With `stage` (e.g. `(l) => l.split('.')[0]` for
 * ResNets), one ratio per stage: the smallest ratio of the stage's non-skipped layers; skipped
 * layers stay skipped (Li et al.'s ResNet-56-B: skip the sensitive layers, one ratio per stage).
 */
export function chooseRatios(result: SensitivityResult, opts: { readonly delta?: number; readonly stage?: (layer: string) => string } = {}): ChosenRatios {
  const delta = opts.delta ?? 1;
  const perLayer: Record<string, number | 'skip'> = {};
  for (const c of result.curves) perLayer[c.layer] = deltaRule(c.drop, result.ratios, delta);
  if (opts.stage) {
    const min = new Map<string, number>();
    for (const [layer, p] of Object.entries(perLayer)) {
      const s = opts.stage(layer);
      if (p !== 'skip') min.set(s, Math.min(p, min.get(s) ?? 1));
    }
    for (const [layer, p] of Object.entries(perLayer)) if (p !== 'skip') perLayer[layer] = min.get(opts.stage(layer)) as number;
  }
  const ratios: Record<string, number> = {};
  const skipped: string[] = [];
  for (const [layer, p] of Object.entries(perLayer)) {
    if (p === 'skip') skipped.push(layer);
    else ratios[layer] = p;
  }
  return { delta, perLayer, ratios, skipped };
}

/** Validates parsed JSON as a stored sweep (ValueError naming the field). */
export function parseSensitivity(json: unknown): SensitivityResult {
  const where = 'prune.filters.parseSensitivity';
  const r = json as Partial<SensitivityResult>;
  if (!r || typeof r !== 'object' || r.format !== SENSITIVITY_FORMAT)
    throw new ValueError(where, `format must be "${SENSITIVITY_FORMAT}", got ${JSON.stringify(r?.format)}`);
  if (r.version !== 1) throw new ValueError(where, `version must be 1, got ${JSON.stringify(r.version)}`);
  if (!Array.isArray(r.ratios) || !Array.isArray(r.curves)) throw new ValueError(where, 'ratios and curves must be arrays');
  for (const c of r.curves) {
    if (typeof c?.layer !== 'string' || !Array.isArray(c.drop) || c.drop.length !== r.ratios.length || c.drop.some((d) => typeof d !== 'number')) {
      throw new ValueError(where, `each curve must be { layer, drop: [${r.ratios.length} numbers], … }, got ${JSON.stringify(c).slice(0, 120)}`);
    }
  }
  return r as SensitivityResult;
}
