import { ShapeError, ValueError } from '../../tensor/errors.js';
import { type GroupSpec, type SretConfig, STAGES, stageDim, stageGrids } from './config.js';

/** What a token pruner sees of one stage. */
export interface StageTokens {
  readonly stage: number;
  /** Grid side; the stage holds grid² tokens of width `dim`. */
  readonly grid: number;
  readonly tokens: number;
  readonly dim: number;
  readonly heads: number;
  readonly groups: GroupSpec;
  /** Block applications (each followed by its NLL). */
  readonly applications: number;
  /** Whether a KeepPlan may act in this stage (last stage, G = 1 throughout). */
  readonly prunable: boolean;
}

/** Token counts per stage (T: 784, 196, 49; fmnist-sret: 49, 16, 4) and where pruning is allowed. */
export function stageTokens(c: SretConfig): StageTokens[] {
  const grids = stageGrids(c);
  return STAGES.map((s) => {
    const groups = c.groups[s] as GroupSpec;
    return {
      stage: s,
      grid: grids[s] as number,
      tokens: (grids[s] as number) ** 2,
      dim: stageDim(c, s),
      heads: c.heads[s] as number,
      groups,
      applications: c.depth[s] as number,
      prunable: s === STAGES.length - 1 && groups[0] === 1 && groups[1] === 1,
    };
  });
}

/**
 * Throws ShapeError unless a KeepPlan may act in `stage` (spec §4.5): the stage pools need the full
 * grid and group attention needs N % G = 0, so only the last stage, with G = 1, accepts one. The
 * TokenPruner calls this before it cuts; `forwardFeatures` calls it when a hook replaces tokens.
 */
export function assertPrunableStage(c: SretConfig, stage: number, where = 'sret.assertPrunableStage'): void {
  if (!Number.isInteger(stage) || stage < 0 || stage >= STAGES.length) throw new ValueError(where, `stage must be 0, 1 or 2, got ${stage}`);
  const t = stageTokens(c)[stage] as StageTokens;
  if (t.prunable) return;
  const last = STAGES.length - 1;
  const why =
    stage < last
      ? `the stage pool after it needs the full ${t.grid}×${t.grid} grid (${t.tokens} tokens) and groups [${t.groups.join(',')}] need N % G = 0`
      : `its groups are [${t.groups.join(',')}], and token pruning needs G = 1`;
  throw new ShapeError(
    where,
    `a KeepPlan is accepted only in the last stage (stage ${last}) with G = 1; stage ${stage} of ${c.name} has ${t.tokens} tokens: ${why}`,
  );
}
