import { fmtDims, ShapeError, ValueError } from '../../tensor/errors.js';
import type { Tensor } from '../../tensor/tensor.js';
import { floatTensor } from '../tensors.js';
import { compactorOf } from './compactor.js';

/**
 * ResRep's gradient reset with group lasso (specs/resrep.md §5.1), applied after backward and
 * before the optimizer step, for every row j of a compactor:
 *
 *     G[j, :] = m_j · ∂L/∂Q[j, :] + λ · Q[j, :] / max(‖Q[j, :]‖₂, 1e-12)
 *
 * The mask multiplies only the objective term; the lasso term reaches every row, masked or not. A
 * row of norm 0 gets lasso gradient 0, not NaN (Choice). Q and ∂L/∂Q are [D, D] or [D, D, 1, 1],
 * mask is D values in {0, 1}. → a new gradient with ∂L/∂Q's dtype and dims. NaN or Inf in Q throws
 * PruneError (rule 'finite-compactor') naming `opts.layer`.
 */
export function resetCompactorGradient(
  q: Tensor,
  gradQ: Tensor,
  mask: ArrayLike<number>,
  lambda: number,
  opts: { readonly layer?: string } = {},
): Tensor<'float32'> | Tensor<'float64'> {
  const where = 'resrep.resetCompactorGradient';
  const { q: qt, d } = compactorOf(where, q, opts.layer);
  const g = floatTensor(where, 'gradQ', gradQ);
  if (g.data.length !== qt.data.length || g.dims[0] !== d) throw new ShapeError(where, `gradQ must match Q ${fmtDims(qt.dims)}, got ${fmtDims(g.dims)}`);
  if (!mask || mask.length !== d) throw new ShapeError(where, `mask must have ${d} entries (one per row), got ${mask?.length}`);
  for (let j = 0; j < d; j++) {
    if (mask[j] !== 0 && mask[j] !== 1) throw new ValueError(where, `mask entries must be 0 or 1, got ${mask[j]} at ${j}`);
  }
  if (!(Number.isFinite(lambda) && lambda >= 0)) throw new ValueError(where, `lambda must be finite and >= 0, got ${lambda}`);
  const out = g.type === 'float64' ? new Float64Array(g.data.length) : new Float32Array(g.data.length);
  for (let j = 0; j < d; j++) {
    let sq = 0;
    for (let i = j * d; i < (j + 1) * d; i++) sq += (qt.data[i] as number) ** 2;
    const scale = lambda / Math.max(Math.sqrt(sq), 1e-12);
    const m = mask[j] as number;
    for (let i = j * d; i < (j + 1) * d; i++) out[i] = m * (g.data[i] as number) + scale * (qt.data[i] as number);
  }
  return { type: g.type, dims: [...g.dims], data: out } as Tensor<'float32'> | Tensor<'float64'>;
}
