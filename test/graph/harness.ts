import { backward } from '../../src/graph/backward.js';
import { Graph } from '../../src/graph/builder.js';
import { compile, type Session } from '../../src/graph/runtime.js';
import { FLOATS } from '../../src/graph/shape.js';
import type { Dim, OpName, Value } from '../../src/graph/types.js';
import { Rng } from '../../src/tensor/rng.js';
import { type DType, type FloatDType, type Tensor, tensor } from '../../src/tensor/tensor.js';
import { caseDType, type InputSpec, type Tolerance, type Variant } from './case-kit.js';

/**
 * Turns a case of the op table into graphs, feeds and finite differences. The forward graph is
 * compiled once per case and run twice per perturbed input element; the loss Σ_k Σ y_k·R_k is
 * summed here in float64, so a float32 op only loses its own rounding.
 */

export const SESSION = { intraOpThreads: 1 } as const;

/** Default FD step and tolerances by the float type of the perturbed input. */
export const TOL: Record<FloatDType, Required<Tolerance>> = {
  float64: { eps: 1e-6, rtol: 1e-6, atol: 1e-7 },
  // float32: the ops checked here are linear or smooth, so a large step costs little truncation
  // error and keeps the rounding error (~6e-8·|y|/eps) small.
  float32: { eps: 1e-2, rtol: 1e-3, atol: 1e-4 },
};

