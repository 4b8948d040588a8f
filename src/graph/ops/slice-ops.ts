import { fmtDims, GraphError } from '../../tensor/errors.js';
import { scalar } from '../../tensor/tensor.js';
import { dimsAgree, fail, isStatic, normAxis, sameDType } from '../shape.js';
import type { Dim, OpRule, OpTable, TypeInfo, Value } from '../types.js';
import { bad, constInts, emitWithInts, int, placeAlong, range, readInt, simpleEmit } from './helpers.js';

/** Slice/Pad treat any end at or beyond this as "to the end of the axis". */
export const TO_END = Number.MAX_SAFE_INTEGER;
const isToEnd = (e: number) => e >= 2 ** 31;

function sliceDim(d: Dim, start: number, end: number, step: number): Dim {
  if (typeof d === 'number') {
    const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
    const s = step > 0 ? clamp(start < 0 ? start + d : start, 0, d) : clamp(start < 0 ? start + d : start, -1, d - 1);
    const e = step > 0 ? clamp(end < 0 ? end + d : end, 0, d) : clamp(end < 0 ? end + d : end, -1, d - 1);
    return Math.max(0, Math.ceil((e - s) / step));
  }
  if (step === 1 && start >= 0 && end >= 0 && !isToEnd(end)) return end - start;
  // A symbol plus a constant (what Concat of [A] and [c] gives): trimming at most c off either end
  // is exact whatever A is (A ≥ 0), e.g. (n+1)[0:-1] = n and (n+1)[-1:] = 1.
  const sum = /^\((.+)\+(\d+)\)$/.exec(d);
  if (sum && step === 1) {
    const [sym, c] = [sum[1] as string, Number(sum[2])];
    if (start === 0 && end < 0 && -end <= c) return c + end === 0 ? sym : `(${sym}+${c + end})`;
    if (start < 0 && -start <= c && isToEnd(end)) return -start;
  }
  return `${d}[${start}:${isToEnd(end) ? '' : end}:${step}]`;
}

function padDim(d: Dim, extra: number): Dim {
  if (extra === 0) return d;
  return typeof d === 'number' ? d + extra : `(${d}+${extra})`;
}

