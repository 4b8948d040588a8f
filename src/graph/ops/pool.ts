import { fmtDims, GraphError } from '../../tensor/errors.js';
import { full, tensor } from '../../tensor/tensor.js';
import { F32_ONLY, FLOATS, fail, requireDType } from '../shape.js';
import type { Dim, OpRule, OpTable, TypeInfo, Value } from '../types.js';
import { checkWindow, windowOut } from './conv.js';
import { bad, int, ints, readInt, readInts, requireAttr, simpleEmit } from './helpers.js';
import { countOf } from './reduce.js';

type Ints = readonly number[];

function poolShape(x: TypeInfo, kernel: Ints, strides: Ints, pads: Ints): [Dim, Dim, number, number] {
  requireDType(x, FLOATS);
  if (x.shape.length !== 4) fail(`x must be [N, C, H, W], got ${fmtDims(x.shape)}`);
  if (kernel.length !== 2 || kernel.some((k) => !Number.isInteger(k) || k < 1)) fail(`kernel must be 2 ints >= 1, got ${fmtDims(kernel)}`);
  checkWindow(strides, pads, [1, 1]);
  if ((pads[0] as number) >= (kernel[0] as number) || (pads[1] as number) >= (kernel[1] as number))
    fail(`pads ${fmtDims(pads)} must be smaller than the kernel ${fmtDims(kernel)}`);
  const [n, c, h, w] = x.shape as [Dim, Dim, Dim, Dim];
  const oh = windowOut(h, kernel[0] as number, strides[0] as number, pads[0] as number, pads[2] as number, 1);
  const ow = windowOut(w, kernel[1] as number, strides[1] as number, pads[1] as number, pads[3] as number, 1);
  return [n, c, oh, ow];
}

function readPool(n: Parameters<NonNullable<OpRule<'MaxPool'>['decode']>['read']>[0]) {
  requireAttr(n, 'auto_pad', ['NOTSET', 'VALID'], 'NOTSET');
  requireAttr(n, 'ceil_mode', [0], 0);
  requireAttr(n, 'storage_order', [0], 0);
  if (readInts(n, 'dilations', [1, 1]).some((d) => d !== 1)) bad(n, 'dilated pooling is not supported');
  const kernel = readInts(n, 'kernel_shape', []);
  if (kernel.length !== 2) bad(n, `kernel_shape must have 2 entries, got ${fmtDims(kernel)}`);
  return { kernel, strides: readInts(n, 'strides', [1, 1]), pads: readInts(n, 'pads', [0, 0, 0, 0]) };
}

/** Inverse of the number of in-bounds cells each pooling window covers, as [1, 1, H', W']. */
function inverseCounts(h: number, w: number, kernel: Ints, strides: Ints, pads: Ints, oh: number, ow: number): Float32Array {
  const out = new Float32Array(oh * ow);
  const span = (o: number, size: number, k: number, s: number, p: number) => Math.min(o * s - p + k, size) - Math.max(o * s - p, 0);
  for (let i = 0; i < oh; i++) {
    for (let j = 0; j < ow; j++) {
      out[i * ow + j] =
        1 /
        (span(i, h, kernel[0] as number, strides[0] as number, pads[0] as number) * span(j, w, kernel[1] as number, strides[1] as number, pads[1] as number));
    }
  }
  return out;
}

