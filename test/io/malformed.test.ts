import { describe, expect, it } from 'vitest';
import { decodeSafetensors, encodeSafetensors } from '../../src/io/index.js';
import { CheckpointError, ValueError } from '../../src/tensor/errors.js';
import { Rng } from '../../src/tensor/rng.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { rawFile } from './helpers.js';

const f32 = (begin: number, end: number, shape = [(end - begin) / 4]) => ({ dtype: 'F32', shape, data_offsets: [begin, end] });
const zeros = (n: number) => new Uint8Array(n);
const patched = (b: Uint8Array, at: number, value: number) => {
  b[at] = value;
  return b;
};

/** [what, file, expected message] — every one must throw CheckpointError with that message. */
const CASES: [string, Uint8Array, RegExp][] = [
  ['empty input', zeros(0), /input is 0 bytes; a safetensors file starts with an 8-byte header length/],
  ['7 bytes', zeros(7), /input is 7 bytes/],
  ['header length past the end', rawFile({}, [], 1000n), /header length 1000 runs past the end of the 10-byte input/],
  ['header length 2^64 - 1', rawFile({}, [], 2n ** 64n - 1n), /header length 18446744073709551615 is above the 100000000-byte limit/],
  ['header length 2^40', rawFile({}, [], 2n ** 40n), /above the 100000000-byte limit/],
  ['header length 0', rawFile('', []), /header must be a JSON object starting with "\{"/],
  ['header not starting with {', rawFile(' {}'), /starting with "\{"/],
  ['header that is an array', rawFile('[]'), /starting with "\{"/],
  ['invalid UTF-8', patched(rawFile('{"ab":1}'), 10, 0xff), /header is not valid UTF-8/],
  ['invalid JSON', rawFile('{"a":'), /header is not valid JSON/],
  ['trailing garbage in header', rawFile('{} x'), /header is not valid JSON/],
  ['duplicate tensor keys', rawFile(`{"a":${JSON.stringify(f32(0, 4))},"a":${JSON.stringify(f32(0, 4))}}`, zeros(4)), /header has the key "a" twice/],
  ['entry not an object', rawFile({ a: 5 }), /tensor "a": entry must be \{"dtype", "shape", "data_offsets"\}, got 5/],
  ['unexpected field', rawFile({ a: { ...f32(0, 4), strides: [1] } }, zeros(4)), /tensor "a": unexpected field "strides"/],
  [
    'unsupported dtype F16',
    rawFile({ a: { dtype: 'F16', shape: [2], data_offsets: [0, 4] } }, zeros(4)),
    /tensor "a": dtype "F16" is not supported \(supported: I64, F64, F32, I32, U8, BOOL\)/,
  ],
  ['missing dtype', rawFile({ a: { shape: [1], data_offsets: [0, 4] } }, zeros(4)), /tensor "a": dtype nothing is not supported/],
  ['lower-case dtype', rawFile({ a: { dtype: 'f32', shape: [1], data_offsets: [0, 4] } }, zeros(4)), /dtype "f32" is not supported/],
  ['fractional dim', rawFile({ a: f32(0, 4, [2.5]) }, zeros(4)), /tensor "a": shape must be an array of non-negative integers, got \[2.5\]/],
  ['negative dim', rawFile({ a: f32(0, 4, [-1]) }, zeros(4)), /shape must be an array of non-negative integers/],
  ['-0 dim', rawFile(`{"a":{"dtype":"F32","shape":[-0],"data_offsets":[0,0]}}`), /shape must be an array of non-negative integers/],
  ['string dim', rawFile({ a: f32(0, 4, ['1' as unknown as number]) }, zeros(4)), /shape must be an array/],
  ['shape not an array', rawFile({ a: { dtype: 'F32', shape: 1, data_offsets: [0, 4] } }, zeros(4)), /shape must be an array/],
  [
    'dim above 2^53',
    rawFile(`{"a":{"dtype":"U8","shape":[9007199254740993],"data_offsets":[0,1]}}`, zeros(1)),
    /shape must be an array of non-negative integers/,
  ],
  ['shape × dtype size ≠ span', rawFile({ a: f32(0, 8, [3]) }, zeros(8)), /tensor "a": shape \[3\] F32 needs 12 bytes but data_offsets \[0, 8\] span 8/],
  ['huge shape, tiny span', rawFile({ a: f32(0, 8, [2 ** 52, 2 ** 52, 3]) }, zeros(8)), /tensor "a": shape .* needs .* bytes but data_offsets \[0, 8\] span 8/],
  ['offsets past the buffer', rawFile({ a: f32(0, 100) }, zeros(8)), /tensor "a": data_offsets \[0, 100\] are outside the 8-byte data buffer/],
  ['begin after end', rawFile({ a: { dtype: 'U8', shape: [0], data_offsets: [8, 0] } }, zeros(8)), /data_offsets \[8, 0\] are outside/],
  ['one offset', rawFile({ a: { dtype: 'U8', shape: [0], data_offsets: [0] } }), /tensor "a": data_offsets must be \[begin, end\]/],
  ['fractional offset', rawFile({ a: { dtype: 'U8', shape: [1], data_offsets: [0, 1.5] } }, zeros(2)), /data_offsets must be \[begin, end\]/],
  ['overlapping tensors', rawFile({ a: f32(0, 8), b: f32(4, 12) }, zeros(12)), /tensor "b": data_offsets \[4, 12\] overlap tensor "a" \[0, 8\]/],
  ['same range twice', rawFile({ a: f32(0, 4), b: f32(0, 4) }, zeros(4)), /overlap/],
  ['empty tensor inside another', rawFile({ a: f32(0, 8), e: f32(4, 4, [0]) }, zeros(8)), /tensor "e": data_offsets \[4, 4\] overlap tensor "a"/],
  ['hole between tensors', rawFile({ a: f32(0, 4), b: f32(8, 12) }, zeros(12)), /data bytes \[4, 8\) belong to no tensor \(a hole before tensor "b"\)/],
  ['hole at the start', rawFile({ a: f32(4, 8) }, zeros(8)), /data bytes \[0, 4\) belong to no tensor/],
  ['trailing bytes', rawFile({ a: f32(0, 4) }, zeros(8)), /data buffer is 8 bytes but the tensors cover only 4/],
  ['bytes but no tensors', rawFile({}, zeros(3)), /data buffer is 3 bytes but the tensors cover only 0/],
  ['metadata not an object', rawFile({ __metadata__: ['x'] }), /__metadata__ must be an object of strings, got \["x"\]/],
  ['metadata value not a string', rawFile({ __metadata__: { epoch: 3 } }), /__metadata__\["epoch"\] must be a string, got 3/],
  ['duplicate metadata key', rawFile('{"__metadata__":{"k":"1","k":"2"}}'), /header has the key "k" twice/],
  ['BOOL byte 2', rawFile({ m: { dtype: 'BOOL', shape: [2], data_offsets: [0, 2] } }, [1, 2]), /tensor "m": BOOL element 1 is 2 \(must be 0 or 1\)/],
];

