/** `apt-prune sensitivity` and `apt-prune prune l1|entropy`: flags, typed errors, and a tiny end-to-end run whose plan re-applies exactly. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { create } from '../../../src/cnn/api.js';
import { loadCheckpoint } from '../../../src/io/checkpoint.js';
import { parseSensitivity } from '../../../src/prune/filters/sensitivity.js';
import { applyPlan, diffParams, parsePlan } from '../../../src/prune/plan.js';
import { run, tempDir } from '../../cli/helpers.js';

const tmp = await tempDir();
afterAll(() => tmp.cleanup());
const small = ['--limit-per-class', '2', '--threads', '1'];

describe('flags', () => {
  it.each([
    [['prune', 'bogus'], /^apt-prune: prune: method must be one of resrep, l1, entropy(, [a-z]+)*, got 'bogus'$/],
    [['prune', 'l1', '--epochs', '0', '--out', 'x'], /prune l1: give --ratio <p> \(uniform\), or --delta <points>/],
    [['prune', 'l1', '--ratio', '1.2', '--epochs', '0', '--out', 'x'], /prune l1: --ratio is the fraction of filters pruned away, in \(0, 1\); got 1\.2/],
    [['prune', 'l1', '--ratio', '0.5', '--delta', '1', '--epochs', '0', '--out', 'x'], /give either --ratio or --delta\/--sensitivity, not both/],
    [['prune', 'l1', '--delta', '-1', '--epochs', '0', '--out', 'x'], /--delta must be a number of accuracy points ≥ 0, got '-1'/],
    [['prune', 'l1', '--ratio', '0.5', '--ranking', 'best', '--epochs', '0', '--out', 'x'], /--ranking must be one of independent, greedy/],
    [['prune', 'entropy', '--ratio', '0.5', '--ranking', 'greedy', '--epochs', '0', '--out', 'x'], /unknown option '--ranking'/],
    [['sensitivity', '--out', 'x', '--criterion', 'l2'], /sensitivity: --criterion must be one of l1, entropy/],
  ])('%j → exit 2', async (argv, message) => {
    const r = await run(argv);
    expect([r.code, r.stderr.trim()]).toEqual([2, expect.stringMatching(message)]);
  });
  it('a layer that is not internal → exit 3 naming the layer and the rule', async () => {
    const r = await run(['sensitivity', ...small, '--layers', 'features.conv0,classifier.fc2', '--out', join(tmp.dir, 'bad')]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/layer 'classifier\.fc2' \[not-graph-output\]: cannot lose filters \(only internal layers qualify\)/);
  });
});

describe('end to end (fresh fmnist-vgg8, 2 images per class)', () => {
  it('sensitivity writes the curves (JSON, PNG); prune l1 reuses them, and its plan re-applied to the base gives the pruned weights', async () => {
    const sens = join(tmp.dir, 'sens');
    const s = await run(['sensitivity', ...small, '--layers', 'features.conv0,features.conv4', '--delta', '5', '--out', sens, '--json']);
    expect(s.code).toBe(0);
    const events = s.json();
    expect(events.filter((e) => e.kind === 'sensitivity')).toHaveLength(18);
    expect(events.at(-1)).toMatchObject({ kind: 'summary', command: 'sensitivity', macs: { before: 29424640 } });
    const sweep = parseSensitivity(JSON.parse(readFileSync(join(sens, 'sensitivity.json'), 'utf8')));
    expect(sweep.curves.map((c) => c.layer)).toEqual(['features.conv0', 'features.conv4']);
    expect(readFileSync(join(sens, 'sensitivity.png')).subarray(1, 4).toString()).toBe('PNG');

    const out = join(tmp.dir, 'l1');
    const p = await run(['prune', 'l1', ...small, '--sensitivity', join(sens, 'sensitivity.json'), '--delta', '5', '--epochs', '0', '--out', out, '--json']);
    expect(p.code).toBe(0);
    const summary = p.json().at(-1) as { macs: { after: number }; accuracy: { pruned: number; retrained: number } };
    expect(summary).toMatchObject({ kind: 'summary', command: 'prune', method: 'l1' });
    expect(summary.accuracy.retrained).toBe(summary.accuracy.pruned);
    const plan = parsePlan(JSON.parse(readFileSync(join(out, 'plan.json'), 'utf8')));
    expect(plan.macs.after).toBe(summary.macs.after);
    const saved = await loadCheckpoint(join(out, 'pruned'));
    const again = applyPlan(create('fmnist-vgg8', { seed: 0 }), plan);
    expect(diffParams(again.params, saved.tensors).identical).toBe(true);
  });
  it('prune entropy goes layer by layer on the current model and writes a plan that re-applies', async () => {
    const out = join(tmp.dir, 'entropy');
    const args = ['--ratio', '0.5', '--layers', 'features.conv4,features.conv2', '--images', '20', '--bins', '10', '--epochs', '0'];
    const r = await run(['prune', 'entropy', ...small, ...args, '--out', out, '--json']);
    expect(r.code).toBe(0);
    expect(r.json().filter((e) => e.kind === 'layer')).toEqual([
      { kind: 'layer', layer: 'features.conv2', width: 64, kept: 32 },
      { kind: 'layer', layer: 'features.conv4', width: 128, kept: 64 },
    ]);
    const plan = parsePlan(JSON.parse(readFileSync(join(out, 'plan.json'), 'utf8')));
    expect(plan.method).toBe('entropy');
    const saved = await loadCheckpoint(join(out, 'pruned'));
    expect(diffParams(applyPlan(create('fmnist-vgg8', { seed: 0 }), plan).params, saved.tensors).identical).toBe(true);
  });
});
