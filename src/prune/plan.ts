/**
 * Pruning plans: which output channels each layer keeps, as JSON that can be stored beside a
 * pruned model, re-applied to the source weights and diffed. Format (`apt-prune.pruning-plan` v1):
 *
 *     { format, version, method: 'resrep' | 'l1' | …, model, target?, source?: { sha256, path? },
 *       macs: { before, after, ratio },
 *       layers: [{ layer, width, keep: [sorted indices], macsBefore, macsAfter }] }
 *
 * `width` is the layer's original output width; `macsBefore`/`macsAfter` are that layer's own MACs
 * (§7) in the original and the pruned model; `source.sha256` identifies the checkpoint the plan
 * was made from (the safetensors file's sha256, as `saveCheckpoint` reports it).
 */
import type { CnnModel } from '../cnn/api.js';
import type { CnnConfig } from '../cnn/config.js';
import type { Graph } from '../graph/builder.js';
import { ValueError } from '../tensor/errors.js';
import type { Tensor } from '../tensor/tensor.js';
import { checkKeep, type Keep, removeCnnChannels } from './channels.js';
import { cnnChannelAnalysis } from './deps.js';
import { PruneError } from './errors.js';
import { countMacs } from './macs.js';
import { convertResRep, type ResRepModel } from './resrep/cnn.js';

export const PLAN_FORMAT = 'apt-prune.pruning-plan';

export interface PlanLayer {
  readonly layer: string;
  readonly width: number;
  readonly keep: readonly number[];
  readonly macsBefore: number;
  readonly macsAfter: number;
}

export interface PruningPlan {
  readonly format: typeof PLAN_FORMAT;
  readonly version: 1;
  readonly method: string;
  readonly model: string;
  readonly target?: number;
  readonly source?: { readonly sha256: string; readonly path?: string };
  readonly macs: { readonly before: number; readonly after: number; readonly ratio: number };
  readonly layers: readonly PlanLayer[];
}

type Counted = Graph | CnnModel | CnnConfig;

/** A plan from kept indices and the models before and after (for the MACs columns). */
export function makePlan(o: {
  readonly method: string;
  readonly model: string;
  readonly before: Counted;
  readonly after: Counted;
  readonly keep: Readonly<Record<string, Keep>>;
  readonly widths: Readonly<Record<string, number>>;
  readonly target?: number;
  readonly source?: { readonly sha256: string; readonly path?: string };
}): PruningPlan {
  const b = countMacs(o.before);
  const a = countMacs(o.after);
  const per = (r: typeof b, layer: string) => r.layers.filter((l) => l.layer === layer).reduce((s, l) => s + l.macs, 0);
  const layers = Object.entries(o.keep).map(([layer, k]) => ({
    layer,
    width: o.widths[layer] as number,
    keep: Array.from(checkKeep('prune.makePlan', layer, k, o.widths[layer] ?? 0)),
    macsBefore: per(b, layer),
    macsAfter: per(a, layer),
  }));
  return {
    format: PLAN_FORMAT,
    version: 1,
    method: o.method,
    model: o.model,
    ...(o.target !== undefined ? { target: o.target } : {}),
    ...(o.source ? { source: o.source } : {}),
    macs: { before: b.total, after: a.total, ratio: a.total / b.total },
    layers,
  };
}

/** Validates parsed JSON as a plan (ValueError / PruneError naming the field or layer). */
export function parsePlan(json: unknown): PruningPlan {
  const where = 'prune.parsePlan';
  const p = json as Partial<PruningPlan>;
  if (!p || typeof p !== 'object' || p.format !== PLAN_FORMAT) throw new ValueError(where, `format must be "${PLAN_FORMAT}", got ${JSON.stringify(p?.format)}`);
  if (p.version !== 1) throw new ValueError(where, `version must be 1, got ${JSON.stringify(p.version)}`);
  if (!Array.isArray(p.layers)) throw new ValueError(where, 'layers must be an array');
  for (const l of p.layers) {
    if (typeof l?.layer !== 'string' || !Number.isInteger(l.width) || !Array.isArray(l.keep)) {
      throw new ValueError(where, `each layer must be { layer, width, keep: [...] }, got ${JSON.stringify(l).slice(0, 120)}`);
    }
    checkKeep(where, l.layer, l.keep, l.width);
  }
  if (p.source !== undefined && !/^[0-9a-f]{64}$/.test(String(p.source?.sha256))) throw new ValueError(where, 'source.sha256 must be 64 hex digits');
  return p as PruningPlan;
}

/** `{ layer: keep }` of a plan. */
export function planKeep(plan: PruningPlan): Record<string, Int32Array> {
  return Object.fromEntries(plan.layers.map((l) => [l.layer, Int32Array.from(l.keep)]));
}

/**
 * Re-applies a plan to weights: a ResRep model (with compactors) is converted with the plan's kept
 * rows; a plain `cnn` model is sliced (`removeCnnChannels`, BN kept). Checks every layer's width
 * against the model (PruneError 'plan-shapes') and, with `opts.sha256`, the source checkpoint
 * (PruneError 'plan-source').
 */
export function applyPlan(model: CnnModel | ResRepModel, plan: PruningPlan, opts: { readonly sha256?: string } = {}): CnnModel {
  const where = 'prune.applyPlan';
  parsePlan(plan);
  if (opts.sha256 !== undefined && plan.source && plan.source.sha256 !== opts.sha256) {
    throw new PruneError(where, plan.model, 'plan-source', `plan was made from checkpoint sha256 ${plan.source.sha256}, the weights given are ${opts.sha256}`);
  }
  const base = 'compactors' in model ? model.base : model.config;
  const groups = cnnChannelAnalysis(base).groups;
  for (const l of plan.layers) {
    const g = groups.find((x) => x.layer === l.layer);
    if (g && g.width !== l.width) throw new PruneError(where, l.layer, 'plan-shapes', `plan says width ${l.width}, the model has ${g.width} output channels`);
  }
  const keep = planKeep(plan);
  if ('compactors' in model) {
    for (const layer of Object.keys(keep)) {
      if (!model.compactors.some((s) => s.layer === layer)) throw new PruneError(where, layer, 'plan-shapes', 'has no compactor in this model');
    }
    return convertResRep(model, { keep }).model;
  }
  return removeCnnChannels(model, keep);
}

export interface ParamDiff {
  /** Largest |a − b| over all shared tensors of equal shape. */
  readonly maxAbs: number;
  readonly identical: boolean;
  readonly onlyInA: string[];
  readonly onlyInB: string[];
  readonly shapeMismatch: string[];
}

/** Compares two parameter records tensor by tensor (a re-applied plan against a saved pruned model). */
export function diffParams(a: Readonly<Record<string, Tensor>>, b: Readonly<Record<string, Tensor>>): ParamDiff {
  let maxAbs = 0;
  const shapeMismatch: string[] = [];
  for (const [k, ta] of Object.entries(a)) {
    const tb = b[k];
    if (!tb) continue;
    if (ta.dims.join(',') !== tb.dims.join(',')) {
      shapeMismatch.push(k);
      continue;
    }
    for (let i = 0; i < ta.data.length; i++) maxAbs = Math.max(maxAbs, Math.abs(Number(ta.data[i]) - Number(tb.data[i])));
  }
  const onlyInA = Object.keys(a).filter((k) => !(k in b));
  const onlyInB = Object.keys(b).filter((k) => !(k in a));
  return { maxAbs, identical: maxAbs === 0 && !onlyInA.length && !onlyInB.length && !shapeMismatch.length, onlyInA, onlyInB, shapeMismatch };
}
