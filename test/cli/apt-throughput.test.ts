/**
 * The throughput probe of `apt-prune demo` and bench/apt runs every strategy's gathered graph, the
 * random baseline included (its scores are graph inputs the probe must feed). Only that it runs and
 * counts images is asserted: timings are never tested.
 */
import { describe, expect, it } from 'vitest';
import { TokenPruner } from '../../src/agent/index.js';
import { throughput } from '../../src/cli/apt-run.js';
import { blobDataset, TINY, tinyModel } from '../helpers/apt.js';

const model = tinyModel();
const ds = blobDataset(8, 4);

describe('throughput', () => {
  for (const strategy of ['threshold', { kind: 'budget', keep: [12, 8] }, { kind: 'evit', keep: [12, 8] }, { kind: 'random', keep: [12, 8] }] as const) {
    const name = typeof strategy === 'string' ? strategy : strategy.kind;
    it(`measures plain and pruned images/s with the ${name} strategy`, async () => {
      const pruner = TokenPruner.create(TINY, { seed: 0, cutLayers: [1, 2], strategy });
      const r = await throughput(model, pruner, ds, 4, 0.01);
      for (const v of [r.plain, r.pruned, r.prunedPerSample]) expect(v).toBeGreaterThan(0);
    });
  }
});
