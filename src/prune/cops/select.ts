/**
 * Order statistics in O(n) for the COPS combiner, without sorting the scores.
 *
 * Every value here is one of three functions of two float64 columns `a`, `b` and element index i:
 *   mode 0: π_i(λa) = a_i + λa·b_i                      (the combined score)
 *   mode 1: min(π_i(λa), π_i(λb))   mode 2: max(π_i(λa), π_i(λb))   (bounds of π_i on [λa, λb])
 * Mode 0 is always computed as `a[i] + λ * b[i]`, so two passes at the same λ see the same values
 * (and the same ties). In float64, fl(a + fl(λ·b)) is monotone in λ for each i, so π_i(λ) for
 * λ ∈ [λa, λb] lies between modes 1 and 2: the candidate filter of ./path.ts relies on it. Modes 1
 * and 2 use a branch-free form that equals that min and max bit for bit (./kernels.ts).
 *
 * The k-th largest value is found Floyd–Rivest style: sort a strided sample of about n^(2/3)
 * values, take two sample values that bracket rank k with high probability, make one pass that
 * counts the values above the bracket and copies the ones inside it (the "band", a few percent of
 * n) into scratch, and select within the band the same way (`selectLarge`), finishing with a 3-way
 * quickselect. If a bracket misses rank k (adversarial input), the band becomes everything: still
 * O(n) expected, just slower. All scratch lives in a reusable `SelectWorkspace`.
 */

import { bandKernel, bandKernel0, OUT, valueBandKernel } from './kernels.js';

/** How a value is computed from the columns: 0 = π(λa), 1 = min over {λa, λb}, 2 = max. */
export type ValueMode = 0 | 1 | 2;

/** Elements that may hold rank k: values and indices (aligned), with what lies above them. */
export class Band {
  v = new Float64Array(0);
  i = new Int32Array(0);
  n = 0;
  /** Elements strictly above every band value, and Σ of the summed column over them (blocked + Kahan). */
  nAbove = 0;
  sumAbove = 0;

  /** Room for `cap` elements. */
  ensure(cap: number): void {
    if (this.v.length < cap) {
      this.v = new Float64Array(cap);
      this.i = new Int32Array(cap);
    }
  }
}

/** A working set of the bisection (./path.ts): both score columns of its elements, in index order. */
export interface Columns {
  readonly a: Float64Array;
  readonly b: Float64Array;
}

/**
 * Reusable scratch for selections and the bisection's working sets: grown on demand, never shrunk,
 * so repeated solves of the same size allocate nothing. (On this kind of machine first-touching
 * fresh pages costs more than a pass over the scores: reuse pays.) Not for concurrent solves.
 */
export class SelectWorkspace {
  readonly band = new Band();
  readonly band2 = new Band();
  /** Values the quickselect permutes (a copy of a band, or tie values), and a second buffer for its recursion. */
  tmp = new Float64Array(0);
  tmp2 = new Float64Array(0);
  sample = new Float64Array(0);
  private readonly sets: (Columns | null)[] = [null, null];

  tmpOf(n: number): Float64Array {
    if (this.tmp.length < n) this.tmp = new Float64Array(n);
    return this.tmp;
  }

  tmp2Of(n: number): Float64Array {
    if (this.tmp2.length < n) this.tmp2 = new Float64Array(n);
    return this.tmp2;
  }

  /** Working-set buffers `slot` (0 or 1, used alternately) with room for n elements. */
  columns(slot: 0 | 1, n: number): Columns {
    const cur = this.sets[slot];
    if (cur && cur.a.length >= n) return cur;
    const made = { a: new Float64Array(n), b: new Float64Array(n) };
    this.sets[slot] = made;
    return made;
  }

  /** Bytes held. */
  get bytes(): number {
    const b = (x: Band) => x.v.byteLength + x.i.byteLength;
    const c = (x: Columns | null) => (x ? x.a.byteLength + x.b.byteLength : 0);
    return (
      b(this.band) + b(this.band2) + this.tmp.byteLength + this.tmp2.byteLength + this.sample.byteLength + c(this.sets[0] ?? null) + c(this.sets[1] ?? null)
    );
  }
}

/** Below this size the band is the whole input (sampling does not pay). */
export const SMALL = 4096;

