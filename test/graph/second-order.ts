import { backward } from '../../src/graph/backward.js';
import { type Graph, valueName } from '../../src/graph/builder.js';
import { compile } from '../../src/graph/runtime.js';
import type { OpName, Value } from '../../src/graph/types.js';
import { Rng } from '../../src/tensor/rng.js';
import { type FloatDType, type Tensor, tensor } from '../../src/tensor/tensor.js';
import type { Variant } from './case-kit.js';
import { buildCase, caseData, caseFeeds, outputWeights, SESSION, seedOf, weightedSum } from './harness.js';

/**
 * Second-order checks: H·v by differentiating the graph's own gradient again (backward of
 * ⟨∇L, v⟩, so every VJP's emitted ops meet their own VJPs) against the central difference of the
 * gradient along v, (∇L(w + εv) − ∇L(w − εv)) / 2ε, each gradient one run of the same session.
 */

export interface Problem {
  readonly g: Graph;
  readonly loss: Value;
  /** Fed float inputs to differentiate with respect to. */
  readonly wrt: readonly Value[];
  readonly feeds: Readonly<Record<string, Tensor>>;
}

export interface HvpResult {
  readonly hv: readonly (readonly number[])[];
  readonly fd: readonly (readonly number[])[];
}

function like(t: Tensor, values: ArrayLike<number>): Tensor {
  return tensor(t.type === 'float64' ? Float64Array.from(values) : Float32Array.from(values), t.dims, t.type as FloatDType);
}

/** H·v vs finite differences of the gradient, for a random direction v (seeded by `rng`). */
export async function hvpCheck(p: Problem, eps: number, rng: Rng): Promise<HvpResult> {
  const { g, wrt } = p;
  const grads = backward(g, p.loss, wrt);
  const vs = wrt.map((w) => g.input(`dir_${valueName(w)}`, w.dtype, w.shape));
  const dot = grads.map((gi, i) => g.ReduceSum(g.Mul(gi, vs[i] as Value), [], false)).reduce((a, b) => g.Add(a, b));
  const hv = backward(g, dot, wrt);
  grads.forEach((gi, i) => {
    g.output(`grad${i}`, gi);
  });
  hv.forEach((h, i) => {
    g.output(`hv${i}`, h);
  });
  const s = await compile(g, SESSION);
  const names = wrt.map(valueName);
  const x0 = names.map((n) => p.feeds[n] as Tensor);
  const dir = x0.map((t) => Array.from({ length: t.data.length }, () => rng.normal()));
  const along = (t: Tensor, d: readonly number[], by: number) =>
    like(
      t,
      Array.from(t.data as Float64Array, (x, j) => x + by * (d[j] as number)),
    );
  const [xp, xm] = [x0.map((t, i) => along(t, dir[i] ?? [], eps)), x0.map((t, i) => along(t, dir[i] ?? [], -eps))];
  // The direction fed to H·v is the step actually taken between the stored (rounded) x ± εv.
  const step = xp.map((t, i) =>
    like(
      t,
      Array.from(t.data as Float64Array, (a, j) => (a - Number(xm[i]?.data[j])) / (2 * eps)),
    ),
  );
  const at = (xs: readonly Tensor[]) => ({
    ...p.feeds,
    ...Object.fromEntries(
      names.flatMap((n, i) => [
        [n, xs[i] as Tensor],
        [`dir_${n}`, step[i] as Tensor],
      ]),
    ),
  });
  const [h0, gp, gm] = [await s.run(at(x0)), await s.run(at(xp)), await s.run(at(xm))];
  s.dispose();
  const read = (r: Record<string, Tensor>, k: string) => Array.from((r[k] as Tensor).data as Float64Array);
  return {
    hv: names.map((_, i) => read(h0, `hv${i}`)),
    fd: names.map((_, i) => {
      const [a, b] = [read(gp, `grad${i}`), read(gm, `grad${i}`)];
      return a.map((v, j) => (v - (b[j] as number)) / (2 * eps));
    }),
  };
}

/**
 * The op-table case as a second-order problem: L = Σ y ⊙ R + Σ S ⊙ y², so that L's gradient depends
 * on the inputs through the VJP graph itself, not only through the forward.
 */
export async function caseProblem<K extends OpName>(op: K, v: Variant<K>): Promise<Problem & { readonly precision: FloatDType }> {
  const data = caseData(op, v);
  const rng = new Rng(seedOf(`${op}/${v.name}/RS`));
  const { fwd, ws: rs } = await outputWeights(op, v, data, rng);
  fwd.dispose();
  const ss = rs.map((r) =>
    like(
      r,
      Float64Array.from(r.data as Float64Array, () => rng.normal()),
    ),
  );
  const b = buildCase(op, v, data);
  const rIn = b.ys.map((y, k) => b.g.input(`r${k}`, y.dtype, y.shape));
  const sIn = b.ys.map((y, k) => b.g.input(`s${k}`, y.dtype, y.shape));
  const loss = b.g.Add(
    weightedSum(b.g, b.ys, rIn),
    weightedSum(
      b.g,
      b.ys.map((y) => b.g.Mul(y, y)),
      sIn,
    ),
  );
  const weights = rs.flatMap((r, k) => [
    [`r${k}`, r],
    [`s${k}`, ss[k] as Tensor],
  ]);
  // float32 anywhere on the path (Cast either way) limits the precision of the differences.
  const precision = [...b.wrt, ...b.ys].some((x) => x.dtype === 'float32') ? 'float32' : 'float64';
  return { g: b.g, loss, wrt: b.wrt, feeds: { ...caseFeeds(v, data), ...Object.fromEntries(weights) }, precision };
}
