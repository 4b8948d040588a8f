import { describe, expect, it } from 'vitest';
import { expectAllclose, worstMismatch } from './allclose.js';

describe('expectAllclose', () => {
  it('passes equal and nearly equal arrays', () => {
    expectAllclose([1, 2, 3], [1, 2, 3]);
    expectAllclose(new Float32Array([1, 2.000001]), [1, 2], { rtol: 1e-5 });
    expectAllclose([Number.NaN], [Number.NaN]);
  });

  it('fails naming the worst index and both values', () => {
    expect(() => expectAllclose([1, 2.5, 3.01], [1, 2, 3], { rtol: 1e-3, what: 'logits' })).toThrow(/logits: not close at index 1: actual 2.5, expected 2/);
  });

  it('fails on length mismatch, NaN against a number, and absolute tolerance alone', () => {
    expect(() => expectAllclose([1, 2], [1, 2, 3])).toThrow(/length 2 vs expected 3/);
    expect(() => expectAllclose([Number.NaN], [0], { atol: 1 })).toThrow(/index 0/);
    expect(() => expectAllclose([1e-3], [0], { atol: 1e-4, rtol: 0 })).toThrow(/not close/);
    expect(worstMismatch([1e-5], [0], { atol: 1e-4, rtol: 0 })).toBeNull();
  });
});
