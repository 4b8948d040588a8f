import { fmtDims } from '../../tensor/errors.js';
import { tensor } from '../../tensor/tensor.js';
import type { Graph } from '../builder.js';
import { dimProduct, dimsAgree, F32_ONLY, fail, requireDType, sameDType } from '../shape.js';
import type { AttrValue, DecodeView, Dim, OpAttrs, OpRule, OpTable, TypeInfo, Value } from '../types.js';
import { bad, int, ints, readInt, readInts, requireAttr } from './helpers.js';

type Ints = readonly number[];

export function checkWindow(strides: Ints, pads: Ints, dilations: Ints): void {
  if (strides.length !== 2 || strides.some((s) => !Number.isInteger(s) || s < 1)) fail(`strides must be 2 ints >= 1, got ${fmtDims(strides)}`);
  if (dilations.length !== 2 || dilations.some((s) => !Number.isInteger(s) || s < 1)) fail(`dilations must be 2 ints >= 1, got ${fmtDims(dilations)}`);
  if (pads.length !== 4 || pads.some((p) => !Number.isInteger(p) || p < 0)) fail(`pads must be 4 ints >= 0 [top, left, bottom, right], got ${fmtDims(pads)}`);
}

/** Output size of a sliding window along one spatial axis (floor mode). */
export function windowOut(size: Dim, k: number, stride: number, padBegin: number, padEnd: number, dilation: number): number {
  if (typeof size !== 'number') fail(`spatial dims must be static, got ${size}`);
  const out = Math.floor((size + padBegin + padEnd - dilation * (k - 1) - 1) / stride) + 1;
  if (out < 1) fail(`window ${k} (dilation ${dilation}) does not fit size ${size} with pads ${padBegin}+${padEnd}`);
  return out;
}

/** The ONNX attribute set shared by Conv and ConvTranspose. */
function windowAttrs(a: { strides: Ints; pads: Ints; dilations: Ints; group: number }, kernel: Ints): Record<string, AttrValue> {
  return { kernel_shape: ints(kernel), strides: ints(a.strides), pads: ints(a.pads), dilations: ints(a.dilations), group: int(a.group) };
}

function readWindow(n: DecodeView) {
  requireAttr(n, 'auto_pad', ['NOTSET', 'VALID'], 'NOTSET');
  if ((n.inputType(0)?.shape.length ?? 4) !== 4) bad(n, 'only 2-D (NCHW) convolution is supported');
  return {
    strides: readInts(n, 'strides', [1, 1]),
    pads: readInts(n, 'pads', [0, 0, 0, 0]),
    dilations: readInts(n, 'dilations', [1, 1]),
    group: readInt(n, 'group', 1),
  };
}

/**
 * ∂L/∂W of a (grouped) convolution from an explicit im2col. `input` [N, G·Ci, H, W] is unfolded
 * by a convolution with a fixed one-hot kernel (ONNX Runtime's own conv kernel does the gather):
 * col [N, G·Ci, K, P] with K = kh·kw offsets and P output positions, honouring strides, pads and
 * dilations. Then, per group, one batched product with `gout` [N, G·Co, P] and a sum over the batch:
 *   dW[g·Co + o, c, k] = Σ_n Σ_p gout[n, g·Co + o, p] · col[n, g·Ci + c, k, p]   → [G·Co, Ci, kh, kw].
 * For Conv, input = x and gout = ∂L/∂y; ConvTranspose's weight gradient is the same with the two
 * swapped. (An earlier form — one convolution with the batch folded into channels — left ORT's GEMMs
 * a K-wide output and ran 1.3–1.8× slower.)
 */
export function convWeightGrad(g: Graph, input: Value, gout: Value, kernel: Ints, a: { strides: Ints; pads: Ints; dilations: Ints; group: number }): Value {
  const [kh, kw] = kernel as [number, number];
  const k = kh * kw;
  const [, cin] = input.shape as [Dim, number];
  const [, cout] = gout.shape as [Dim, number];
  const grp = a.group;
  const onehot = new Float32Array(k * k);
  for (let i = 0; i < k; i++) onehot[i * k + i] = 1;
  const [h, w] = input.shape.slice(2) as [number, number];
  const col = g.Conv(g.Reshape(input, [-1, 1, h, w]), g.constant(tensor(onehot, [k, 1, kh, kw])), undefined, {
    strides: a.strides,
    pads: a.pads,
    dilations: a.dilations,
  }); // [N·Cin, K, P…]
  const p = (col.shape[2] as number) * (col.shape[3] as number);
  const colG = g.Reshape(col, [-1, grp, (cin / grp) * k, p]); // [N, G, Ci·K, P]
  const goutG = g.Reshape(gout, [-1, grp, cout / grp, p]); // [N, G, Co, P]
  const perSample = g.MatMul(goutG, g.Transpose(colG, [0, 1, 3, 2])); // [N, G, Co, Ci·K]
  return g.Reshape(g.ReduceSum(perSample, [0], false), [cout, cin / grp, kh, kw]);
}