/** A stable seed per case name (FNV-1a), so adding a case never shifts another's data. */
export function seedOf(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

const dims = (shape: readonly Dim[], bind: Readonly<Record<string, number>> = {}): number[] =>
  shape.map((d) => (typeof d === 'number' ? d : (bind[d] ?? Number.NaN)));

function floatTensor(dtype: FloatDType, shape: readonly number[], values: ArrayLike<number>): Tensor {
  return tensor(dtype === 'float64' ? Float64Array.from(values) : Float32Array.from(values), shape, dtype);
}

function intTensor(spec: Extract<InputSpec, { kind: 'int64' | 'bool' }>, shape: readonly number[]): Tensor {
  if (spec.kind === 'bool') return tensor(Uint8Array.from(spec.data), shape, 'bool');
  return tensor(
    BigInt64Array.from(spec.data, (x) => BigInt(x)),
    shape,
    'int64',
  );
}

/** Concrete values for every input of a case (float draws seeded; integer/bool data as given). */
export function caseData<K extends OpName>(op: K, v: Variant<K>): Tensor[] {
  const rng = new Rng(seedOf(`${op}/${v.name}`));
  return v.inputs.map((s) => {
    const shape = dims(s.shape, v.bind);
    if (s.kind !== 'float') return intTensor(s, shape);
    const n = shape.reduce((p, d) => p * d, 1);
    const values = s.data ?? Array.from({ length: n }, () => (s.range ? rng.uniform(...s.range) : rng.normal()));
    return floatTensor(s.dtype ?? caseDType(op, v), shape, values);
  });
}

export interface Built {
  readonly g: Graph;
  /** Differentiable inputs and their positions among the case's inputs. */
  readonly wrt: readonly Value[];
  readonly wrtAt: readonly number[];
  /** Outputs that enter the loss. */
  readonly ys: readonly Value[];
}

/** One instance of the op: inputs `in<i>` (fed) or constants, and the outputs the loss uses. */
export function buildCase<K extends OpName>(op: K, v: Variant<K>, data: readonly Tensor[]): Built {
  const g = new Graph(`${op}-case`);
  const ins = v.inputs.map((s, i) => {
    if (s.kind === 'float') return g.input(`in${i}`, s.dtype ?? caseDType(op, v), s.shape);
    return s.feed ? g.input(`in${i}`, s.kind, s.shape) : g.constant(data[i] as Tensor);
  });
  const outs = g.apply(op, ins, v.attrs);
  const use = v.use ?? outs.map((_, k) => k).filter((k) => FLOATS.includes((outs[k] as Value).dtype));
  const wrtAt = v.inputs.flatMap((s, i) => (s.kind === 'float' && s.grad ? [i] : []));
  return { g, wrt: wrtAt.map((i) => ins[i] as Value), wrtAt, ys: use.map((k) => outs[k] as Value) };
}

/** Feeds of a built case: every fed input, by name. */
export function caseFeeds<K extends OpName>(v: Variant<K>, data: readonly Tensor[]): Record<string, Tensor> {
  return Object.fromEntries(v.inputs.flatMap((s, i) => (s.kind === 'float' || s.feed ? [[`in${i}`, data[i] as Tensor]] : [])));
}

/** Σ_k Σ y_k ⊙ w_k as a scalar graph value. */
export function weightedSum(g: Graph, ys: readonly Value[], ws: readonly Value[]): Value {
  const terms = ys.map((y, k) => g.ReduceSum(g.Mul(y, ws[k] as Value), [], false));
  return terms.reduce((a, b) => g.Add(a, b));
}

/** Random weights shaped like each forward output (run once to learn symbolic sizes). */
export async function outputWeights<K extends OpName>(op: K, v: Variant<K>, data: readonly Tensor[], rng: Rng): Promise<{ fwd: Session; ws: Tensor[] }> {
  const a = buildCase(op, v, data);
  a.ys.forEach((y, k) => {
    a.g.output(`y${k}`, y);
  });
  const fwd = await compile(a.g, SESSION);
  const ys = await fwd.run(caseFeeds(v, data));
  const ws = a.ys.map((y, k) => {
    const t = ys[`y${k}`] as Tensor;
    return floatTensor(
      y.dtype as FloatDType,
      t.dims,
      Array.from({ length: t.data.length }, () => rng.normal()),
    );
  });
  return { fwd, ws };
}

/** The loss Σ y·R computed on the host in float64 from a forward run. */
export async function hostLoss(fwd: Session, feeds: Record<string, Tensor>, ws: readonly Tensor[]): Promise<number> {
  const out = await fwd.run(feeds);
  let s = 0;
  ws.forEach((w, k) => {
    const y = (out[`y${k}`] as Tensor).data as Float64Array;
    for (let i = 0; i < y.length; i++) s += (y[i] as number) * (w.data[i] as number);
  });
  return s;
}

/** Central difference of `loss` in element `j` of `x` (a feed's storage); the step is the one stored. */
export async function centralDiff(loss: () => Promise<number>, x: Float32Array | Float64Array, j: number, eps: number): Promise<number> {
  const x0 = x[j] as number;
  x[j] = x0 + eps;
  const xp = x[j] as number;
  const lp = await loss();
  x[j] = x0 - eps;
  const xm = x[j] as number;
  const lm = await loss();
  x[j] = x0;
  return (lp - lm) / (xp - xm);
}

export interface GradCheck {
  readonly input: number;
  readonly dtype: DType;
  readonly analytic: readonly number[];
  /** Finite difference, or the documented value at a non-smooth point. */
  readonly expected: readonly number[];
  readonly tol: Required<Tolerance>;
  /** Loss from the gradient graph vs the host sum at the unperturbed point. */
  readonly loss: readonly [number, number];
  /** How many elements were checked against the convention rather than FD. */
  readonly conventions: number;
  /** Static shapes of the gradient value and of the input (backward promises equality). */
  readonly shapes: readonly [readonly Dim[], readonly Dim[]];
}

/** Analytic gradient of Σ y·R (backward in the graph) vs central finite differences through ORT. */
export async function vjpCheck<K extends OpName>(op: K, v: Variant<K>): Promise<GradCheck[]> {
  const data = caseData(op, v);
  const feeds = caseFeeds(v, data);
  const { fwd, ws } = await outputWeights(op, v, data, new Rng(seedOf(`${op}/${v.name}/R`)));
  const b = buildCase(op, v, data);
  const wIn = b.ys.map((y, k) => b.g.input(`w${k}`, y.dtype, y.shape));
  const loss = b.g.output('loss', weightedSum(b.g, b.ys, wIn));
  const gvs = backward(b.g, loss, b.wrt);
  gvs.forEach((gv, i) => {
    b.g.output(`g${i}`, gv);
  });
  const grad = await compile(b.g, SESSION);
  const out = await grad.run({ ...feeds, ...Object.fromEntries(ws.map((w, k) => [`w${k}`, w])) });
  const l0 = await hostLoss(fwd, feeds, ws);
  const rs = ws.map((w) => Array.from(w.data as Float64Array));
  const conv =
    v.kinks?.(
      data.map((t) => Array.from(t.data as ArrayLike<number | bigint>, Number)),
      rs,
    ) ?? [];
  const checks: GradCheck[] = [];
  for (const [i, at] of b.wrtAt.entries()) {
    const x = data[at]?.data as Float32Array | Float64Array;
    const dtype = data[at]?.type as FloatDType;
    const tol = { ...TOL[dtype], ...v.tol };
    const expected: number[] = [];
    let conventions = 0;
    for (let j = 0; j < x.length; j++) {
      const known = conv[at]?.[j] ?? null;
      if (known !== null) conventions++;
      expected.push(known ?? (await centralDiff(() => hostLoss(fwd, feeds, ws), x, j, tol.eps)));
    }
    const analytic = Array.from((out[`g${i}`] as Tensor).data as Float64Array);
    checks.push({
      input: at,
      dtype,
      analytic,
      expected,
      tol,
      loss: [Number((out.loss as Tensor).data[0]), l0],
      conventions,
      shapes: [gvs[i]?.shape ?? [], b.wrt[i]?.shape ?? []],
    });
  }
  fwd.dispose();
  grad.dispose();
  return checks;
}