describe('decodeSafetensors on malformed input', () => {
  it.each(CASES)('%s → CheckpointError', (_what, file, message) => {
    let error: unknown;
    try {
      decodeSafetensors(file);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CheckpointError);
    expect((error as Error).message).toMatch(/^decodeSafetensors: /);
    expect((error as Error).message).toMatch(message);
  });

  it('accepts the edge cases the format allows', () => {
    expect(decodeSafetensors(rawFile({})).tensors).toEqual({});
    expect(decodeSafetensors(rawFile('{}       ')).tensors).toEqual({}); // space padding
    const empties = decodeSafetensors(rawFile({ a: f32(0, 0, [0, 5]), b: f32(0, 0, [2 ** 52, 0]), c: f32(0, 4, []) }, zeros(4))).tensors;
    expect(empties['a']?.dims).toEqual([0, 5]);
    expect(empties['b']?.data.length).toBe(0);
    expect(empties['c']?.dims).toEqual([]);
  });

  it('rejects a non-Uint8Array argument with ValueError', () => {
    expect(() => decodeSafetensors('{}' as unknown as Uint8Array)).toThrow(ValueError);
  });
});

describe('decodeSafetensors fuzz', () => {
  const valid = encodeSafetensors(
    {
      'blocks.0.w': { type: 'float32', dims: [3, 2], data: new Float32Array([1, 2, 3, 4, 5, 6]) },
      b: { type: 'float64', dims: [], data: new Float64Array([0.5]) },
      i: { type: 'int64', dims: [2], data: new BigInt64Array([1n, -1n]) },
      n: { type: 'int32', dims: [1, 1], data: new Int32Array([7]) },
      e: { type: 'uint8', dims: [0], data: new Uint8Array(0) },
      m: { type: 'bool', dims: [3], data: new Uint8Array([1, 0, 1]) },
    } satisfies Record<string, Tensor>,
    { k: 'v' },
  );
  const headerEnd = 8 + Number(new DataView(valid.buffer).getBigUint64(0, true));
  const DIGITS = [...new TextDecoder().decode(valid.subarray(8, headerEnd))].flatMap((c, i) => (c >= '0' && c <= '9' ? [8 + i] : []));

  /** One seeded mutation: byte flips, digit edits in the header (offsets, shapes), truncation, insertion, length prefix. */
  function mutate(rng: Rng): Uint8Array {
    const b = valid.slice();
    switch (rng.int(6)) {
      case 0:
        for (let k = 1 + rng.int(3); k > 0; k--) b[rng.int(b.length)] = rng.int(256);
        return b;
      case 1:
        for (let k = 1 + rng.int(2); k > 0; k--) b[DIGITS[rng.int(DIGITS.length)]!] = 0x30 + rng.int(10);
        return b;
      case 2:
        return b.subarray(0, rng.int(b.length));
      case 3: {
        const at = rng.int(b.length + 1);
        return Uint8Array.from([...b.subarray(0, at), ...Array.from({ length: 1 + rng.int(8) }, () => rng.int(256)), ...b.subarray(at)]);
      }
      case 4:
        new DataView(b.buffer).setUint32(0, rng.int(2) === 0 ? rng.int(headerEnd + 16) : rng.next32(), true);
        if (rng.int(2) === 0) new DataView(b.buffer).setUint32(4, rng.next32(), true);
        return b;
      default:
        b[8 + rng.int(headerEnd - 8)] = [0x22, 0x7b, 0x7d, 0x5b, 0x5d, 0x2c, 0x3a, 0x20][rng.int(8)]!; // JSON punctuation
        return b;
    }
  }

  it('300 seeded mutations: each decodes or throws CheckpointError, nothing else', () => {
    const rng = new Rng(20240);
    const outcomes = { decoded: 0, rejected: 0 };
    for (let i = 0; i < 300; i++) {
      const file = mutate(rng);
      try {
        const { tensors } = decodeSafetensors(file);
        for (const t of Object.values(tensors)) expect(t.data.length).toBe(t.dims.reduce((a, d) => a * d, 1));
        outcomes.decoded++;
      } catch (e) {
        if (!(e instanceof CheckpointError)) throw new Error(`mutation ${i} threw ${String(e)}`);
        outcomes.rejected++;
      }
    }
    expect(outcomes.decoded + outcomes.rejected).toBe(300);
    expect(outcomes.decoded).toBeGreaterThan(10); // flips inside tensor data still decode
    expect(outcomes.rejected).toBeGreaterThan(150);
  });
});
