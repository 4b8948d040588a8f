import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeSafetensors, encodeSafetensors, readSafetensors } from '../../src/io/index.js';
import { CheckpointError, DTypeError, ShapeError, ValueError } from '../../src/tensor/errors.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { bytesOf, FIXTURES, fromJson, rawFile } from './helpers.js';

const EVERY_DTYPE: Record<string, Tensor> = {
  f32: { type: 'float32', dims: [2, 3], data: new Float32Array([1.5, -0, Number.NaN, Number.POSITIVE_INFINITY, 1e-45, -3.4e38]) },
  f64: { type: 'float64', dims: [], data: new Float64Array([Math.PI]) },
  i32: { type: 'int32', dims: [4], data: new Int32Array([-2147483648, -1, 0, 2147483647]) },
  i64: { type: 'int64', dims: [2, 2], data: new BigInt64Array([-9223372036854775808n, 9223372036854775807n, 9007199254740993n, -1n]) },
  u8: { type: 'uint8', dims: [1, 1, 3], data: new Uint8Array([0, 128, 255]) },
  bool: { type: 'bool', dims: [2, 2], data: new Uint8Array([1, 0, 0, 1]) },
  emptyF32: { type: 'float32', dims: [0], data: new Float32Array(0) },
  emptyI64: { type: 'int64', dims: [3, 0, 2], data: new BigInt64Array(0) },
  scalarBool: { type: 'bool', dims: [], data: new Uint8Array([1]) },
};

function expectSameTensor(actual: Tensor | undefined, expected: Tensor): void {
  expect(actual?.type).toBe(expected.type);
  expect(actual?.dims).toEqual(expected.dims);
  expect(actual && bytesOf(actual)).toEqual(bytesOf(expected));
  expect(actual?.data.constructor).toBe(expected.data.constructor);
}

describe('encodeSafetensors / decodeSafetensors', () => {
  it.each(Object.entries(EVERY_DTYPE))('round-trips %s bit-exactly, alone', (name, t) => {
    const { tensors, metadata } = decodeSafetensors(encodeSafetensors({ [name]: t }));
    expect(Object.keys(tensors)).toEqual([name]);
    expectSameTensor(tensors[name], t);
    expect(metadata).toEqual({});
  });

  it('round-trips all dtypes together with metadata', () => {
    const metadata = { format: 'pt', ünï: '名前 ✓', empty: '' };
    const { tensors, metadata: back } = decodeSafetensors(encodeSafetensors(EVERY_DTYPE, metadata));
    for (const [k, t] of Object.entries(EVERY_DTYPE)) expectSameTensor(tensors[k], t);
    expect(back).toEqual(metadata);
  });

  it('gives identical bytes for identical input, whatever the key order or storage offset', () => {
    const a = encodeSafetensors(EVERY_DTYPE, { b: '2', a: '1' });
    const reversed = Object.fromEntries(Object.entries(EVERY_DTYPE).reverse());
    const backing = new Float32Array(10);
    backing.set(EVERY_DTYPE['f32']!.data as Float32Array, 3);
    const offsetView = { ...reversed, f32: { type: 'float32', dims: [2, 3], data: backing.subarray(3, 9) } as Tensor };
    expect(encodeSafetensors(offsetView, { a: '1', b: '2' })).toEqual(a);
    expect(encodeSafetensors(EVERY_DTYPE, { b: '2', a: '1' })).toEqual(a);
  });

  it('lays data out like the reference writer: 8-byte padded header, every tensor aligned', () => {
    const bytes = encodeSafetensors(EVERY_DTYPE);
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(n % 8).toBe(0);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<string, { dtype: string; data_offsets: number[] }>;
    expect(Object.keys(header)).toEqual(['emptyI64', 'i64', 'f64', 'emptyF32', 'f32', 'i32', 'u8', 'bool', 'scalarBool']);
    const size: Record<string, number> = { I64: 8, F64: 8, F32: 4, I32: 4, U8: 1, BOOL: 1 };
    for (const e of Object.values(header)) expect((8 + n + e.data_offsets[0]!) % size[e.dtype]!).toBe(0);
  });

  it('keeps names that are not identifiers, including __proto__ and integer-like names', () => {
    const t: Tensor = { type: 'uint8', dims: [1], data: new Uint8Array([9]) };
    const names = ['__proto__', '10', '2', '', 'a"b\\c\n', '名'];
    const { tensors } = decodeSafetensors(encodeSafetensors(Object.fromEntries(names.map((k) => [k, t]))));
    expect(Object.keys(tensors).sort()).toEqual([...names].sort());
    expect(Object.getPrototypeOf(tensors)).toBe(Object.prototype);
    for (const k of names) expectSameTensor(tensors[k], t);
  });

  it('decodes tensors at unaligned offsets (unpadded header, odd layout) into owned aligned storage', () => {
    const f32 = new Float32Array([1.25, -2]);
    const data = new Uint8Array([7, 8, 9, ...new Uint8Array(f32.buffer)]);
    const file = rawFile({ b: { dtype: 'U8', shape: [3], data_offsets: [0, 3] }, a: { dtype: 'F32', shape: [2], data_offsets: [3, 11] } }, data);
    const shifted = new Uint8Array(file.length + 1).fill(0xee);
    shifted.set(file, 1); // the input itself starts at an odd byte offset
    const { tensors } = decodeSafetensors(shifted.subarray(1));
    expect(Array.from(tensors['a']!.data as Float32Array)).toEqual([1.25, -2]);
    expect(Array.from(tensors['b']!.data as Uint8Array)).toEqual([7, 8, 9]);
    shifted.fill(0); // tensors own their storage
    expect(Array.from(tensors['a']!.data as Float32Array)).toEqual([1.25, -2]);
    expect(tensors['a']!.data.byteOffset).toBe(0);
  });

  it('rejects invalid tensors with typed errors naming the tensor', () => {
    const f32 = (dims: number[], n: number): Tensor => ({ type: 'float32', dims, data: new Float32Array(n) });
    expect(() => encodeSafetensors({ w: { type: 'float16', dims: [1], data: new Uint8Array(2) } as unknown as Tensor })).toThrow(DTypeError);
    expect(() => encodeSafetensors({ w: { type: 'float32', dims: [2], data: new Float64Array(2) } as unknown as Tensor })).toThrow(
      /tensors\["w"\]: float32 data must be a Float32Array, got Float64Array/,
    );
    expect(() => encodeSafetensors({ w: f32([2, 3], 5) })).toThrow(ShapeError);
    expect(() => encodeSafetensors({ w: f32([2.5], 2) })).toThrow(/dims must be non-negative integers/);
    expect(() => encodeSafetensors({ m: { type: 'bool', dims: [2], data: new Uint8Array([1, 2]) } })).toThrow(/bool element 1 is 2/);
    expect(() => encodeSafetensors({ __metadata__: f32([1], 1) })).toThrow(ValueError);
    expect(() => encodeSafetensors({ '\ud800': f32([1], 1) })).toThrow(/lone UTF-16 surrogate/);
    expect(() => encodeSafetensors({ w: null as unknown as Tensor })).toThrow(ValueError);
    expect(() => encodeSafetensors({ w: f32([1], 1) }, { k: 1 as unknown as string })).toThrow(/metadata\["k"\] must be a string/);
    expect(() => encodeSafetensors(new Map() as unknown as Record<string, Tensor>)).toThrow(ValueError);
  });
});

