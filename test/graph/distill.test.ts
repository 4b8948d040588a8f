/**
 * distillationKL: T²·KL(softmax(teacher/T) ‖ softmax(student/T)), batch mean — a hand-sized value,
 * a float64 reference, zero at student == teacher, the gradient vs central finite differences, and
 * no gradient into the teacher.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Graph } from '../../src/graph/builder.js';
import { distillationKL } from '../../src/graph/nn.js';
import { compile, type Session } from '../../src/graph/runtime.js';
import { ShapeError, ValueError } from '../../src/tensor/errors.js';
import { Rng } from '../../src/tensor/rng.js';
import { type Tensor, tensor, toNumbers } from '../../src/tensor/tensor.js';
import { addGradients, gradName } from '../../src/train/step.js';
import { expectAllclose } from '../helpers/allclose.js';

const sessions: Session[] = [];
afterAll(() => {
  for (const s of sessions) s.dispose();
});

/** A float64 session computing the loss and its gradient for student (a parameter) and teacher. */
async function klSession(k: number, temperature: number): Promise<Session> {
  const g = new Graph('kd');
  const s = g.param('s', [3, k], 'float64');
  const t = g.param('t', [3, k], 'float64');
  addGradients(g, distillationKL(g, s, t, temperature), { s, t });
  const session = await compile(g, { intraOpThreads: 1 });
  sessions.push(session);
  return session;
}

/** Float64 reference, row by row: T²·mean_b Σ_k p_t (log p_t − log p_s). */
function klRef(s: readonly number[], t: readonly number[], k: number, temperature: number): number {
  const logSoftmax = (row: readonly number[]) => {
    const z = row.map((v) => v / temperature);
    const m = Math.max(...z);
    const lse = m + Math.log(z.reduce((a, v) => a + Math.exp(v - m), 0));
    return z.map((v) => v - lse);
  };
  const rows = s.length / k;
  let total = 0;
  for (let r = 0; r < rows; r++) {
    const ls = logSoftmax(s.slice(r * k, (r + 1) * k));
    const lt = logSoftmax(t.slice(r * k, (r + 1) * k));
    total += lt.reduce((a, v, i) => a + Math.exp(v) * (v - (ls[i] as number)), 0);
  }
  return (temperature * temperature * total) / rows;
}

const rng = new Rng(7);
const f64 = (n: number) => Array.from(rng.fillNormal(new Float64Array(n)), (v) => 2 * v);

describe('distillationKL', () => {
  it('gives the hand-computed value: teacher (ln 3, 0) vs a uniform student is 0.75·ln 1.5 + 0.25·ln 0.5', async () => {
    const g = new Graph('kd-hand');
    const s = g.input('s', 'float64', [1, 2]);
    const t = g.input('t', 'float64', [1, 2]);
    g.output('kl', distillationKL(g, s, t));
    const session = await compile(g, { intraOpThreads: 1 });
    sessions.push(session);
    const out = await session.run({ s: tensor(new Float64Array([0, 0]), [1, 2]), t: tensor(new Float64Array([Math.log(3), 0]), [1, 2]) });
    expect(toNumbers(out.kl as Tensor)[0]).toBeCloseTo(0.75 * Math.log(1.5) + 0.25 * Math.log(0.5), 12);
  });

  for (const temperature of [1, 2.5]) {
    it(`matches the float64 reference, is 0 when student == teacher, and its gradient matches finite differences (T = ${temperature})`, async () => {
      const k = 4;
      const session = await klSession(k, temperature);
      const [s, t] = [f64(3 * k), f64(3 * k)];
      const run = async (sv: readonly number[], tv: readonly number[]) =>
        session.run({ s: tensor(Float64Array.from(sv), [3, k]), t: tensor(Float64Array.from(tv), [3, k]) });
      const out = await run(s, t);
      expect(toNumbers(out.loss as Tensor)[0]).toBeCloseTo(klRef(s, t, k, temperature), 12);
      expect(toNumbers((await run(t, t)).loss as Tensor)[0]).toBeCloseTo(0, 14);

      const grad = toNumbers(out[gradName('s')] as Tensor);
      const h = 1e-6;
      const fd = s.map((_, i) => {
        const up = s.map((v, j) => (j === i ? v + h : v));
        const down = s.map((v, j) => (j === i ? v - h : v));
        return (klRef(up, t, k, temperature) - klRef(down, t, k, temperature)) / (2 * h);
      });
      expectAllclose(grad, fd, { rtol: 1e-6, atol: 1e-9 });
      // The teacher is detached: no gradient flows into it.
      expect(toNumbers(out[gradName('t')] as Tensor).every((v) => v === 0)).toBe(true);
    });
  }

  it('refuses mismatched logits and a non-positive temperature, naming the function', () => {
    const g = new Graph();
    const s = g.input('s', 'float32', ['B', 10]);
    expect(() => distillationKL(g, s, g.input('t', 'float32', ['B', 9]))).toThrow(ShapeError);
    expect(() => distillationKL(g, s, g.input('t3', 'float32', ['B', 2, 10]))).toThrow(/distillationKL '': student and teacher logits must both be \[B, K\]/);
    expect(() => distillationKL(g, s, s, 0)).toThrow(ValueError);
    expect(() => distillationKL(g, s, s, Number.NaN)).toThrow(/temperature must be > 0, got NaN/);
  });
});