/**
 * ∂L/∂x of a stride-1 convolution as another convolution: the spatially flipped kernel with input
 * and output channels swapped per group, padded by d·(k − 1) − p on each side. ORT runs Conv
 * through its blocked (NCHWc) kernels and ConvTranspose through a slower generic path, so this is
 * the cheaper form. Null when it does not apply (stride > 1, or a pad larger than d·(k − 1)).
 */
function convInputGrad(g: Graph, gy: Value, w: Value, a: { strides: Ints; pads: Ints; dilations: Ints; group: number }): Value | null {
  if (a.strides.some((s) => s !== 1)) return null;
  const [o, cg, kh, kw] = w.shape as [number, number, number, number];
  const reach = [(a.dilations[0] as number) * (kh - 1), (a.dilations[1] as number) * (kw - 1)] as const;
  const pads = [reach[0] - (a.pads[0] as number), reach[1] - (a.pads[1] as number), reach[0] - (a.pads[2] as number), reach[1] - (a.pads[3] as number)];
  if (pads.some((p) => p < 0) || typeof o !== 'number' || typeof cg !== 'number') return null;
  const grp = a.group;
  // [G·Og, Cg, kh, kw] → [G·Cg, Og, kh, kw]: per group, the kernel's in and out channels swapped.
  const swapped =
    grp === 1 ? g.Transpose(w, [1, 0, 2, 3]) : g.Reshape(g.Transpose(g.Reshape(w, [grp, o / grp, cg, kh, kw]), [0, 2, 1, 3, 4]), [grp * cg, o / grp, kh, kw]);
  const reverse = (n: number) =>
    g.constant(
      tensor(
        BigInt64Array.from({ length: n }, (_, i) => BigInt(n - 1 - i)),
        [n],
        'int64',
      ),
    );
  const flipped = g.Gather(g.Gather(swapped, reverse(kh), 2), reverse(kw), 3);
  return g.Conv(gy, flipped, undefined, { strides: [1, 1], pads, dilations: a.dilations, group: grp });
}

function convLike<K extends 'Conv' | 'ConvTranspose'>(
  op: K,
  rule: Omit<OpRule<K>, 'arity' | 'emit' | 'decode'>,
  extra: (n: DecodeView) => Partial<OpAttrs[K]>,
): OpRule<K> {
  return {
    arity: [2, 3],
    emit: (ctx, { inputs, outputs, attrs, inputTypes }) => {
      const kernel = (inputTypes[1] as TypeInfo).shape.slice(2) as number[];
      const all: Record<string, AttrValue> = windowAttrs(attrs, kernel);
      if (op === 'ConvTranspose') all.output_padding = ints((attrs as OpAttrs['ConvTranspose']).outputPadding);
      ctx.node(op, inputs, outputs, all);
    },
    decode: {
      onnx: op,
      read: (n) => ({
        attrs: { ...readWindow(n), ...extra(n) } as unknown as OpAttrs[K],
        inputs: n.inputs.length === 3 && n.inputs[2] !== '' ? [0, 1, 2] : [0, 1],
      }),
    },
    ...rule,
  };
}

function checkConvInputs([x, w, b]: readonly TypeInfo[], what: string): { x: TypeInfo; w: TypeInfo } {
  const [tx, tw] = [x as TypeInfo, w as TypeInfo];
  requireDType(tx, F32_ONLY);
  sameDType(tx, tw);
  if (tx.shape.length !== 4 || tw.shape.length !== 4) fail(`${what} x must be [N, C, H, W] and W 4-D, got ${fmtDims(tx.shape)} and ${fmtDims(tw.shape)}`);
  if (b) {
    sameDType(tx, b);
    if (b.shape.length !== 1) fail(`bias must be 1-D, got ${fmtDims(b.shape)}`);
  }
  for (const k of tw.shape.slice(2)) if (typeof k !== 'number') fail(`kernel dims must be static, got ${fmtDims(tw.shape)}`);
  return { x: tx, w: tw };
}

