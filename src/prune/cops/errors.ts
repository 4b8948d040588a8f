import { ValueError } from '../../tensor/errors.js';

/**
 * The control level c cannot be reached by any k-subset: c > T_k(s¹) (+ tol), the sum of the k
 * largest control scores. `c` and `max` say by how much; `combine(…, onInfeasible: 'clamp')` returns
 * M1 = top-k(s¹) instead of throwing.
 */
export class InfeasibleControlError extends ValueError {
  override name = 'InfeasibleControlError';
  constructor(
    where: string,
    readonly c: number,
    readonly max: number,
    readonly k: number,
  ) {
    super(
      where,
      `control level c = ${c} is unreachable: the k = ${k} largest control scores sum to T_k = ${max}; ` +
        `lower kappa or c, or pass onInfeasible: 'clamp' to get top-k(control)`,
    );
  }
}