describe('readSafetensors', () => {
  it('reads a path, a file URL and bytes alike', async () => {
    const url = new URL('from-ts.safetensors', FIXTURES);
    const fromPath = await readSafetensors(url.pathname);
    const fromUrl = await readSafetensors(url);
    const fromBytes = await readSafetensors(readFileSync(url));
    expect(Object.keys(fromPath).length).toBeGreaterThan(5);
    for (const [k, t] of Object.entries(fromPath)) {
      expectSameTensor(fromUrl[k], t);
      expectSameTensor(fromBytes[k], t);
    }
  });

  it('names the file when it is missing or malformed', async () => {
    await expect(readSafetensors('/nonexistent/x.safetensors')).rejects.toThrow(/readSafetensors: cannot read \/nonexistent\/x.safetensors/);
    const bad = new URL('from-ts.json', FIXTURES);
    await expect(readSafetensors(bad)).rejects.toThrow(CheckpointError);
    await expect(readSafetensors(bad)).rejects.toThrow(/from-ts\.json: header length/);
    await expect(readSafetensors(42 as unknown as string)).rejects.toThrow(ValueError);
  });
});

interface Fixture {
  meta: { sha256: string; bytes: number };
  metadata: Record<string, string>;
  tensors: Record<string, { dtype: string; shape: number[]; values: (number | string | boolean)[] }>;
}

const CODES: Record<string, string> = { float32: 'F32', float64: 'F64', int32: 'I32', int64: 'I64', uint8: 'U8', bool: 'BOOL' };

function checkAgainstFixture(name: string): Uint8Array {
  const bytes = readFileSync(new URL(`${name}.safetensors`, FIXTURES));
  const fixture = JSON.parse(readFileSync(new URL(`${name}.json`, FIXTURES), 'utf8')) as Fixture;
  expect(createHash('sha256').update(bytes).digest('hex')).toBe(fixture.meta.sha256);
  const { tensors, metadata } = decodeSafetensors(bytes);
  expect(metadata).toEqual(fixture.metadata);
  expect(Object.keys(tensors).sort()).toEqual(Object.keys(fixture.tensors).sort());
  for (const [k, e] of Object.entries(fixture.tensors)) {
    const t = tensors[k]!;
    expect(CODES[t.type], k).toBe(e.dtype);
    expect(t.dims, k).toEqual(e.shape);
    const actual = Array.from(t.data as ArrayLike<number | bigint>);
    expect(actual.length, k).toBe(e.values.length);
    for (const [i, v] of actual.entries()) expect(Object.is(v, fromJson(e.values[i]!, e.dtype)), `${k}[${i}]: ${v} vs ${e.values[i]}`).toBe(true);
  }
  // Re-encoding what was decoded reproduces the file: same layout rules on both sides.
  expect(encodeSafetensors(tensors, metadata)).toEqual(new Uint8Array(bytes));
  return bytes;
}

describe('Python interop fixtures', () => {
  it('reads the file written by Python (scripts/fixtures/safetensors_fixture.py) exactly', () => {
    checkAgainstFixture('from-python');
  });

  it('wrote the file that the Python reader verified (python-check.json)', () => {
    const bytes = checkAgainstFixture('from-ts');
    const check = JSON.parse(readFileSync(new URL('python-check.json', FIXTURES), 'utf8')) as { ok: boolean; sha256: string; checks: Record<string, boolean> };
    expect(check.ok).toBe(true);
    expect(Object.values(check.checks)).toHaveLength(6);
    expect(Object.values(check.checks).every(Boolean)).toBe(true);
    expect(check.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
  });
});