export const convOps = {
  Conv: convLike(
    'Conv',
    {
      shape: (ins, { strides, pads, dilations, group }) => {
        const { x, w } = checkConvInputs(ins, 'Conv');
        checkWindow(strides, pads, dilations);
        const [n, c, h, wd] = x.shape as [Dim, Dim, Dim, Dim];
        const [o, cg, kh, kw] = w.shape as [Dim, Dim, number, number];
        if (typeof cg === 'number' && typeof c === 'number' && cg * group !== c)
          fail(`W ${fmtDims(w.shape)} with group ${group} needs ${cg * group} input channels, x has ${c}`);
        if (typeof o === 'number' && o % group !== 0) fail(`${o} output channels are not divisible by group ${group}`);
        if (ins[2] && !dimsAgree((ins[2] as TypeInfo).shape[0] as Dim, o)) fail(`bias must be [${o}], got ${fmtDims((ins[2] as TypeInfo).shape)}`);
        const oh = windowOut(h, kh, strides[0] as number, pads[0] as number, pads[2] as number, dilations[0] as number);
        const ow = windowOut(wd, kw, strides[1] as number, pads[1] as number, pads[3] as number, dilations[1] as number);
        return [{ dtype: x.dtype, shape: [n, o, oh, ow] }];
      },
      // dx = ConvTranspose(gy, W) with output padding restoring H×W; dW by convWeightGrad; db = Σ gy.
      vjp: (g, { inputs: [x, w, b], gys: [gy], attrs }) => {
        if (!gy) return [null, null, null];
        const [vx, vw] = [x as Value, w as Value];
        const kernel = vw.shape.slice(2) as number[];
        const outputPadding = [0, 1].map((i) => {
          const full =
            ((gy.shape[2 + i] as number) - 1) * (attrs.strides[i] as number) -
            (attrs.pads[i] as number) -
            (attrs.pads[i + 2] as number) +
            (attrs.dilations[i] as number) * ((kernel[i] as number) - 1) +
            1;
          return (vx.shape[2 + i] as number) - full;
        });
        const dx = convInputGrad(g, gy, vw, attrs) ?? g.ConvTranspose(gy, vw, undefined, { ...attrs, outputPadding });
        return [dx, convWeightGrad(g, vx, gy, kernel, attrs), b ? g.ReduceSum(gy, [0, 2, 3]) : null];
      },
    },
    () => ({}),
  ),

  ConvTranspose: convLike(
    'ConvTranspose',
    {
      shape: (ins, { strides, pads, dilations, group, outputPadding }) => {
        const { x, w } = checkConvInputs(ins, 'ConvTranspose');
        checkWindow(strides, pads, dilations);
        const [n, c, h, wd] = x.shape as [Dim, Dim, Dim, Dim];
        const [ci, og, kh, kw] = w.shape as [Dim, Dim, number, number];
        if (!dimsAgree(ci, c)) fail(`W ${fmtDims(w.shape)} needs ${ci} input channels, x has ${c}`);
        // ONNX allows below stride *or* dilation, but ORT's kernel refuses any outputPadding >= stride.
        if (outputPadding.length !== 2 || outputPadding.some((p, i) => !Number.isInteger(p) || p < 0 || p >= (strides[i] as number))) {
          fail(`outputPadding must be 2 ints >= 0 below the strides ${fmtDims(strides)}, got ${fmtDims(outputPadding)}`);
        }
        const size = (d: Dim, i: number, k: number): number => {
          if (typeof d !== 'number') fail(`spatial dims must be static, got ${d}`);
          return (
            (d - 1) * (strides[i] as number) -
            (pads[i] as number) -
            (pads[i + 2] as number) +
            (dilations[i] as number) * (k - 1) +
            1 +
            (outputPadding[i] as number)
          );
        };
        // A symbolic og stays itself for group 1 (the VJP of Conv's weight-gradient conv puts B there).
        const o = dimProduct([og, group]);
        return [{ dtype: x.dtype, shape: [n, o, size(h, 0, kh), size(wd, 1, kw)] }];
      },
      // dx = Conv(gy, W) (same window); dW = convWeightGrad with gy as the input and x as the gradient.
      vjp: (g, { inputs: [x, w, b], gys: [gy], attrs }) => {
        if (!gy) return [null, null, null];
        const [vx, vw] = [x as Value, w as Value];
        const win = { strides: attrs.strides, pads: attrs.pads, dilations: attrs.dilations, group: attrs.group };
        const dx = g.Conv(gy, vw, undefined, win);
        return [dx, convWeightGrad(g, gy, vx, vw.shape.slice(2) as number[], win), b ? g.ReduceSum(gy, [0, 2, 3]) : null];
      },
    },
    (n) => {
      if (n.attr('output_shape')) bad(n, 'output_shape is not supported; give output_padding');
      return { outputPadding: readInts(n, 'output_padding', [0, 0]) };
    },
  ),
} satisfies Partial<OpTable>;
