import { ShapeError, ValueError } from '../../tensor/errors.js';
import { convOut, hiddenDims, type SretConfig, STAGES, stageDim, stageGrids } from './config.js';
import { stageSchedule } from './schedule.js';

export interface SretMacsOptions {
  /** Count group attention over N/G keys (default true); false = every application attends over all N. */
  readonly slicing?: boolean;
  /**
   * Tokens seen by each application of the last stage (its block and NLL), e.g. after a KeepPlan;
   * default all N_3. Means over a batch may be fractional.
   */
  readonly lastStageTokens?: readonly number[];
}

export interface SretMacs {
  readonly stem: number;
  readonly blocks: number;
  readonly nll: number;
  readonly pools: number;
  readonly head: number;
  readonly total: number;
}

/**
 * Analytic multiply-accumulates of one image (batch 1, no factor 2), the convention of the
 * reference README: a convolution counts K²·(C_in/group)·C_out per output pixel, a linear layer
 * in·out per token, attention 2·N·(N/G)·D (QKᵀ and AV over each group's N/G keys). Biases, norms,
 * softmax, GELU, the LRC scalars, the position add and the GAP are not counted.
 * SReT-T: 1,112,444,672 (1,365,682,944 without slicing); SReT-S: 4,172,819,112.
 */
export function sretMacs(c: SretConfig, opts: SretMacsOptions = {}): SretMacs {
  const slicing = opts.slicing ?? true;
  const c0 = stageDim(c, 0);
  const chans = [c.inChans, c0 / 2, c0, c0];
  let side = c.imageSize;
  let stem = 0;
  c.stemStrides.forEach((st, i) => {
    side = convOut(side, st);
    stem += side * side * 9 * (chans[i] as number) * (chans[i + 1] as number);
  });
  const grids = stageGrids(c);
  let blocks = 0;
  let nll = 0;
  let pools = 0;
  const last = opts.lastStageTokens;
  const n3 = grids[2] ** 2;
  if (last) {
    if (last.length !== c.depth[2])
      throw new ShapeError('sret.sretMacs', `lastStageTokens must have ${c.depth[2]} entries (one per application), got ${last.length}`);
    last.forEach((n, i) => {
      if (!(n >= 1 && n <= n3)) throw new ValueError('sret.sretMacs', `lastStageTokens[${i}] = ${n} is outside [1, ${n3}]`);
    });
  }
  for (const s of STAGES) {
    const d = stageDim(c, s);
    const h = hiddenDims(c, s);
    for (const a of stageSchedule(c, s)) {
      const n = s === 2 && last ? (last[a.app] as number) : (grids[s] as number) ** 2;
      const keys = slicing ? n / a.groups : n;
      blocks += 4 * n * d * d + 2 * n * keys * d + 2 * n * d * h.mlp;
      nll += 2 * n * d * h.nll;
    }
    if (s < 2) pools += convOut(grids[s] as number, 2) ** 2 * 9 * stageDim(c, s + 1);
  }
  const head = stageDim(c, 2) * c.numClasses;
  return { stem, blocks, nll, pools, head, total: stem + blocks + nll + pools + head };
}
