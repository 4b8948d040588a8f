/**
 * PyTorch's BatchNorm running-statistics update from one batch's per-channel mean and biased
 * variance over `count` values per channel (batch × spatial):
 *   r_mean ← (1 − m)·r_mean + m·mean,   r_var ← (1 − m)·r_var + m·var·count/(count − 1).
 */
export function updateRunningStats(
  runningMean: Float32Array,
  runningVar: Float32Array,
  mean: ArrayLike<number>,
  variance: ArrayLike<number>,
  momentum: number,
  count: number,
): void {
  const unbias = count > 1 ? count / (count - 1) : 1;
  for (let j = 0; j < runningMean.length; j++) {
    runningMean[j] = (1 - momentum) * (runningMean[j] as number) + momentum * (mean[j] as number);
    runningVar[j] = (1 - momentum) * (runningVar[j] as number) + momentum * (variance[j] as number) * unbias;
  }
}