/** The value of element i (see ./kernels.ts): exact, for samples. */
function valueAt(a: Float64Array, b: Float64Array, i: number, mode: ValueMode, la: number, lb: number): number {
  const ai = a[i] as number;
  const bi = b[i] as number;
  if (mode === 0) return ai + la * bi;
  const ab = Math.abs(bi);
  const bp = (ab + bi) * 0.5;
  const bn = (ab - bi) * 0.5;
  return mode === 1 ? ai + la * bp - lb * bn : ai + lb * bp - la * bn;
}

/** A bracket of rank k: probably fewer than k values > hi, at least k values ≥ lo; `cap` sizes the band. */
export interface Bracket {
  readonly hi: number;
  readonly lo: number;
  readonly cap: number;
}

/**
 * From a strided sample of about n^(2/3) values: `hi` with probably fewer than k values above it,
 * `lo` with probably at least k values at or above it (±3 standard deviations of the sample rank).
 * ±Infinity when the rank is too near an end; the whole range when n is small.
 */
export function sampleBracket(a: Float64Array, b: Float64Array, n: number, k: number, mode: ValueMode, la: number, lb: number, ws: SelectWorkspace): Bracket {
  if (n <= SMALL) return { hi: Number.POSITIVE_INFINITY, lo: Number.NEGATIVE_INFINITY, cap: n };
  const m = Math.min(65536, Math.max(1024, Math.round(n ** (2 / 3))));
  if (ws.sample.length < m) ws.sample = new Float64Array(m);
  const s = ws.sample.subarray(0, m);
  for (let j = 0; j < m; j++) s[j] = valueAt(a, b, Math.floor(((j + 0.5) * n) / m), mode, la, lb);
  const r = (k / n) * m;
  const delta = 3 * Math.sqrt(m);
  const hiRank = Math.floor(r - delta);
  const loRank = Math.ceil(r + delta);
  // Two selections instead of a sort: the same order statistics, a few times cheaper (the sample is
  // drawn again for every narrowing, so this runs ~60 times a solve).
  return {
    hi: hiRank >= 1 ? selectValue(s, m, hiRank) : Number.POSITIVE_INFINITY,
    lo: loRank <= m ? selectValue(s, m, loRank) : Number.NEGATIVE_INFINITY,
    cap: Math.min(n, Math.max(SMALL, 4 * Math.ceil(((loRank - hiRank + 2) / m) * n))),
  };
}

/**
 * Fills `band` with the elements (i < n) whose mode-`mode` value may be the k-th largest: after it
 * band.nAbove < k ≤ band.nAbove + band.n. With a `sum` column, band.sumAbove = Σ sum_i over the
 * elements above the band. Requires 1 ≤ k ≤ n.
 */
export function sampledBand(
  a: Float64Array,
  b: Float64Array,
  n: number,
  k: number,
  mode: ValueMode,
  la: number,
  lb: number,
  ws: SelectWorkspace,
  sum: Float64Array | null,
  band: Band = ws.band,
): void {
  const q = sampleBracket(a, b, n, k, mode, la, lb, ws);
  band.ensure(q.cap);
  if (!bandPass(a, b, n, mode, la, lb, q.hi, q.lo, band, sum) || !holdsRank(band, k)) {
    band.ensure(n); // the sample misled us: take everything
    bandPass(a, b, n, mode, la, lb, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, band, sum);
  }
}

/** Whether rank k falls inside the band. */
export function holdsRank(band: Band, k: number): boolean {
  return band.nAbove < k && k <= band.nAbove + band.n;
}

/** One pass of ./kernels.ts `bandKernel0` (mode 0) or `bandKernel` (modes 1, 2) into `band`; false on overflow. */
function bandPass(
  a: Float64Array,
  b: Float64Array,
  n: number,
  mode: ValueMode,
  la: number,
  lb: number,
  hi: number,
  lo: number,
  band: Band,
  sum: Float64Array | null,
): boolean {
  const col = sum ?? a;
  const useSum = sum === null ? 0 : 1;
  const nb =
    mode === 0
      ? bandKernel0(a, b, n, la, hi, lo, band.v, band.i, col, useSum)
      : bandKernel(a, b, n, mode === 1 ? la : lb, mode === 1 ? lb : la, hi, lo, band.v, band.i, col, useSum);
  if (nb < 0) return false;
  band.n = nb;
  band.nAbove = OUT[0] as number;
  band.sumAbove = OUT[1] as number;
  return true;
}

