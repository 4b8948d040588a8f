import { fmtDims, ShapeError, ValueError } from '../../tensor/errors.js';
import { type Tensor, zeros } from '../../tensor/tensor.js';
import { PruneError } from '../errors.js';
import { type FloatTensor, floatTensor } from '../tensors.js';

/**
 * A fresh compactor: the identity Q = I of `width` channels (specs/resrep.md §2), so inserting it
 * leaves the network function unchanged. Layout `'matrix'` (default) is [D, D] (a linear, e.g. a
 * ViT MLP); `'conv'` is the 1×1 conv weight [D, D, 1, 1] a CNN uses. Row j is output channel j.
 */
export function insertCompactor(width: number, opts: { readonly layout?: 'matrix' | 'conv' } = {}): Tensor<'float32'> {
  if (!Number.isInteger(width) || width < 1) throw new ValueError('resrep.insertCompactor', `width must be an integer >= 1, got ${width}`);
  const layout = opts.layout ?? 'matrix';
  if (layout !== 'matrix' && layout !== 'conv') throw new ValueError('resrep.insertCompactor', `layout must be 'matrix' or 'conv', got ${String(layout)}`);
  const q = zeros(layout === 'conv' ? [width, width, 1, 1] : [width, width]);
  for (let j = 0; j < width; j++) q.data[j * width + j] = 1;
  return q;
}

/**
 * Validates a compactor, [D, D] or [D, D, 1, 1], finite (PruneError 'finite-compactor' naming the
 * layer and the first bad entry otherwise); returns it with its width D.
 */
export function compactorOf(where: string, q: unknown, layer = 'compactor'): { q: FloatTensor; d: number } {
  const t = floatTensor(where, 'Q', q);
  const d = t.dims[0] as number;
  const ok = (t.dims.length === 2 || (t.dims.length === 4 && t.dims[2] === 1 && t.dims[3] === 1)) && t.dims[1] === d;
  if (!ok) throw new ShapeError(where, `Q of '${layer}' must be [D, D] or [D, D, 1, 1], got ${fmtDims(t.dims)}`);
  for (let i = 0; i < t.data.length; i++) {
    const v = t.data[i] as number;
    if (!Number.isFinite(v)) {
      throw new PruneError(where, layer, 'finite-compactor', `Q[${Math.floor(i / d)}, ${i % d}] is ${v}; a compactor must be finite to be ranked or merged`);
    }
  }
  return { q: t, d };
}

/** Row norms r_j = ‖Q[j, :]‖₂ (float64), the metric ResRep ranks and thresholds channels by. */
export function compactorRowNorms(q: Tensor, opts: { readonly layer?: string } = {}): Float64Array {
  const { q: t, d } = compactorOf('resrep.compactorRowNorms', q, opts.layer);
  const out = new Float64Array(d);
  for (let j = 0; j < d; j++) {
    let s = 0;
    for (let i = j * d; i < (j + 1) * d; i++) s += (t.data[i] as number) ** 2;
    out[j] = Math.sqrt(s);
  }
  return out;
}
