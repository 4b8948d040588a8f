import type { CnnModel } from '../../cnn/api.js';
import type { CnnConfig } from '../../cnn/config.js';
import { countMacs } from '../macs.js';
import type { ConvertedLayer } from './cnn.js';

export interface ConversionReport {
  readonly layers: readonly {
    readonly layer: string;
    readonly width: number;
    readonly kept: number;
    /** Masked rows whose norm is still ≥ the threshold: kept, though the schedule had masked them (§6.2). */
    readonly maskedKept: readonly number[];
    /** Unmasked rows below the threshold: dropped, though the schedule had not masked them. */
    readonly unmaskedDropped: readonly number[];
  }[];
  /** MACs of the base and the converted model, and F/F0 against the target. */
  readonly macsBefore: number;
  readonly macsAfter: number;
  readonly ratio: number;
  readonly target?: number;
  readonly reached?: boolean;
}

/**
 * The end-of-run report of §6.2: per layer, masked rows still ≥ threshold (kept) and unmasked rows
 * below it (dropped), and the final F/F0 against the target. `masks[layer]` holds 1 = unmasked.
 */
export function conversionReport(
  base: CnnConfig | CnnModel,
  converted: { readonly model: CnnModel; readonly layers: readonly ConvertedLayer[] },
  masks: Readonly<Record<string, ArrayLike<number>>> = {},
  target?: number,
): ConversionReport {
  const layers = converted.layers.map((l) => {
    const kept = new Set(l.keep);
    const m = masks[l.layer];
    const maskedKept: number[] = [];
    const unmaskedDropped: number[] = [];
    for (let j = 0; j < l.width; j++) {
      const masked = m !== undefined && m[j] === 0;
      if (masked && kept.has(j)) maskedKept.push(j);
      if (m !== undefined && !masked && !kept.has(j)) unmaskedDropped.push(j);
    }
    return { layer: l.layer, width: l.width, kept: l.keep.length, maskedKept, unmaskedDropped };
  });
  const macsBefore = countMacs(base).total;
  const macsAfter = countMacs(converted.model).total;
  const ratio = macsAfter / macsBefore;
  return { layers, macsBefore, macsAfter, ratio, ...(target !== undefined ? { target, reached: ratio <= target + 1e-12 } : {}) };
}

/** Human lines for a report: one per layer with changes, then F/F0 vs the target. */
export function formatConversionReport(r: ConversionReport): string[] {
  const lines = r.layers.map((l) => {
    const extra = [
      l.maskedKept.length ? `masked but kept (norm ≥ threshold): [${l.maskedKept.join(',')}]` : '',
      l.unmaskedDropped.length ? `unmasked but dropped (norm < threshold): [${l.unmaskedDropped.join(',')}]` : '',
    ].filter(Boolean);
    return `${l.layer}: ${l.width} → ${l.kept}${extra.length ? ` · ${extra.join(' · ')}` : ''}`;
  });
  const t = r.target === undefined ? '' : ` (target ${r.target.toFixed(3)}${r.reached ? ', reached' : ', NOT reached'})`;
  lines.push(`MACs ${r.macsBefore.toLocaleString('en-US')} → ${r.macsAfter.toLocaleString('en-US')}: F/F0 = ${r.ratio.toFixed(4)}${t}`);
  return lines;
}
