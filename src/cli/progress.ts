/**
 * Progress for long commands, in three forms chosen once from the context:
 * - stderr is a TTY: one line redrawn in place (`\r` + clear-to-end), throttled to 10 redraws/s,
 *   never wider than the terminal (a wrapped line cannot be redrawn);
 * - stderr is not a TTY (CI, a log file): one plain line per interval, plus every eval/checkpoint;
 * - `--json`: each FitEvent as one JSON object on stdout, no bar and nothing on stderr.
 */
import type { FitEvent } from '../train/fit.js';
import type { Context } from './io.js';

export interface Progress {
  /** A `fit` event: bar update, eval line, checkpoint/resume note, or a JSON line. */
  fit(e: FitEvent): void;
  /** A named phase (loading data, compiling, evaluating), with a count when it has one. */
  phase(label: string, done?: number, total?: number): void;
  /** A line above the bar (human modes only). */
  note(line: string): void;
  /** Removes the bar; call before printing a summary. */
  end(): void;
}

export interface ProgressOptions {
  /** Total epochs, for `epoch e/E`. */
  readonly epochs?: number;
  /** Name of the per-epoch eval split in eval lines (`test`, `val`). */
  readonly evalLabel?: string;
}

/** The progress reporter `ctx` calls for. */
export function createProgress(ctx: Context, opts: ProgressOptions = {}): Progress {
  if (ctx.json) return { fit: (e) => ctx.emit(e), phase: () => {}, note: () => {}, end: () => {} };
  return new LineProgress(ctx, opts, ctx.io.stderr.isTTY === true);
}

/** What the bar shows about training; `loss` is smoothed. */
export interface StepView {
  readonly epoch: number;
  readonly epochs?: number;
  readonly step: number;
  readonly totalSteps: number;
  readonly loss: number;
  readonly imagesPerSec: number;
  readonly etaSec: number;
}

/** `epoch 2/30 ▕███░░░░░░░▏ step 312/7020 · loss 0.912 · 1,234 img/s · ETA 1h02m` (epoch is 1-based here). */
export function formatStep(v: StepView, bar = true): string {
  const epoch = v.epochs ? `epoch ${v.epoch}/${v.epochs}` : `epoch ${v.epoch}`;
  const parts = [`step ${v.step}/${v.totalSteps}`, `loss ${v.loss.toFixed(3)}`, `${fmtCount(v.imagesPerSec)} img/s`, `ETA ${fmtDuration(v.etaSec)}`];
  return `${epoch} ${bar ? `${drawBar(v.step / v.totalSteps)} ` : ''}${parts.join(' · ')}`;
}

/** `evaluating test ▕███░░░▏ 3,000/10,000 · 2,345 img/s · ETA 4s`, or just the label without a count. */
export function formatPhase(label: string, done: number | undefined, total: number | undefined, elapsedSec: number, bar = true): string {
  if (done === undefined || total === undefined || total <= 0) return `${label}…`;
  const rate = elapsedSec > 0 ? done / elapsedSec : 0;
  const eta = rate > 0 ? (total - done) / rate : Number.NaN;
  const count = `${fmtCount(done)}/${fmtCount(total)}`;
  return `${label} ${bar ? `${drawBar(done / total)} ` : ''}${count} · ${fmtCount(rate)} img/s · ETA ${fmtDuration(eta)}`;
}