/** The k-th largest value (1 ≤ k ≤ n) among elements i < n, in mode `mode`. O(n) expected. */
export function kthLargest(a: Float64Array, b: Float64Array, n: number, k: number, mode: ValueMode, la: number, lb: number, ws: SelectWorkspace): number {
  const band = ws.band;
  sampledBand(a, b, n, k, mode, la, lb, ws, null, band);
  const tmp = ws.tmpOf(band.n);
  tmp.set(band.v.subarray(0, band.n));
  return selectLarge(tmp, band.n, k - band.nAbove, ws);
}

/**
 * The r-th largest (1 ≤ r ≤ n) of x[0..n), which it may permute or overwrite (x is ws.tmp or a
 * band copy). Large inputs shrink by the sample-and-band step of `sampledBand` (one mostly
 * branch-free pass, values only), small ones finish in `selectValue`: a Dutch-flag quickselect
 * mispredicts about two branches per element and pass, which dominated on 10⁵-element bands.
 */
export function selectLarge(x: Float64Array, n: number, r: number, ws: SelectWorkspace): number {
  let cur = x;
  let len = n;
  let rank = r;
  while (len > SMALL) {
    const q = sampleBracket(cur, cur, len, rank, 0, 0, 0, ws);
    const out = cur === ws.tmp2 ? ws.tmpOf(q.cap) : ws.tmp2Of(q.cap);
    const nb = valueBandKernel(cur, len, q.hi, q.lo, out);
    const above = OUT[0] as number;
    if (nb < 0 || !(above < rank && rank <= above + nb)) break; // the sample misled us: quickselect all
    if (nb === len) break; // no progress (the band is one run of ties): the 3-way quickselect groups them at once
    cur = out;
    len = nb;
    rank -= above;
  }
  return selectValue(cur, len, rank);
}

/** A small deterministic generator for pivot positions (xorshift32; it never changes a result). */
let pivotState = 0x9e3779b9;
function nextPivot(n: number): number {
  pivotState ^= pivotState << 13;
  pivotState ^= pivotState >>> 17;
  pivotState ^= pivotState << 5;
  return (pivotState >>> 0) % n;
}

/**
 * The r-th largest (1 ≤ r ≤ n) of x[0..n), by 3-way quickselect with median-of-3 pivots; permutes
 * x[0..n). Equal values are grouped, so many ties (zeros, duplicated scores) cost one partition.
 */
export function selectValue(x: Float64Array, n: number, r: number): number {
  let lo = 0;
  let hi = n;
  let rank = r;
  for (;;) {
    const len = hi - lo;
    if (len <= 24) {
      for (let i = lo + 1; i < hi; i++) {
        // insertion sort, descending
        const v = x[i] as number;
        let j = i - 1;
        while (j >= lo && (x[j] as number) < v) {
          x[j + 1] = x[j] as number;
          j--;
        }
        x[j + 1] = v;
      }
      return x[lo + rank - 1] as number;
    }
    const p = median3(x[lo + nextPivot(len)] as number, x[lo + nextPivot(len)] as number, x[lo + nextPivot(len)] as number);
    // Dutch flag, descending: [lo, lt) > p, [lt, gt) = p, [gt, hi) < p.
    let lt = lo;
    let i = lo;
    let gt = hi;
    while (i < gt) {
      const v = x[i] as number;
      if (v > p) {
        x[i] = x[lt] as number;
        x[lt] = v;
        lt++;
        i++;
      } else if (v < p) {
        gt--;
        x[i] = x[gt] as number;
        x[gt] = v;
      } else i++;
    }
    if (rank <= lt - lo) hi = lt;
    else if (rank <= gt - lo) return p;
    else {
      rank -= gt - lo;
      lo = gt;
    }
  }
}

function median3(a: number, b: number, c: number): number {
  return a < b ? (b < c ? b : Math.max(a, c)) : a < c ? a : Math.max(b, c);
}
