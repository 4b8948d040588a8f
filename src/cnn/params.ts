import { CheckpointError, fmtDims, ShapeError, ValueError } from '../tensor/errors.js';
import type { Rng } from '../tensor/rng.js';
import { full, type Tensor, zeros } from '../tensor/tensor.js';
import type { CnnConfig, Layer } from './config.js';

/** Per-sample shape of every layer's value: [C, H, W] for maps, [F] for vectors. */
export function layerShapes(c: CnnConfig): Map<string, number[]> {
  const s = new Map<string, number[]>([['input', [c.inChans, c.imageSize, c.imageSize]]]);
  const of = (l: Layer, name: string): number[] => {
    const v = s.get(name);
    if (!v) throw new ValueError('cnn.layerShapes', `layer '${l.name}' reads unknown '${name}'`);
    return v;
  };
  for (const l of c.layers) {
    switch (l.kind) {
      case 'conv': {
        const [, h, w] = of(l, l.input) as [number, number, number];
        const o = (d: number) => Math.floor((d + 2 * l.pad - l.kernel) / l.stride) + 1;
        s.set(l.name, [l.out, o(h), o(w)]);
        break;
      }
      case 'maxpool': {
        const [ch, h, w] = of(l, l.input) as [number, number, number];
        s.set(l.name, [ch, Math.floor((h - l.kernel) / l.stride) + 1, Math.floor((w - l.kernel) / l.stride) + 1]);
        break;
      }
      case 'gap':
        s.set(l.name, [of(l, l.input)[0] as number, 1, 1]);
        break;
      case 'flatten':
        s.set(l.name, [of(l, l.input).reduce((p, d) => p * d, 1)]);
        break;
      case 'linear':
        of(l, l.input);
        s.set(l.name, [l.out]);
        break;
      case 'add': {
        const [a, b] = [of(l, l.inputs[0]), of(l, l.inputs[1])];
        if (fmtDims(a) !== fmtDims(b)) throw new ShapeError('cnn.layerShapes', `add '${l.name}': ${fmtDims(a)} vs ${fmtDims(b)}`);
        s.set(l.name, a);
        break;
      }
      default:
        s.set(l.name, of(l, l.input));
    }
  }
  return s;
}

/** Trainable parameters and BN buffers (`running_mean`, `running_var`), PyTorch-named, in layer order. */
export function cnnParamShapes(c: CnnConfig): { name: string; dims: number[]; buffer: boolean }[] {
  const shapes = layerShapes(c);
  const out: { name: string; dims: number[]; buffer: boolean }[] = [];
  for (const l of c.layers) {
    if (l.kind === 'conv') {
      const cin = (shapes.get(l.input) as number[])[0] as number;
      out.push({ name: `${l.name}.weight`, dims: [l.out, cin, l.kernel, l.kernel], buffer: false });
      if (l.bias) out.push({ name: `${l.name}.bias`, dims: [l.out], buffer: false });
    } else if (l.kind === 'linear') {
      const fin = (shapes.get(l.input) as number[]).reduce((p, d) => p * d, 1);
      out.push({ name: `${l.name}.weight`, dims: [l.out, fin], buffer: false });
      if (l.bias) out.push({ name: `${l.name}.bias`, dims: [l.out], buffer: false });
    } else if (l.kind === 'bn') {
      const ch = (shapes.get(l.input) as number[])[0] as number;
      out.push(
        { name: `${l.name}.weight`, dims: [ch], buffer: false },
        { name: `${l.name}.bias`, dims: [ch], buffer: false },
        { name: `${l.name}.running_mean`, dims: [ch], buffer: true },
        { name: `${l.name}.running_var`, dims: [ch], buffer: true },
      );
    }
  }
  return out;
}

/**
 * PyTorch's defaults: conv weights kaiming-normal (fan_out, ReLU gain, as torchvision's ResNets),
 * linear weights and all biases U(±1/√fan_in), BN γ = 1, β = 0, running mean 0 and var 1.
 */
export function initCnnParams(c: CnnConfig, rng: Rng): Record<string, Tensor<'float32'>> {
  const out: Record<string, Tensor<'float32'>> = {};
  for (const { name, dims } of cnnParamShapes(c)) {
    const t = zeros(dims);
    if (name.endsWith('.running_var') || (dims.length === 1 && isBnWeight(c, name))) out[name] = full(dims, 1, 'float32');
    else if (name.endsWith('.running_mean') || isBnBias(c, name)) out[name] = t;
    else if (dims.length === 4) {
      const std = Math.sqrt(2 / ((dims[0] as number) * (dims[2] as number) * (dims[3] as number)));
      rng.fillNormal(t.data, 0, std);
      out[name] = t;
    } else {
      const fanIn = dims.length === 2 ? (dims[1] as number) : fanInOfBias(c, name);
      rng.fillUniform(t.data, -1 / Math.sqrt(fanIn), 1 / Math.sqrt(fanIn));
      out[name] = t;
    }
  }
  return out;
}

function layerOf(c: CnnConfig, param: string): Layer | undefined {
  return c.layers.find((l) => param.startsWith(`${l.name}.`) && !param.slice(l.name.length + 1).includes('.'));
}
const isBnWeight = (c: CnnConfig, p: string) => layerOf(c, p)?.kind === 'bn' && p.endsWith('.weight');
const isBnBias = (c: CnnConfig, p: string) => layerOf(c, p)?.kind === 'bn' && p.endsWith('.bias');
function fanInOfBias(c: CnnConfig, p: string): number {
  const w = cnnParamShapes(c).find((s) => s.name === p.replace(/\.bias$/, '.weight'));
  return w ? w.dims.slice(1).reduce((a, d) => a * d, 1) : 1;
}

/** Checks a state dict against `c`: missing and unexpected keys listed together, then shapes. */
export function checkCnnStateDict(where: string, c: CnnConfig, sd: Readonly<Record<string, Tensor>>): void {
  const want = cnnParamShapes(c);
  const names = new Set(want.map((w) => w.name));
  const missing = want.filter((w) => !(w.name in sd)).map((w) => w.name);
  const extra = Object.keys(sd).filter((k) => !names.has(k) && !k.endsWith('.num_batches_tracked'));
  if (missing.length || extra.length) {
    const parts = [missing.length ? `missing ${missing.join(', ')}` : '', extra.length ? `unexpected ${extra.join(', ')}` : ''].filter(Boolean);
    throw new CheckpointError(where, `state dict does not match ${c.name}: ${parts.join('; ')}`);
  }
  const bad = want
    .filter((w) => fmtDims((sd[w.name] as Tensor).dims) !== fmtDims(w.dims) || (sd[w.name] as Tensor).type !== 'float32')
    .map((w) => `${w.name}: ${fmtDims(w.dims)} float32 expected, got ${fmtDims((sd[w.name] as Tensor).dims)} ${(sd[w.name] as Tensor).type}`);
  if (bad.length) throw new ShapeError(where, `state dict does not match ${c.name}: ${bad.join('; ')}`);
}
