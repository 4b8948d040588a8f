/**
 * The COPS combiner (specs/cops.md §3–§5): max ⟨s⁰, m⟩ s.t. Σm = k, ⟨s¹, m⟩ ≥ c, solved through
 * its LP relaxation by bisection on the dual variable λ of the control row. Pure: scores in, a
 * mask and its certificate numbers out.
 */
import { DTypeError, ShapeError, ValueError } from '../../tensor/errors.js';
import { InfeasibleControlError } from './errors.js';
import { guessBracket } from './guess.js';
import { ControlPath } from './path.js';
import { scanScores } from './scan.js';
import { SelectWorkspace } from './select.js';
import { summarize } from './summary.js';
import { cutAt, type TieCut, topKMask } from './topk.js';

/** The control level: K1 (default) c = (1−κ)·S¹(M0) + κ·S¹(M1); K2 c = κ·T_k(s¹) (s¹ ≥ 0 only). */
export type ControlLevel =
  | { readonly kappa: number; readonly mapping?: 'K1' | 'K2' }
  | { readonly c: number }
  /** K4: no constraint solve, m = top-k(s⁰ + λ·s¹). */
  | { readonly lambda: number };

export type CombineOptions = ControlLevel & {
  /** Keep-scores s⁰ and s¹ (length d, finite, not all zero); ℓ1-normalised ones (`normalize`) make λ comparable. */
  readonly base: ArrayLike<number>;
  readonly control: ArrayLike<number>;
  /** Weights kept, 1 ≤ k ≤ d (`keepCount(d, sparsity)`). */
  readonly k: number;
  /** c > T_k(s¹): 'throw' (default) InfeasibleControlError, or 'clamp' to return M1. */
  readonly onInfeasible?: 'throw' | 'clamp';
  /** Feasibility slack, relative to max(1, ‖s¹‖₁) (default 1e-12, the spec's tol for ℓ1-normalised scores). */
  readonly tol?: number;
  /** Reused scratch (grown to d on first use); pass the same one to repeated solves. */
  readonly workspace?: SelectWorkspace;
  /** Called instead of console.warn when the doubling phase gives up (status 'doubling-limit'). */
  readonly onWarning?: (message: string) => void;
};

export type CombineStatus = 'inactive' | 'solved' | 'given-lambda' | 'clamped' | 'doubling-limit';

export interface CombineResult {
  /** m ∈ {0,1}^d with Σm = k: 1 = keep. */
  readonly mask: Uint8Array;
  /** λ+ (0 when the constraint is inactive; Infinity when clamped to M1). */
  readonly lambda: number;
  /** The bracket [λ−, λ+] at the end of the bisection (both λ when nothing was bisected). */
  readonly bracket: readonly [number, number];
  /** The control level solved for (for `lambda` input: S¹ of the returned mask). */
  readonly c: number;
  readonly k: number;
  /** S⁰(M), S⁰(M)/S⁰(M0), S¹(M). */
  readonly baseScore: number;
  readonly baseRatio: number;
  readonly controlScore: number;
  /** LP optimum D(λ) = T_k(π(λ)) − λ·c; NaN when clamped (the LP is infeasible). */
  readonly lpBound: number;
  /** g0 evaluations of the spec's algorithm (for large d, those outside a verified bracket are decided by monotonicity, not computed). */
  readonly evaluations: number;
  /** |M ∩ M0| / k and |M ∩ M1| / k. */
  readonly simToBase: number;
  readonly simToControl: number;
  readonly status: CombineStatus;
}

const W = 'cops.combine';
const MAX_DOUBLINGS = 1000;
const MAX_BISECTIONS = 200;

/**
 * Combines a base and a control score into one mask of k weights: the COPS solve of spec §5.
 * Exactly one of `kappa`, `c`, `lambda` sets the control level. O(d) per evaluation (selection, no
 * sort), about 30–60 evaluations; most of them touch only the few weights whose rank can still
 * change (./path.ts), and for d ≥ 65,536 a sample's guess of λ*, verified on all the scores, decides
 * the early steps without a pass over d.
 *
 * `combine({ base: [0.3, 0.25, 0.2, 0.15, 0.06, 0.04], control: [-0.2, 0.1, 0.05, 0.4, 0.5, 0.15], k: 2, kappa: 0.25 })`
 * → mask [0,1,0,1,0,0], lambda 0.25, lpBound 0.4875.
 */
