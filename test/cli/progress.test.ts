/** The progress renderer with a fake clock: TTY redraws, log lines on an interval, JSON lines. */
import { describe, expect, it, vi } from 'vitest';
import { context } from '../../src/cli/io.js';
import { createProgress, fmtDuration, formatPhase, formatStep } from '../../src/cli/progress.js';
import type { FitEvent } from '../../src/train/fit.js';
import { sink } from './helpers.js';

const step = (s: number, loss: number, total = 10): FitEvent => ({
  kind: 'step',
  epoch: Math.floor((s - 1) / 5),
  step: s,
  totalSteps: total,
  loss,
  lr: 1e-3,
  imagesPerSec: 1234.4,
  etaSec: (total - s) * 2,
});

function setup(mode: { tty?: boolean; json?: boolean; intervalMs?: number }) {
  let t = 0;
  const stdout = sink();
  const stderr = sink(mode.tty ? { columns: 60 } : undefined);
  const ctx = context({ stdout, stderr, now: () => t, progressIntervalMs: mode.intervalMs }, { json: mode.json ?? false, verbose: false });
  const progress = createProgress(ctx, { epochs: 2, evalLabel: 'test' });
  return { progress, stdout, stderr, tick: (ms: number) => (t += ms) };
}

describe('formatting', () => {
  it('step line: 1-based epoch, bar, counts, smoothed loss as given, rate, ETA', () => {
    const v = { epoch: 2, epochs: 30, step: 312, totalSteps: 7020, loss: 0.91234, imagesPerSec: 1234.4, etaSec: 3725 };
    expect(formatStep(v)).toBe('epoch 2/30 ▕█░░░░░░░░░░░░░░░░░░░▏ step 312/7020 · loss 0.912 · 1,234 img/s · ETA 1h02m');
    expect(formatStep(v, false)).toBe('epoch 2/30 step 312/7020 · loss 0.912 · 1,234 img/s · ETA 1h02m');
  });

  it('phase line with and without a count', () => {
    expect(formatPhase('evaluating test', 3000, 10000, 1.5, false)).toBe('evaluating test 3,000/10,000 · 2,000 img/s · ETA 4s');
    expect(formatPhase('loading Fashion-MNIST', undefined, undefined, 0)).toBe('loading Fashion-MNIST…');
  });

  it('durations', () => {
    expect([fmtDuration(0), fmtDuration(59.4), fmtDuration(245), fmtDuration(3725), fmtDuration(Number.NaN), fmtDuration(-1)]).toEqual([
      '0s',
      '59s',
      '4m05s',
      '1h02m',
      '?',
      '?',
    ]);
  });
});

describe('TTY', () => {
  it('redraws one line in place, throttled, never wider than the terminal, and clears it at the end', () => {
    const { progress, stderr, tick } = setup({ tty: true });
    progress.fit(step(1, 2.0));
    tick(10);
    progress.fit(step(2, 1.0)); // within 100 ms: no redraw
    tick(200);
    progress.fit(step(3, 1.0));
    const frames = stderr
      .text()
      .split('\r')
      .filter((f) => f !== '');
    expect(frames).toHaveLength(2);
    for (const f of frames) {
      expect(f.endsWith('\x1b[K')).toBe(true);
      expect([...f.replace('\x1b[K', '')].length).toBeLessThanOrEqual(59);
      expect(f).not.toContain('\n');
    }
    expect(frames[0]).toMatch(/^epoch 1\/2 ▕/);
    // Debiased EMA (β 0.9) of the losses 2, 1, 1: (0.81·0.1·2 + 0.9·0.1·1 + 0.1·1) / (1 − 0.9³) = 1.2989.
    expect(frames[1]).toContain('step 3/10 · loss 1.299 ·');
    tick(200);
    progress.note('hello');
    expect(stderr.text()).toContain('\r\x1b[Khello\n\r');
    progress.end();
    expect(stderr.text().endsWith('\r\x1b[K')).toBe(true);
  });

  it('an eval prints a line above the bar and brings the training bar back', () => {
    const { progress, stderr, tick } = setup({ tty: true });
    progress.fit(step(5, 1.5));
    tick(200);
    progress.phase('evaluating test', 0, 100);
    tick(200);
    progress.phase('evaluating test', 100, 100);
    progress.fit({ kind: 'eval', epoch: 1, step: 5, accuracy: 0.8123, loss: 0.54321 });
    const text = stderr.text();
    expect(text).toContain('\r\x1b[Kepoch 1/2: test accuracy 81.23% · loss 0.5432 (step 5)\n');
    expect(text.slice(text.lastIndexOf('\r'))).toMatch(/^\repoch 1\/2 ▕/);
  });
});

describe('not a TTY', () => {
  it('prints a step line only when the interval has passed (and always the last step), evals always', () => {
    const { progress, stderr, tick } = setup({ intervalMs: 1000 });
    progress.fit(step(1, 2.0));
    tick(500);
    progress.fit(step(2, 2.0));
    tick(600);
    progress.fit(step(3, 2.0));
    tick(100);
    progress.fit({ kind: 'eval', epoch: 1, step: 5, accuracy: 0.5, loss: 1 });
    progress.fit({ kind: 'checkpoint', step: 5, path: 'runs/x/step-00000005.json' });
    progress.fit(step(10, 1.0));
    progress.end();
    expect(stderr.text().split('\n')).toEqual([
      'epoch 1/2 step 3/10 · loss 2.000 · 1,234 img/s · ETA 14s',
      'epoch 1/2: test accuracy 50.00% · loss 1.0000 (step 5)',
      'checkpoint: step 5 → runs/x/step-00000005.json',
      expect.stringMatching(/^epoch 2\/2 step 10\/10 · loss 1\.\d{3} · 1,234 img\/s · ETA 0s$/),
      '',
    ]);
  });

  it('quick phases print nothing; a phase that lasts a second is named once', () => {
    vi.useFakeTimers();
    try {
      const { progress, stderr } = setup({});
      progress.phase('loading checkpoint');
      vi.advanceTimersByTime(900);
      progress.phase('loading Fashion-MNIST');
      vi.advanceTimersByTime(1100);
      progress.phase('compiling');
      progress.end();
      vi.advanceTimersByTime(5000);
      expect(stderr.text()).toBe('loading Fashion-MNIST…\n');
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('--json', () => {
  it('fit events become JSON lines on stdout; phases and notes print nothing', () => {
    const { progress, stdout, stderr } = setup({ json: true, tty: true });
    progress.phase('loading');
    progress.note('hi');
    progress.fit(step(1, 2));
    progress.fit({ kind: 'resume', step: 4, path: 'p.json' });
    progress.end();
    expect(stderr.text()).toBe('');
    expect(
      stdout
        .text()
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l)),
    ).toEqual([step(1, 2), { kind: 'resume', step: 4, path: 'p.json' }]);
  });
});
