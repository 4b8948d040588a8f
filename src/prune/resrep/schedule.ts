import { ValueError } from '../../tensor/errors.js';
import { PruneError } from '../errors.js';

export interface SelectMaskOptions {
  /** g: at most this many new channels are masked per update before the target is met (default 4). */
  readonly granularity?: number;
  /** A layer keeps at least this many unmasked channels (default 1). */
  readonly minWidth?: number;
  /** Layer names for messages (default `layer<i>`). */
  readonly layers?: readonly string[];
}

export interface MaskSelection {
  /** Per layer, one entry per channel: 1 = kept (objective gradient flows), 0 = masked. */
  readonly masks: Uint8Array[];
  /** Unmasked channels per layer. */
  readonly widths: number[];
  /** F(widths). */
  readonly flops: number;
  /** F(widths) ≤ target·F0. */
  readonly reached: boolean;
  /** The entries ran out before the target was met: the target is unreachable under minWidth. */
  readonly exhausted: boolean;
}

/**
 * One mask update of ResRep's schedule (specs/resrep.md §5.3), recomputed from scratch:
 *
 *     entries = all (layer, j), stable-sorted ascending by raw r_j (ties: layer order, then j)
 *     limit   = masked + g  if F(cur) > target·F0  else ∞        (masked = Σ original − cur)
 *     w = original; walk the entries while F(w) > target·F0: skip a layer at minWidth (no limit
 *     check after a skip), else w[l] −= 1 and stop once `limit` entries were taken or skipped
 *
 * `norms[l]` are layer l's row norms (its original width is their count), `widths[l]` its current
 * unmasked count, `flopsOf(w)` the MACs at widths w (F0 = flopsOf(original)), `target` the
 * remaining fraction (0.5 keeps half the MACs). Pure and deterministic.
 */
export function selectMask(
  norms: readonly ArrayLike<number>[],
  widths: ArrayLike<number>,
  flopsOf: (w: readonly number[]) => number,
  target: number,
  opts: SelectMaskOptions = {},
): MaskSelection {
  const where = 'resrep.selectMask';
  const g = opts.granularity ?? 4;
  const minWidth = opts.minWidth ?? 1;
  if (!Number.isInteger(g) || g < 1) throw new ValueError(where, `granularity must be an integer >= 1, got ${g}`);
  if (!Number.isInteger(minWidth) || minWidth < 1) throw new ValueError(where, `minWidth must be an integer >= 1, got ${minWidth}`);
  if (!(target > 0 && target <= 1)) throw new ValueError(where, `target must be the remaining MACs fraction in (0, 1], got ${target}`);
  if (!Array.isArray(norms) || widths?.length !== norms.length) {
    throw new ValueError(where, `norms and widths must list the same layers, got ${norms?.length} and ${widths?.length}`);
  }
  const name = (l: number) => opts.layers?.[l] ?? `layer${l}`;
  const original = norms.map((n) => n.length);
  const entries: { l: number; j: number; r: number }[] = [];
  norms.forEach((n, l) => {
    const w = widths[l] as number;
    if (!Number.isInteger(w) || w < 0 || w > n.length) throw new ValueError(where, `widths[${l}] (${name(l)}) must be in [0, ${n.length}], got ${w}`);
    for (let j = 0; j < n.length; j++) {
      const r = n[j] as number;
      if (!Number.isFinite(r)) throw new PruneError(where, name(l), 'finite-compactor', `row norm ${j} is ${r}; rows must be finite to be ranked`);
      entries.push({ l, j, r });
    }
  });
  entries.sort((a, b) => a.r - b.r); // stable: ties keep layer order, then j
  const budget = target * flopsOf(original);
  const cur = Array.from(widths as ArrayLike<number>);
  const masked = original.reduce((s, o, l) => s + o - (cur[l] as number), 0);
  const limit = flopsOf(cur) > budget ? masked + g : Number.POSITIVE_INFINITY;
  const w = [...original];
  const skipped = new Set<number>();
  let i = 0;
  while (flopsOf(w) > budget && i < entries.length) {
    const { l } = entries[i] as { l: number };
    if ((w[l] as number) <= minWidth) {
      skipped.add(i);
      i++;
      continue;
    }
    w[l] = (w[l] as number) - 1;
    i++;
    if (i >= limit) break;
  }
  const masks = original.map((o) => new Uint8Array(o).fill(1));
  for (let k = 0; k < i; k++) {
    if (skipped.has(k)) continue;
    const e = entries[k] as { l: number; j: number };
    (masks[e.l] as Uint8Array)[e.j] = 0;
  }
  const flops = flopsOf(w);
  return { masks, widths: w, flops, reached: flops <= budget, exhausted: i >= entries.length && flops > budget };
}

/** Whether the mask is recomputed at the top of iteration t: t > W and (t − W) mod N = 0 (first at W + N). */
export function isMaskUpdate(t: number, warmup: number, interval: number): boolean {
  if (!Number.isInteger(interval) || interval < 1) throw new ValueError('resrep.isMaskUpdate', `interval must be an integer >= 1, got ${interval}`);
  return t > warmup && (t - warmup) % interval === 0;
}