export function combine(opts: CombineOptions): CombineResult {
  const s0 = scoreVector('base', opts.base);
  const s1 = scoreVector('control', opts.control);
  if (s0.length !== s1.length) throw new ShapeError(W, `base and control must have the same length, got ${s0.length} and ${s1.length}`);
  const d = s0.length;
  if (d === 0) throw new ShapeError(W, 'base and control are empty');
  const k = opts.k;
  if (!Number.isInteger(k) || k < 1 || k > d) throw new ValueError(W, `k must be an integer in [1, d = ${d}], got ${k}`);
  const given = (['kappa', 'c', 'lambda'] as const).filter((key) => key in opts && (opts as Record<string, unknown>)[key] !== undefined);
  if (given.length !== 1) throw new ValueError(W, `give exactly one of kappa, c or lambda, got ${given.length ? given.join(' and ') : 'none'}`);
  const lam = 'lambda' in opts ? opts.lambda : undefined;
  if (lam !== undefined && !(Number.isFinite(lam) && lam >= 0)) throw new ValueError(W, `lambda must be finite and >= 0, got ${lam}`);
  const ws = opts.workspace ?? new SelectWorkspace();
  // Validation, M0 = A(0) with C(0) (the first g0 evaluation), and M1 with T_k(s¹), in one pass.
  const { l1Control, cut0, cut1 } = scanScores(W, s0, s1, k, ws);
  const tol = (opts.tol ?? 1e-12) * Math.max(1, l1Control);
  /** The result for a mask given as one (M1) or as a cut of π(λ), written in the summary pass. */
  const finish = (
    of: Uint8Array | TieCut,
    lambda: number,
    bracket: readonly [number, number],
    c: number,
    evaluations: number,
    status: CombineStatus,
  ): CombineResult => {
    const mask = of instanceof Uint8Array ? of : new Uint8Array(d);
    const { base, control, pi, baseOfM0, inM0, inM1 } = summarize(
      mask,
      of instanceof Uint8Array ? null : of,
      s0,
      s1,
      Number.isFinite(lambda) ? lambda : 0,
      cut0,
      cut1,
    );
    const level = status === 'given-lambda' ? control : c; // A(λ) is LP-optimal at c = S¹(A(λ))
    return {
      mask,
      lambda,
      bracket,
      c: level,
      k,
      baseScore: base,
      baseRatio: base / baseOfM0,
      controlScore: control,
      lpBound: Number.isFinite(lambda) ? pi - lambda * level : Number.NaN,
      evaluations,
      simToBase: inM0 / k,
      simToControl: inM1 / k,
      status,
    };
  };

  if (lam !== undefined) return finish(cutAt(s0, s1, d, k, lam, ws, null), lam, [lam, lam], 0, 1, 'given-lambda');
  const c = controlLevel(opts, s1, cut0.sum, cut1.sum);

  if (cut0.sum >= c - tol) return finish(cut0, 0, [0, 0], c, 1, 'inactive');
  const m1 = () => topKMask(s1, s0, 0, k, ws);
  if (c > cut1.sum + tol) {
    if (opts.onInfeasible === 'clamp') return finish(m1(), Number.POSITIVE_INFINITY, [0, Number.POSITIVE_INFINITY], c, 1, 'clamped');
    throw new InfeasibleControlError(W, c, cut1.sum, k);
  }
  const known = d >= GUESS_MIN_D ? verifiedBracket(s0, s1, k, c, tol, ws) : null;
  if (known) {
    const r = replay(known, c, tol);
    return finish(known.path.cut(r.hi), r.hi, [r.lo, r.hi], c, r.evaluations, 'solved');
  }
  // Doubling: each bracket [lo, hi] first narrows a fresh working set (one pass over d), on which
  // C(hi) is then cheap; if hi is still infeasible the next bracket starts again from all of d.
  let evaluations = 1;
  let lo = 0;
  let hi = 1;
  let path: ControlPath;
  for (let doublings = 0; ; doublings++) {
    path = new ControlPath(s0, s1, k, ws);
    path.narrow(lo, hi);
    evaluations++;
    if (path.control(hi) >= c - tol) break;
    if (doublings === MAX_DOUBLINGS) {
      (opts.onWarning ?? console.warn)(`${W}: C(λ) < c − tol after ${MAX_DOUBLINGS} doublings (λ = ${hi}); returning M1 = top-k(control)`);
      return finish(m1(), Number.POSITIVE_INFINITY, [hi, Number.POSITIVE_INFINITY], c, evaluations, 'doubling-limit');
    }
    lo = hi;
    hi *= 2;
  }
  for (let it = 0; hi - lo > 1e-9 * hi && it < MAX_BISECTIONS; it++) {
    const mid = (lo + hi) / 2;
    evaluations++;
    if (path.control(mid) >= c - tol) hi = mid;
    else lo = mid;
    path.narrow(lo, hi);
  }
  return finish(path.cut(hi), hi, [lo, hi], c, evaluations, 'solved');
}

