import { describe, expect, it } from 'vitest';
import { DTypeError, ShapeError, ValueError } from '../../src/tensor/errors.js';
import {
  arange,
  assertDType,
  assertShape,
  cast,
  clone,
  DTYPES,
  type DType,
  dtypeOf,
  full,
  isDType,
  numel,
  ones,
  reshape,
  scalar,
  tensor,
  toNumbers,
  zeros,
} from '../../src/tensor/tensor.js';

const f32 = (...xs: number[]) => new Float32Array(xs);

describe('tensor()', () => {
  it('wraps storage without copying and infers the dtype from the TypedArray', () => {
    const data = f32(1, 2, 3, 4, 5, 6);
    const t = tensor(data, [2, 3]);
    expect(t.type).toBe('float32');
    expect(t.dims).toEqual([2, 3]);
    expect(t.data).toBe(data);
    expect(tensor(new Float64Array(2), [2]).type).toBe('float64');
    expect(tensor(new Int32Array(2), [1, 2]).type).toBe('int32');
    expect(tensor(new BigInt64Array([7n, -8n]), [2]).type).toBe('int64');
    expect(tensor(new Uint8Array(3), [3]).type).toBe('uint8');
    expect(tensor(new Uint8Array([1, 0]), [2], 'bool').type).toBe('bool');
  });

  it('copies dims, so mutating the caller array later changes nothing', () => {
    const dims = [2, 2];
    const t = tensor(f32(1, 2, 3, 4), dims);
    dims[0] = 4;
    expect(t.dims).toEqual([2, 2]);
  });

  it('accepts scalars and empty tensors', () => {
    expect(tensor(f32(3), []).dims).toEqual([]);
    expect(tensor(f32(), [0, 5]).data.length).toBe(0);
  });

  it('refuses storage of the wrong type, naming the function, expected and actual storage', () => {
    expect(() => tensor(f32(1, 2) as never, [2], 'int64')).toThrow(DTypeError);
    expect(() => tensor(f32(1, 2) as never, [2], 'int64')).toThrow(/^tensor: data for type int64 must be BigInt64Array, got Float32Array$/);
    expect(() => tensor(new Uint8Array(1) as never, [1], 'float32')).toThrow(/must be Float32Array, got Uint8Array/);
  });

  it('refuses a length that does not match the dims', () => {
    expect(() => tensor(f32(1, 2, 3), [2, 2])).toThrow(ShapeError);
    expect(() => tensor(f32(1, 2, 3), [2, 2])).toThrow(/^tensor: data has 3 elements but dims \[2,2\] need 4$/);
  });

  it('refuses negative or fractional dims', () => {
    expect(() => tensor(f32(), [-1])).toThrow(/tensor: dims must be non-negative integers, got \[-1\]/);
    expect(() => tensor(f32(1), [1.5])).toThrow(ShapeError);
  });
});

describe('dtypes', () => {
  it('DTYPES lists the six element types and isDType accepts exactly them', () => {
    expect([...DTYPES].sort()).toEqual(['bool', 'float32', 'float64', 'int32', 'int64', 'uint8']);
    for (const d of DTYPES) expect(isDType(d)).toBe(true);
    for (const d of ['float16', 'toString', '', 1, null]) expect(isDType(d)).toBe(false);
  });

  it('dtypeOf reads the storage and refuses unsupported arrays', () => {
    expect(dtypeOf(new BigInt64Array(1))).toBe('int64');
    expect(() => dtypeOf(new Int16Array(1) as never)).toThrow(DTypeError);
    expect(() => dtypeOf(new Int16Array(1) as never)).toThrow(/dtypeOf: unsupported storage Int16Array/);
  });
});

describe('zeros, ones, full, scalar', () => {
  it('fill every dtype, bigint for int64', () => {
    expect(zeros([2, 3])).toEqual({ type: 'float32', dims: [2, 3], data: new Float32Array(6) });
    expect(ones([2], 'float64').data).toEqual(new Float64Array([1, 1]));
    expect(full([3], -2, 'int32').data).toEqual(new Int32Array([-2, -2, -2]));
    expect(full([2], 5, 'int64').data).toEqual(new BigInt64Array([5n, 5n]));
    expect(ones([2], 'bool')).toEqual({ type: 'bool', dims: [2], data: new Uint8Array([1, 1]) });
    expect(zeros([0]).data.length).toBe(0);
  });

  it('scalar has dims [] and one element', () => {
    expect(scalar(2.5)).toEqual({ type: 'float32', dims: [], data: f32(2.5) });
    expect(scalar(3, 'int64').data).toEqual(new BigInt64Array([3n]));
    expect(numel([])).toBe(1);
  });

  it('int64 truncates fractions toward zero and refuses NaN/Inf; bool stores 0/1', () => {
    expect(full([2], -2.7, 'int64').data).toEqual(new BigInt64Array([-2n, -2n]));
    expect(() => full([1], Number.NaN, 'int64')).toThrow(ValueError);
    expect(() => full([1], Number.POSITIVE_INFINITY, 'int64')).toThrow(/full: cannot store Infinity in an int64 tensor/);
    expect(full([2], 7, 'bool').data).toEqual(new Uint8Array([1, 1]));
  });

  it('refuses bad dims and unknown dtypes, naming the function', () => {
    expect(() => zeros([2, -3])).toThrow(/^full: dims must be non-negative integers, got \[2,-3\]$/);
    expect(() => zeros([2], 'float16' as DType)).toThrow(DTypeError);
    expect(() => zeros([2], 'float16' as DType)).toThrow(/full: type must be one of .*float32.*got float16/);
  });
});

