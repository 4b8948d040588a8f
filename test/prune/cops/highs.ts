/**
 * The COPS LP / MILP (specs/cops.md §3) solved by HiGHS (WebAssembly, the `highs` devDependency):
 *   max ⟨s0, x⟩  s.t.  Σx = k (row `card`),  ⟨s1, x⟩ ≥ c (row `ctrl`),  0 ≤ x ≤ 1 (binary for the MILP).
 */
import highsModule from 'highs';

// The package is CommonJS with ESM-style types: TypeScript (NodeNext) sees the module object,
// while the ESM build that Node loads default-exports the loader itself.
type Loader = typeof highsModule.default;
const loadHighs: Loader = typeof highsModule === 'function' ? (highsModule as unknown as Loader) : highsModule.default;
type Highs = Awaited<ReturnType<Loader>>;
let highs: Promise<Highs> | undefined;
export const getHighs = (): Promise<Highs> => (highs ??= loadHighs());

export interface LpSolution {
  readonly status: string;
  readonly objective: number;
  readonly x: Float64Array;
  /** Dual of the control row (HiGHS reports −λ for a ≥ row in a max problem). */
  readonly ctrlDual: number;
  readonly seconds: number;
}

/** Solves the LP (or, with `integer`, the MILP) with a persistent HiGHS model built from CSR arrays. */
export async function solveCops(s0: ArrayLike<number>, s1: ArrayLike<number>, k: number, c: number, integer = false): Promise<LpSolution> {
  const h = await getHighs();
  const d = s0.length;
  const idx = Int32Array.from({ length: 2 * d }, (_, i) => i % d);
  const values = new Float64Array(2 * d);
  values.fill(1, 0, d);
  values.set(Float64Array.from(s1), d);
  const model = h.createModel({
    numCols: d,
    numRows: 2,
    sense: h.constants.objectiveSense.maximize,
    colCost: Float64Array.from(s0),
    colLower: new Float64Array(d),
    colUpper: new Float64Array(d).fill(1),
    rowLower: [k, c],
    rowUpper: [k, h.infinity],
    matrix: { format: 'csr', numRows: 2, numCols: d, starts: [0, d, 2 * d], indices: idx, values },
    ...(integer ? { integrality: new Int32Array(d).fill(1) } : {}),
  });
  try {
    model.options.set({ output_flag: false, ...(integer ? {} : { solver: 'simplex' }) });
    const t = performance.now();
    model.run();
    const seconds = (performance.now() - t) / 1000;
    const status = model.getModelStatus() === h.constants.modelStatus.optimal ? 'Optimal' : String(model.getModelStatus());
    const sol = model.getSolution();
    return { status, objective: model.getObjectiveValue(), x: sol.colValue, ctrlDual: integer ? Number.NaN : (sol.rowDual[1] as number), seconds };
  } finally {
    model.dispose();
  }
}