/** `3h02m`, `4m05s`, `12s`; `?` when unknown. */
export function fmtDuration(sec: number): string {
  if (!Number.isFinite(sec) || sec < 0) return '?';
  const s = Math.round(sec);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

function fmtCount(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '?';
}

function drawBar(fraction: number, width = 20): string {
  const filled = Math.round(Math.min(1, Math.max(0, fraction)) * width);
  return `▕${'█'.repeat(filled)}${'░'.repeat(width - filled)}▏`;
}

const REDRAW_MS = 100;
const ANNOUNCE_MS = 1000;
/** Loss smoothing: an exponential moving average, debiased like Adam's moments (so step 1 shows loss 1). */
const BETA = 0.9;

class LineProgress implements Progress {
  private readonly intervalMs: number;
  private current: { text: () => string } | undefined;
  private training: { text: () => string } | undefined;
  private shown = false;
  private lastDraw = Number.NEGATIVE_INFINITY;
  private lastLine: number;
  private ema = 0;
  private emaSteps = 0;
  private phaseLabel = '';
  private phaseStart = 0;
  private announce: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly ctx: Context,
    private readonly opts: ProgressOptions,
    private readonly tty: boolean,
  ) {
    this.intervalMs = ctx.io.progressIntervalMs ?? 10_000;
    this.lastLine = ctx.now();
  }

  fit(e: FitEvent): void {
    this.cancelAnnounce(); // whatever phase was pending (an eval, compiling) is over
    switch (e.kind) {
      case 'step': {
        this.emaSteps++;
        this.ema = BETA * this.ema + (1 - BETA) * e.loss;
        const view: StepView = { ...e, epoch: e.epoch + 1, epochs: this.opts.epochs, loss: this.ema / (1 - BETA ** this.emaSteps) };
        this.current = this.training = { text: () => formatStep(view, this.tty) };
        this.phaseLabel = ''; // the next phase (an eval) starts its own clock
        this.update(e.step === e.totalSteps);
        return;
      }
      case 'eval': {
        const of = this.opts.epochs ? `/${this.opts.epochs}` : '';
        const label = this.opts.evalLabel ?? 'eval';
        this.current = this.training; // the eval phase is over: show the training bar again
        this.note(`epoch ${e.epoch}${of}: ${label} accuracy ${(100 * e.accuracy).toFixed(2)}% · loss ${e.loss.toFixed(4)} (step ${e.step})`);
        return;
      }
      case 'checkpoint':
        this.note(`checkpoint: step ${e.step} → ${e.path}`);
        return;
      case 'resume':
        this.note(`resumed from ${e.path} at step ${e.step}`);
        return;
    }
  }

  phase(label: string, done?: number, total?: number): void {
    const fresh = label !== this.phaseLabel;
    if (fresh) {
      this.phaseLabel = label;
      this.phaseStart = this.ctx.now();
    }
    const start = this.phaseStart;
    this.current = { text: () => formatPhase(label, done, total, (this.ctx.now() - start) / 1000, this.tty) };
    if (this.tty) this.update(fresh);
    else if (fresh) this.announceLater(label);
    else this.update(false);
  }

  /** A log names a phase only once it has lasted a second: quick phases (and failures) stay quiet. */
  private announceLater(label: string): void {
    this.cancelAnnounce();
    this.lastLine = this.ctx.now();
    this.announce = setTimeout(() => {
      this.announce = undefined;
      this.ctx.io.stderr.write(`${label}…\n`);
      this.lastLine = this.ctx.now();
    }, ANNOUNCE_MS);
    this.announce.unref?.();
  }

  private cancelAnnounce(): void {
    if (this.announce) clearTimeout(this.announce);
    this.announce = undefined;
  }

  note(line: string): void {
    this.clear();
    this.ctx.io.stderr.write(`${line}\n`);
    this.lastLine = this.ctx.now();
    if (this.tty) this.update(true);
  }

  end(): void {
    this.cancelAnnounce();
    this.clear();
    this.current = this.training = undefined;
    this.phaseLabel = '';
  }

  /** TTY: redraw (throttled unless `force`). Otherwise: a line when the interval has passed or on `force`. */
  private update(force: boolean): void {
    if (!this.current) return;
    const now = this.ctx.now();
    if (this.tty) {
      if (!force && now - this.lastDraw < REDRAW_MS) return;
      const width = Math.max(20, (this.ctx.io.stderr.columns || 100) - 1); // a pty without a size reports 0
      this.ctx.io.stderr.write(`\r${[...this.current.text()].slice(0, width).join('')}\x1b[K`);
      this.shown = true;
      this.lastDraw = now;
    } else if (force || now - this.lastLine >= this.intervalMs) {
      this.ctx.io.stderr.write(`${this.current.text()}\n`);
      this.lastLine = now;
    }
  }

  private clear(): void {
    if (this.shown) this.ctx.io.stderr.write('\r\x1b[K');
    this.shown = false;
  }
}