/** From this d on, the bisection starts from a sample's guess of λ* (./guess.ts). */
const GUESS_MIN_D = 1 << 16;

/** A bracket of λ* verified on all the scores, and the path narrowed to it. */
interface Known {
  /** C(la) < c − tol and C(lb) ≥ c − tol. */
  readonly la: number;
  readonly lb: number;
  /** The path's bracket ends a hair above lb: the final λ+ may lie up to 1e-9 relative above it. */
  readonly edge: number;
  readonly path: ControlPath;
}

/**
 * The sample's guess [λa, λb], checked on all d weights after one narrowing pass to it, or null.
 * With it no other pass over d is needed: C is nondecreasing in λ, so every λ ≤ λa is infeasible,
 * every λ ≥ λb feasible, and the λ between are evaluated on the few weights whose rank can change.
 */
function verifiedBracket(s0: Float64Array, s1: Float64Array, k: number, c: number, tol: number, ws: SelectWorkspace): Known | null {
  const guess = guessBracket(s0, s1, k, c, ws);
  if (!guess) return null;
  const [la, lb] = guess;
  const edge = lb * (1 + 1e-6);
  const path = new ControlPath(s0, s1, k, ws);
  path.narrow(la, edge);
  return path.control(la) < c - tol && path.control(lb) >= c - tol ? { la, lb, edge, path } : null;
}

/**
 * The spec's doubling and bisection (§5 steps 3–4), step for step — so λ, the bracket and the
 * evaluation count are the literal algorithm's — with each step outside the verified bracket decided
 * without computing C, and the path narrowed as the bracket shrinks inside it.
 */
function replay(known: Known, c: number, tol: number): { lo: number; hi: number; evaluations: number } {
  const { la, lb, edge, path } = known;
  let evaluations = 1; // C(0), from the prelude
  const feasible = (lam: number): boolean => {
    evaluations++;
    if (lam <= la) return false;
    if (lam >= lb) return true;
    return path.control(lam) >= c - tol;
  };
  let [pathLo, pathHi] = [la, edge];
  let lo = 0;
  let hi = 1;
  while (!feasible(hi)) {
    lo = hi;
    hi *= 2;
  }
  for (let it = 0; hi - lo > 1e-9 * hi && it < MAX_BISECTIONS; it++) {
    const mid = (lo + hi) / 2;
    if (feasible(mid)) hi = mid;
    else lo = mid;
    const [nLo, nHi] = [Math.max(lo, la), Math.min(hi, edge)];
    if (nLo > pathLo || nHi < pathHi) {
      path.narrow(nLo, nHi);
      [pathLo, pathHi] = [nLo, nHi];
    }
  }
  return { lo, hi, evaluations };
}

function controlLevel(opts: ControlLevel, s1: Float64Array, s1m0: number, tk1: number): number {
  if ('c' in opts && opts.c !== undefined) {
    if (!Number.isFinite(opts.c)) throw new ValueError(W, `c must be a finite number, got ${opts.c}`);
    return opts.c;
  }
  const { kappa, mapping = 'K1' } = opts as { kappa: number; mapping?: string };
  if (!(kappa >= 0 && kappa <= 1)) throw new ValueError(W, `kappa must be in [0, 1], got ${kappa}`);
  if (mapping === 'K1') return (1 - kappa) * s1m0 + kappa * tk1;
  if (mapping !== 'K2') throw new ValueError(W, `mapping must be 'K1' or 'K2', got '${String(mapping)}'`);
  const neg = s1.findIndex((x) => x < 0);
  if (neg >= 0) throw new ValueError(W, `mapping 'K2' needs a non-negative control score, got control[${neg}] = ${s1[neg]}`);
  return kappa * tk1;
}

/** A score as a Float64Array (no copy when it already is one). */
export function scoreVector(arg: string, x: unknown, where = W): Float64Array {
  if (x instanceof Float64Array) return x;
  if (ArrayBuffer.isView(x) || Array.isArray(x)) {
    if (x instanceof BigInt64Array || x instanceof BigUint64Array) throw new DTypeError(where, `${arg} must hold numbers, got a ${x.constructor.name}`);
    return Float64Array.from(x as ArrayLike<number>);
  }
  throw new DTypeError(where, `${arg} must be a Float64Array or an array of numbers, got ${x === null ? 'null' : typeof x}`);
}