export const poolOps = {
  MaxPool: {
    arity: 1,
    // Two outputs: the pooled values and ONNX's flat indices into x (batch and channel offsets
    // included, as ORT computes them); the gradient scatters gy back through the indices.
    shape: ([x], { kernel, strides, pads }) => {
      const shape = poolShape(x as TypeInfo, kernel, strides, pads);
      return [
        { dtype: (x as TypeInfo).dtype, shape },
        { dtype: 'int64', shape },
      ];
    },
    emit: simpleEmit('MaxPool', (a) => ({ kernel_shape: ints(a.kernel), strides: ints(a.strides), pads: ints(a.pads), storage_order: int(0) })),
    decode: { onnx: 'MaxPool', read: (n) => ({ attrs: readPool(n), inputs: [0] }) },
    vjp: (g, { inputs: [x], outputs: [, idx], gys: [gy] }) => {
      if (!gy) return [null];
      const vx = x as Value;
      const flat = g.ScatterElements(g.Reshape(g.zerosLike(vx), [-1]), g.Reshape(idx as Value, [-1]), g.Reshape(gy, [-1]), 0, 'add');
      return [g.Reshape(flat, vx.shape)];
    },
  } satisfies OpRule<'MaxPool'>,

  AveragePool: {
    arity: 1,
    shape: ([x], { kernel, strides, pads }) => {
      requireDType(x as TypeInfo, F32_ONLY);
      return [{ dtype: (x as TypeInfo).dtype, shape: poolShape(x as TypeInfo, kernel, strides, pads) }];
    },
    emit: simpleEmit('AveragePool', (a) => ({
      kernel_shape: ints(a.kernel),
      strides: ints(a.strides),
      pads: ints(a.pads),
      count_include_pad: int(a.countIncludePad),
    })),
    decode: { onnx: 'AveragePool', read: (n) => ({ attrs: { ...readPool(n), countIncludePad: readInt(n, 'count_include_pad', 0) === 1 }, inputs: [0] }) },
    // Each input cell receives gy/count from every window covering it: a depthwise ConvTranspose
    // with a kernel of ones after dividing gy by the per-window count.
    vjp: (g, { inputs: [x], outputs: [y], gys: [gy], attrs: { kernel, strides, pads, countIncludePad } }) => {
      if (!gy) return [null];
      const [, c, h, w] = (x as Value).shape as [Dim, number, number, number];
      const [, , oh, ow] = (y as Value).shape as [Dim, Dim, number, number];
      if (typeof c !== 'number') throw new GraphError('AveragePool VJP', `channels must be static, got ${fmtDims((x as Value).shape)}`);
      const k = (kernel[0] as number) * (kernel[1] as number);
      const scaled = countIncludePad ? g.scale(gy, 1 / k) : g.Mul(gy, g.constant(tensor(inverseCounts(h, w, kernel, strides, pads, oh, ow), [1, 1, oh, ow])));
      const ones = g.constant(full([c, 1, kernel[0] as number, kernel[1] as number], 1, 'float32'));
      const outputPadding = [0, 1].map(
        (i) => [h, w][i]! - (([oh, ow][i]! - 1) * (strides[i] as number) - (pads[i] as number) - (pads[i + 2] as number) + (kernel[i] as number)),
      );
      return [g.ConvTranspose(scaled, ones, undefined, { strides, pads, group: c, outputPadding })];
    },
  } satisfies OpRule<'AveragePool'>,

  GlobalAveragePool: {
    arity: 1,
    shape: ([x]) => {
      const t = x as TypeInfo;
      requireDType(t, FLOATS);
      if (t.shape.length < 3) fail(`x must be [N, C, spatial…], got ${fmtDims(t.shape)}`);
      return [{ dtype: t.dtype, shape: t.shape.map((d, i) => (i < 2 ? d : 1)) }];
    },
    // ORT has no float64 GlobalAveragePool kernel; the same mean as ReduceMean works in both.
    emit: (ctx, args) => {
      const rank = (args.inputTypes[0] as TypeInfo).shape.length;
      if ((args.inputTypes[0] as TypeInfo).dtype === 'float32') ctx.node('GlobalAveragePool', args.inputs, args.outputs);
      else ctx.node('ReduceMean', args.inputs, args.outputs, { axes: ints(Array.from({ length: rank - 2 }, (_, i) => i + 2)), keepdims: int(1) });
    },
    decode: { onnx: 'GlobalAveragePool', read: () => ({ attrs: {}, inputs: [0] }) },
    vjp: (g, { inputs: [x], gys: [gy] }) => {
      if (!gy) return [null];
      const vx = x as Value;
      const spatial = Array.from({ length: vx.shape.length - 2 }, (_, i) => i + 2);
      return [g.Div(g.Expand(gy, vx.shape), countOf(g, vx, spatial))];
    },
  } satisfies OpRule<'GlobalAveragePool'>,
} satisfies Partial<OpTable>;
