import { describe, expect, it } from 'vitest';
import { run, tempDir } from '../../cli/helpers.js';

describe('apt-prune prune cops', () => {
  it('prunes at init with COPS, trains with the mask held, reports the solve and writes the model', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const r = await run([
        '--json',
        'prune',
        'cops',
        '--sparsity',
        '0.98',
        '--kappa',
        '0.5',
        '--epochs',
        '1',
        '--batch',
        '40',
        '--limit-per-class',
        '12',
        '--threads',
        '1',
        '--out',
        dir,
      ]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const lines = r.json();
      const pruned = lines.find((l) => l.kind === 'pruned') as { k: number; d: number; combine: { status: string; evaluations: number } };
      expect([pruned.k, pruned.d, pruned.combine.status]).toEqual([5324, 266200, 'solved']);
      expect(lines.some((l) => l.kind === 'step')).toBe(true);
      const summary = lines.at(-1) as { kind: string; sparsity: number; file: string; accuracy: { accuracy: number } };
      expect([summary.kind, (summary as { method?: string }).method]).toEqual(['summary', 'cops']);
      expect(summary.sparsity).toBeCloseTo(0.98, 12); // measured on the trained weights
      expect(summary.file).toBe(`${dir}/final.safetensors`);
    } finally {
      await cleanup();
    }
  });

  it('prints a human summary, and prunes by one score with --score', async () => {
    const r = await run(['prune', 'cops', '--sparsity', '0.9', '--score', 'magnitude', '--epochs', '0', '--limit-per-class', '10', '--threads', '1']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/lenet-300-100: magnitude at sparsity 0\.9: kept 26620 of 266200 weights/);
    expect(r.stdout).toMatch(/fc1\.weight: \d+\/235200 kept/);
    expect(r.stdout).toMatch(/test accuracy \d+\.\d\d% after 0 epochs/);
  });

  it.each([
    [['--sparsity', '1'], /--sparsity must be a number in \[0, 1\), got '1'/],
    [['--sparsity', '0.9', '--kappa', '-0.1'], /--kappa must be a number in \[0, 1\], got '-0\.1'/],
    [['--sparsity', '0.9', '--score', 'synflow', '--kappa', '0.5'], /--score prunes by one score; --kappa belongs to COPS/],
    [['--sparsity', '0.9', '--base', 'entropy'], /--base must be one of random, magnitude, snip, grasp, synflow, got 'entropy'/],
  ])('usage errors exit 2: %j', async (argv, msg) => {
    const r = await run(['prune', 'cops', ...argv]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(msg);
  });
});