/** Ops that cut a tensor into pieces along an axis or grow it at the edges: Concat, Slice, Split, Pad. */
export const sliceOps = {
  Concat: {
    arity: [1, 1 << 16],
    shape: (xs, { axis }) => {
      const first = xs[0] as TypeInfo;
      const a = normAxis(axis, first.shape.length);
      for (const t of xs) {
        sameDType(first, t);
        if (t.shape.length !== first.shape.length || !t.shape.every((d, i) => i === a || dimsAgree(d, first.shape[i] as Dim))) {
          fail(`inputs must match except on axis ${a}, got ${xs.map((u) => fmtDims(u.shape)).join(', ')}`);
        }
      }
      const sizes: readonly Dim[] = xs.map((t) => t.shape[a] as Dim);
      const total: Dim = isStatic(sizes) ? sizes.reduce((p: number, d) => p + d, 0) : `(${sizes.join('+')})`;
      return [{ dtype: first.dtype, shape: first.shape.map((d, i) => (i === a ? total : d)) }];
    },
    emit: simpleEmit('Concat', (a) => ({ axis: int(a.axis) })),
    decode: { onnx: 'Concat', read: (n) => ({ attrs: { axis: readInt(n, 'axis', 0) }, inputs: n.inputs.map((_, i) => i) }) },
    vjp: (g, { inputs, gys: [gy], attrs }) => {
      if (!gy) return inputs.map(() => null);
      const a = normAxis(attrs.axis, gy.shape.length);
      let offset = 0;
      return inputs.map((x, i) => {
        const len = x.shape[a] as Dim;
        const last = i === inputs.length - 1;
        if (typeof len !== 'number' && !last)
          throw new GraphError('Concat VJP', `needs static sizes along axis ${a} for all but the last input, got ${fmtDims(x.shape)}`);
        const end = typeof len === 'number' ? offset + len : TO_END;
        const piece = g.Slice(gy, [offset], [end], [a]);
        offset = end;
        return piece;
      });
    },
  } satisfies OpRule<'Concat'>,

  Slice: {
    arity: 1,
    shape: ([x], { starts, ends, axes, steps }) => {
      const s = (x as TypeInfo).shape;
      if (starts.length !== ends.length || starts.length !== axes.length || starts.length !== steps.length) {
        fail(`starts/ends/axes/steps must have equal lengths, got ${starts.length}/${ends.length}/${axes.length}/${steps.length}`);
      }
      const out = [...s];
      axes.forEach((ax, i) => {
        const a = normAxis(ax, s.length);
        if (steps[i] === 0) fail('steps must be non-zero');
        out[a] = sliceDim(s[a] as Dim, starts[i] as number, ends[i] as number, steps[i] as number);
      });
      return [{ dtype: (x as TypeInfo).dtype, shape: out }];
    },
    emit: emitWithInts('Slice', (a) => [a.starts, a.ends, a.axes, a.steps]),
    decode: {
      onnx: 'Slice',
      read: (n) => {
        const starts = constInts(n, 1, 'starts');
        const ends = constInts(n, 2, 'ends');
        const axes = constInts(n, 3, 'axes', range(starts.length));
        return {
          attrs: {
            starts,
            ends,
            axes,
            steps: constInts(
              n,
              4,
              'steps',
              starts.map(() => 1),
            ),
          },
          inputs: [0],
        };
      },
    },
    // The gradient pads gy back with zeros: begin = start, end = dim − end (placed by scatter where
    // the dim is symbolic and the end an index, so dim − end is unknown).
    vjp: (g, { inputs: [x], gys: [gy], attrs: { starts, ends, axes, steps } }) => {
      if (!gy) return [null];
      const s = (x as Value).shape;
      const pads = new Array<number>(2 * s.length).fill(0);
      const placed: [number, number][] = [];
      axes.forEach((ax, i) => {
        const a = normAxis(ax, s.length);
        const d = s[a] as Dim;
        if (steps[i] !== 1) throw new GraphError('Slice VJP', `only step 1 is differentiable, got step ${steps[i]} on axis ${a}`);
        let [b, e] = [starts[i] as number, ends[i] as number];
        if (typeof d === 'number') {
          b = Math.min(Math.max(b < 0 ? b + d : b, 0), d);
          e = Math.min(Math.max(e < 0 ? e + d : e, b), d);
          [pads[a], pads[a + s.length]] = [b, d - e];
        } else if (b >= 0 && (e < 0 || isToEnd(e))) {
          [pads[a], pads[a + s.length]] = [b, isToEnd(e) ? 0 : -e];
        } else if (b >= 0 && e >= b) {
          placed.push([a, b]);
        } else {
          throw new GraphError('Slice VJP', `axis ${a} has symbolic size ${d}; need 0 <= start <= end`);
        }
      });
      const padded = pads.some((p) => p > 0) ? g.Pad(gy, pads) : gy;
      return [placed.reduce((v, [a, b]) => placeAlong(g, v, a, b, s[a] as Dim), padded)];
    },
  } satisfies OpRule<'Slice'>,

  Split: {
    arity: 1,
    shape: ([x], { axis, sizes }) => {
      const s = (x as TypeInfo).shape;
      const a = normAxis(axis, s.length);
      const d = s[a] as Dim;
      if (sizes.some((k) => !Number.isInteger(k) || k < 0)) fail(`sizes must be >= 0, got ${fmtDims(sizes)}`);
      if (typeof d === 'number' && sizes.reduce((p, k) => p + k, 0) !== d) fail(`sizes ${fmtDims(sizes)} do not add up to ${d} on axis ${a}`);
      return sizes.map((k) => ({ dtype: (x as TypeInfo).dtype, shape: s.map((v, i) => (i === a ? k : v)) }));
    },
    emit: emitWithInts(
      'Split',
      (a) => [a.sizes],
      (a) => ({ axis: int(a.axis) }),
    ),
    decode: {
      onnx: 'Split',
      read: (n) => {
        const axis = readInt(n, 'axis', 0);
        if (n.inputs.length < 2 || n.inputs[1] === '') {
          const d = n.inputType(0)?.shape[normAxis(axis, n.inputType(0)?.shape.length ?? 1)];
          const k = n.outputs.length;
          if (typeof d !== 'number' || d % k !== 0) bad(n, 'equal split needs a static axis divisible by the number of outputs');
          return { attrs: { axis, sizes: new Array<number>(k).fill(d / k) }, inputs: [0] };
        }
        return { attrs: { axis, sizes: constInts(n, 1, 'split') }, inputs: [0] };
      },
    },
    vjp: (g, { outputs, gys, attrs: { axis } }) => {
      if (gys.every((gy) => !gy)) return [null];
      const parts = outputs.map((y, i) => gys[i] ?? g.zerosLike(y));
      return [g.Concat(parts, axis)];
    },
  } satisfies OpRule<'Split'>,

  Pad: {
    arity: 1,
    shape: ([x], { pads }) => {
      const s = (x as TypeInfo).shape;
      if (pads.length !== 2 * s.length || pads.some((p) => !Number.isInteger(p) || p < 0)) {
        fail(`pads must be ${2 * s.length} non-negative ints (begins then ends), got ${fmtDims(pads)}`);
      }
      return [{ dtype: (x as TypeInfo).dtype, shape: s.map((d, i) => padDim(d, (pads[i] as number) + (pads[i + s.length] as number))) }];
    },
    emit: (ctx, { inputs, outputs, attrs, inputTypes }) => {
      const dtype = (inputTypes[0] as TypeInfo).dtype;
      const p = ctx.constant({ type: 'int64', dims: [attrs.pads.length], data: BigInt64Array.from(attrs.pads, (v) => BigInt(v)) });
      ctx.node('Pad', [inputs[0] as string, p, ctx.constant(scalar(attrs.value, dtype))], outputs, { mode: { str: 'constant' } });
    },
    decode: {
      onnx: 'Pad',
      read: (n) => {
        const mode = n.attr('mode');
        if (mode && (!('str' in mode) || mode.str !== 'constant')) bad(n, 'only mode=constant is supported');
        if (n.inputs.length > 3 && n.inputs[3] !== '') bad(n, 'the axes input is not supported');
        const value = n.inputs.length > 2 && n.inputs[2] !== '' ? (constInts(n, 2, 'constant_value')[0] ?? 0) : 0;
        return { attrs: { pads: constInts(n, 1, 'pads'), value }, inputs: [0] };
      },
    },
    vjp: (g, { inputs: [x], gys: [gy], attrs: { pads } }) => {
      if (!gy) return [null];
      const r = (x as Value).shape.length;
      const axes = range(r).filter((i) => (pads[i] as number) > 0 || (pads[i + r] as number) > 0);
      if (axes.length === 0) return [gy];
      return [
        g.Slice(
          gy,
          axes.map((i) => pads[i] as number),
          axes.map((i) => ((pads[i + r] as number) > 0 ? -(pads[i + r] as number) : TO_END)),
          axes,
        ),
      ];
    },
  } satisfies OpRule<'Pad'>,
} satisfies Partial<OpTable>;