describe('arange', () => {
  it('follows numpy.arange, including negative and fractional steps', () => {
    expect(toNumbers(arange(0, 5))).toEqual([0, 1, 2, 3, 4]);
    expect(toNumbers(arange(2, 3, 0.25, 'float64'))).toEqual([2, 2.25, 2.5, 2.75]);
    expect(toNumbers(arange(5, 0, -2, 'int32'))).toEqual([5, 3, 1]);
    expect(arange(3, 3).dims).toEqual([0]);
    expect(arange(3, 0).dims).toEqual([0]);
  });

  it('int64 holds bigints', () => {
    const t = arange(-2, 2, 1, 'int64');
    expect(t.data).toEqual(new BigInt64Array([-2n, -1n, 0n, 1n]));
  });

  it('refuses a zero or non-finite step and non-finite bounds', () => {
    expect(() => arange(0, 1, 0)).toThrow(/^arange: step must be finite and non-zero, got 0$/);
    expect(() => arange(0, Number.NaN)).toThrow(ShapeError);
    expect(() => arange(0, Number.POSITIVE_INFINITY)).toThrow(/arange: start and stop must be finite, got 0 and Infinity/);
    expect(() => arange(0, 2, 1, 'complex64' as DType)).toThrow(DTypeError);
  });
});

describe('reshape and clone', () => {
  it('reshape shares storage and keeps the element count', () => {
    const t = arange(0, 6);
    const r = reshape(t, [2, 3]);
    expect(r.dims).toEqual([2, 3]);
    expect(r.data).toBe(t.data);
    expect(reshape(scalar(1), [1, 1]).dims).toEqual([1, 1]);
  });

  it('reshape refuses a different element count, naming both shapes', () => {
    expect(() => reshape(arange(0, 6), [4, 2])).toThrow(ShapeError);
    expect(() => reshape(arange(0, 6), [4, 2])).toThrow(/^reshape: cannot view \[6\] \(6 elements\) as \[4,2\]$/);
    expect(() => reshape(arange(0, 6), [-1, 6])).toThrow(/reshape: dims must be non-negative integers/);
  });

  it('clone copies storage and dims (mutating one leaves the other)', () => {
    const a = tensor(new BigInt64Array([1n, 2n]), [2]);
    const b = clone(a);
    expect(b).toEqual(a);
    b.data[0] = 9n;
    (b.dims as number[])[0] = 7;
    expect(a.data[0]).toBe(1n);
    expect(a.dims).toEqual([2]);
  });
});

describe('cast', () => {
  it('float → int truncates toward zero; int64 and back round-trips exactly', () => {
    const x = tensor(f32(1.7, -1.7, 0, 3), [2, 2]);
    expect(cast(x, 'int32')).toEqual({ type: 'int32', dims: [2, 2], data: new Int32Array([1, -1, 0, 3]) });
    const i64 = cast(x, 'int64');
    expect(i64.data).toEqual(new BigInt64Array([1n, -1n, 0n, 3n]));
    expect(toNumbers(cast(i64, 'float64'))).toEqual([1, -1, 0, 3]);
  });

  it('int64 → int64 keeps values beyond 2^53', () => {
    const big = tensor(new BigInt64Array([2n ** 60n + 1n]), [1]);
    expect(cast(big, 'int64').data[0]).toBe(2n ** 60n + 1n);
  });

  it('to bool maps nonzero to 1, as ONNX Cast', () => {
    expect(cast(tensor(f32(0.5, -1, 0, 2), [4]), 'bool').data).toEqual(new Uint8Array([1, 1, 0, 1]));
    expect(cast(tensor(new BigInt64Array([256n, 0n]), [2]), 'bool').data).toEqual(new Uint8Array([1, 0]));
  });

  it('refuses NaN into int64 and unknown target types', () => {
    expect(() => cast(tensor(f32(Number.NaN), [1]), 'int64')).toThrow(/^cast: cannot store NaN in an int64 tensor$/);
    expect(() => cast(scalar(1), 'string' as DType)).toThrow(DTypeError);
  });
});

describe('assertShape / assertDType', () => {
  const x = zeros([8, 3, 32, 32]);

  it('pass on a match (null matches any size)', () => {
    expect(() => assertShape('patchEmbed', 'images', x, [null, 3, 32, 32])).not.toThrow();
    expect(() => assertDType('patchEmbed', 'images', x, 'float32', 'float64')).not.toThrow();
  });

  it('name the function, argument, expected and actual', () => {
    expect(() => assertShape('patchEmbed', 'images', x, [null, 1, 28, 28])).toThrow(
      new ShapeError('patchEmbed', 'images must be [*,1,28,28] float32, got [8,3,32,32] float32'),
    );
    expect(() => assertShape('f', 'x', x, [8, 3, 32])).toThrow(ShapeError);
    expect(() => assertDType('linear', 'weight', x, 'float64')).toThrow(new DTypeError('linear', 'weight must be float64, got float32'));
  });
});
