import { describe, expect, it } from 'vitest';
import { ShapeError } from '../../src/tensor/errors.js';
import { l1Along, l2Along, permute, scaleAlong, takeAlong } from '../../src/tensor/ndarray.js';
import { arange, reshape, type Tensor, tensor, toNumbers } from '../../src/tensor/tensor.js';
import { expectAllclose } from '../helpers/allclose.js';

/** 0..n-1 as float32 in `dims`. */
const iota = (dims: number[]) =>
  reshape(
    arange(
      0,
      dims.reduce((p, d) => p * d, 1),
    ),
    dims,
  );
/** Element at a multi-index of a row-major tensor. */
function at(t: Tensor, idx: number[]): number {
  let off = 0;
  idx.forEach((v, k) => {
    off = off * (t.dims[k] as number) + v;
  });
  return Number(t.data[off]);
}

describe('takeAlong', () => {
  it('keeps the given indices in order, repeats allowed (hand computed)', () => {
    const x = iota([2, 3, 2]); // x[i,j,k] = 6i + 2j + k
    const y = takeAlong(x, 1, [2, 0, 2]);
    expect(y.dims).toEqual([2, 3, 2]);
    expect(toNumbers(y)).toEqual([4, 5, 0, 1, 4, 5, 10, 11, 6, 7, 10, 11]);
    expect(toNumbers(takeAlong(x, -1, [1]))).toEqual([1, 3, 5, 7, 9, 11]);
    expect(toNumbers(takeAlong(x, 0, [1]))).toEqual([6, 7, 8, 9, 10, 11]);
  });

  it('works on rank 1, for integer dtypes, and with no indices', () => {
    expect(toNumbers(takeAlong(tensor(new Int32Array([5, 6, 7]), [3]), 0, [2, 0]))).toEqual([7, 5]);
    const e = takeAlong(iota([2, 3]), 1, []);
    expect(e.dims).toEqual([2, 0]);
    expect(e.data.length).toBe(0);
  });

  it('does not alias the input', () => {
    const x = iota([3]);
    const y = takeAlong(x, 0, [0, 1, 2]);
    y.data[0] = 42;
    expect(x.data[0]).toBe(0);
  });

  it('bad indices → ShapeError naming the index, its position and the axis', () => {
    const x = iota([2, 3]);
    expect(() => takeAlong(x, 1, [0, 3])).toThrow(ShapeError);
    expect(() => takeAlong(x, 1, [0, 3])).toThrow(/^takeAlong: index 3 at position 1 out of range \[0, 3\) on axis 1 of \[2,3\]$/);
    expect(() => takeAlong(x, 0, [-1])).toThrow(/index -1 at position 0/);
    expect(() => takeAlong(x, 0, [0.5])).toThrow(/index 0.5 at position 0/);
  });

  it('bad axes → ShapeError naming the axis and rank', () => {
    expect(() => takeAlong(iota([2, 3]), 2, [0])).toThrow(/^takeAlong: axis 2 out of range for rank 2 \[2,3\]$/);
    expect(() => takeAlong(iota([2, 3]), -3, [0])).toThrow(ShapeError);
  });
});

describe('permute', () => {
  it('matches a hand transpose: out.dims[i] = dims[perm[i]]', () => {
    const x = iota([2, 3]);
    const y = permute(x, [1, 0]);
    expect(y.dims).toEqual([3, 2]);
    expect(toNumbers(y)).toEqual([0, 3, 1, 4, 2, 5]);
  });

  it('perm then inverse perm is the identity; elements land where the perm says', () => {
    const x = iota([2, 3, 4, 5]);
    const perm = [2, 0, 3, 1];
    const inv = perm.map((_, i) => perm.indexOf(i));
    const y = permute(x, perm);
    expect(y.dims).toEqual([4, 2, 5, 3]);
    expect(at(y, [3, 1, 4, 2])).toBe(at(x, [1, 2, 3, 4]));
    const back = permute(y, inv);
    expect(back.dims).toEqual(x.dims);
    expect(toNumbers(back)).toEqual(toNumbers(x));
  });

  it('refuses a non-permutation, naming it and the rank', () => {
    expect(() => permute(iota([2, 3]), [0, 0])).toThrow(/^permute: perm \[0,0\] is not a permutation of rank 2$/);
    expect(() => permute(iota([2, 3]), [0])).toThrow(ShapeError);
    expect(() => permute(iota([2, 3]), [0, 2])).toThrow(ShapeError);
  });
});

describe('scaleAlong', () => {
  it('multiplies slice i along the axis by s[i] (hand computed), leaving the input alone', () => {
    const x = iota([2, 3]);
    expect(toNumbers(scaleAlong(x, 1, [1, -2, 0.5]))).toEqual([0, -2, 1, 3, -8, 2.5]);
    expect(toNumbers(scaleAlong(x, 0, [10, 100]))).toEqual([0, 10, 20, 300, 400, 500]);
    expect(toNumbers(x)).toEqual([0, 1, 2, 3, 4, 5]);
    const f64 = scaleAlong(tensor(new Float64Array([1, 2, 3]), [3], 'float64'), 0, [3, 2, 1]);
    expect(f64.type).toBe('float64');
    expect(toNumbers(f64)).toEqual([3, 4, 3]);
  });

  it('refuses a scale of the wrong length and a bad axis', () => {
    expect(() => scaleAlong(iota([2, 3]), 1, [1, 2])).toThrow(/^scaleAlong: scale has 2 entries, axis 1 of \[2,3\] has 3$/);
    expect(() => scaleAlong(iota([2, 3]), 5, [1])).toThrow(ShapeError);
  });
});

describe('l1Along / l2Along', () => {
  // Rows [1, -2, 2], [0, 3, -4] of a [2, 3] tensor.
  const x = tensor(new Float32Array([1, -2, 2, 0, 3, -4]), [2, 3], 'float32');

  it('are the per-slice L1 and L2 norms (hand computed), as float64', () => {
    const l1 = l1Along(x, 0);
    expect(l1).toBeInstanceOf(Float64Array);
    expect([...l1]).toEqual([5, 7]);
    expect([...l2Along(x, 0)]).toEqual([3, 5]);
    expect([...l1Along(x, 1)]).toEqual([1, 5, 6]);
    expectAllclose(l2Along(x, -1), [1, Math.sqrt(13), Math.sqrt(20)], { rtol: 1e-12 });
  });

  it('reduce every other axis of a conv filter bank [O, C, kh, kw]', () => {
    const w = reshape(arange(-12, 12, 1, 'float64'), [2, 3, 2, 2]);
    const l1 = [0, 1].map((o) =>
      toNumbers(w)
        .slice(12 * o, 12 * o + 12)
        .reduce((s, v) => s + Math.abs(v), 0),
    );
    expect([...l1Along(w, 0)]).toEqual(l1);
    expect(() => l2Along(w, 4)).toThrow(/^l2Along: axis 4 out of range for rank 4 \[2,3,2,2\]$/);
    expect(() => l1Along(w, -5)).toThrow(ShapeError);
  });
});
