/**
 * The sensitivity curves as a PNG (Li et al.'s Figure 2 layout): validation accuracy (%) against
 * the fraction of filters pruned away, one line per layer from p = 0 (the intact model) through the
 * grid, a dashed line at base − δ, and the δ-rule ratio of each layer marked and listed in the legend.
 */
import { encodePng } from '../../io/png.js';
import { Raster, type Rgb } from './raster.js';
import { chooseRatios, type SensitivityResult } from './sensitivity.js';

/** matplotlib's tab10, then darker variants. */
const PALETTE: readonly Rgb[] = [
  [31, 119, 180],
  [255, 127, 14],
  [44, 160, 44],
  [214, 39, 40],
  [148, 103, 189],
  [140, 86, 75],
  [227, 119, 194],
  [127, 127, 127],
  [188, 189, 34],
  [23, 190, 207],
  [16, 60, 90],
  [128, 64, 7],
  [22, 80, 22],
  [107, 20, 20],
];
const INK: Rgb = [30, 30, 30];
const GRID: Rgb = [225, 225, 225];

export interface PlotOptions {
  /** δ of the rule (accuracy points, default 1): the dashed line and the marked ratios. */
  readonly delta?: number;
  readonly width?: number;
  readonly height?: number;
}

/** PNG bytes of the curves of a sweep. */
export function sensitivityPng(result: SensitivityResult, opts: PlotOptions = {}): Uint8Array {
  const delta = opts.delta ?? 1;
  const chosen = chooseRatios(result, { delta }).perLayer;
  const legendW = 16 + Math.max(...result.curves.map((c) => Raster.textWidth(`${c.layer}  p=0.0`)), Raster.textWidth('- - base - 1.0 pt'));
  const W = opts.width ?? Math.max(640, 560 + legendW);
  const H = opts.height ?? 460;
  const r = new Raster(W, H);
  const box = { x: 64, y: 44, w: W - 64 - legendW - 40, h: H - 44 - 64 };
  const base = 100 * result.baseAccuracy;
  const all = result.curves.flatMap((c) => c.accuracy.map((a) => 100 * a));
  const [lowest, highest] = [Math.min(base - delta, ...all), Math.max(base, ...all)];
  const span = highest - lowest;
  const step = span <= 8 ? 1 : span <= 20 ? 2 : span <= 40 ? 5 : 10;
  const yLo = Math.max(0, Math.floor(lowest / step) * step);
  const yHi = Math.min(100, Math.ceil((highest + step / 2) / step) * step);
  const X = (p: number) => box.x + p * box.w;
  const Y = (acc: number) => box.y + box.h - ((acc - yLo) / (yHi - yLo || 1)) * box.h;

  for (let t = 0; t <= 10; t++) {
    r.line(X(t / 10), box.y, X(t / 10), box.y + box.h, GRID);
    const label = (t / 10).toFixed(1);
    r.text(X(t / 10) - Raster.textWidth(label) / 2, box.y + box.h + 8, label, INK);
  }
  for (let v = yLo; v <= yHi + 1e-9; v += step) {
    r.line(box.x, Y(v), box.x + box.w, Y(v), GRID);
    r.text(box.x - 8 - Raster.textWidth(String(v)), Y(v) - 3, String(v), INK);
  }
  r.line(box.x, box.y, box.x, box.y + box.h, INK);
  r.line(box.x, box.y + box.h, box.x + box.w, box.y + box.h, INK);
  r.line(box.x, Y(base - delta), box.x + box.w, Y(base - delta), INK, 1, 4);

  const title = `sensitivity: ${result.model}, ${result.criterion} ranking, ${result.images} val images, base ${base.toFixed(2)}%`;
  r.text(box.x, 12, title, INK, 1);
  r.text(box.x, 26, 'val accuracy (%)', INK);
  const xLabel = 'filters pruned away (ratio p), one layer at a time, no retraining';
  r.text(box.x + box.w / 2 - Raster.textWidth(xLabel) / 2, box.y + box.h + 26, xLabel, INK);

  const lx = box.x + box.w + 24;
  result.curves.forEach((c, i) => {
    const col = PALETTE[i % PALETTE.length] as Rgb;
    const pts = [[0, base], ...result.ratios.map((p, k) => [p, 100 * (c.accuracy[k] as number)])] as [number, number][];
    for (let k = 1; k < pts.length; k++) {
      const [p0, a0] = pts[k - 1] as [number, number];
      const [p1, a1] = pts[k] as [number, number];
      r.line(X(p0), Y(Math.max(yLo, a0)), X(p1), Y(Math.max(yLo, a1)), col, 2);
    }
    const p = chosen[c.layer];
    if (typeof p === 'number') {
      const a = 100 * (c.accuracy[result.ratios.indexOf(p)] as number);
      r.rect(X(p) - 3, Y(Math.max(yLo, a)) - 3, 7, 7, col);
    }
    const ly = box.y + 4 + i * 16;
    r.rect(lx, ly + 1, 10, 6, col);
    r.text(lx + 16, ly, `${c.layer}  ${p === 'skip' ? 'skip' : `p=${(p as number).toFixed(1)}`}`, INK);
  });
  const ly = box.y + 8 + result.curves.length * 16;
  r.line(lx, ly + 3, lx + 10, ly + 3, INK, 1, 2);
  r.text(lx + 16, ly, `base - ${delta.toFixed(1)} pt`, INK);
  r.text(lx, ly + 16, 'squares: chosen p', INK);
  return encodePng(W, H, r.rgb);
}
