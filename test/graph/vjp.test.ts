import { describe, expect, it } from 'vitest';
import { backward } from '../../src/graph/backward.js';
import { Graph } from '../../src/graph/builder.js';
import { ops } from '../../src/graph/ops/index.js';
import type { OpName } from '../../src/graph/types.js';
import { DTypeError } from '../../src/tensor/errors.js';
import { expectAllclose } from '../helpers/allclose.js';
import { FLOAT32_ONLY, type OpCase, type Variant } from './case-kit.js';
import { vjpCheck } from './harness.js';
import { opCases } from './op-cases.js';

/**
 * The gradient check generated from the op table: for every differentiable op and each variant in
 * op-cases.ts, the VJP-built gradient of L = Σ_k Σ y_k ⊙ R_k (R fixed and random, so every output
 * element counts) against central differences of L through ONNX Runtime, element by element.
 * float64 (eps 1e-6, rtol 1e-6) except the FLOAT32_ONLY ops (eps 1e-2, rtol 1e-3); at the non-smooth
 * points a case names, the documented convention is asserted instead of FD.
 */

const names = Object.keys(ops) as OpName[];
const differentiable = names.filter((op) => 'variants' in opCases[op]);
const variantsOf = <K extends OpName>(op: K) => (opCases[op] as OpCase<K>).variants as readonly Variant<K>[];

describe('op-case table', () => {
  it('has an entry for every op in the table, and no other', () => {
    expect(Object.keys(opCases).sort()).toEqual([...names].sort());
  });

  it('marks noGrad exactly where the op table has no VJP', () => {
    for (const op of names) expect({ op, noGrad: 'noGrad' in opCases[op] }).toEqual({ op, noGrad: 'noGrad' in ops[op].vjp });
  });

  it('gives every differentiable op a variant with a differentiable input', () => {
    for (const op of differentiable) {
      const ok = variantsOf(op).some((v) => v.inputs.some((s) => s.kind === 'float' && s.grad));
      expect({ op, ok }).toEqual({ op, ok: true });
    }
  });

  it('lists as float32-only exactly the ops whose shape rule refuses float64', () => {
    const refuses = differentiable.filter((op) => {
      const v = variantsOf(op)[0] as Variant<typeof op>;
      const g = new Graph('f64');
      const ins = v.inputs.map((s, i) => (s.kind === 'float' ? g.input(`x${i}`, 'float64', s.shape) : g.input(`x${i}`, s.kind, s.shape)));
      try {
        g.apply(op, ins, v.attrs);
        return false;
      } catch (e) {
        if (!(e instanceof DTypeError)) throw e;
        return true;
      }
    });
    expect(refuses.sort()).toEqual([...FLOAT32_ONLY].sort());
  });
});

describe('limits the table works within', () => {
  it('ConvTranspose refuses outputPadding >= stride (ORT fails on it at run time, even below the dilation)', () => {
    const g = new Graph('ct');
    const [x, w] = [g.input('x', 'float32', [1, 1, 3, 3]), g.input('w', 'float32', [1, 1, 2, 2])];
    expect(() => g.ConvTranspose(x, w, undefined, { dilations: [2, 2], outputPadding: [1, 1] })).toThrow(/outputPadding must be .* below the strides/);
    expect(g.ConvTranspose(x, w, undefined, { strides: [2, 2], outputPadding: [1, 1] }).shape).toEqual([1, 1, 7, 7]);
  });

  it('Slice with a step other than 1 builds but refuses to differentiate, naming the axis', () => {
    const g = new Graph('step');
    const x = g.input('x', 'float64', [2, 6]);
    const y = g.Slice(x, [0], [6], [1], [2]);
    expect(y.shape).toEqual([2, 3]);
    expect(() => backward(g, g.ReduceSum(y, [], false), [x])).toThrow(/only step 1 is differentiable, got step 2 on axis 1/);
  });
});

describe.each(differentiable)('VJP of %s', (op) => {
  it.each(variantsOf(op).map((v) => [v.name, v] as const))('%s', async (_, v) => {
    const checks = await vjpCheck(op, v);
    expect(checks.length).toBeGreaterThan(0);
    // A case that names non-smooth points must actually hit some.
    expect(checks.reduce((n, c) => n + c.conventions, 0) > 0).toBe(v.kinks !== undefined);
    for (const c of checks) {
      const what = `${op} '${v.name}' input ${c.input} (${c.dtype})`;
      expect(c.shapes[0], `${what} gradient shape`).toEqual(c.shapes[1]);
      expectAllclose([c.loss[0]], [c.loss[1]], { rtol: c.tol.rtol, atol: c.tol.atol, what: `${what} loss` });
      expectAllclose(c.analytic, c.expected, { rtol: c.tol.rtol, atol: c.tol.atol, what });
    }
  });
});
