/**
 * The one percentile definition of the whole project (eval reports, benchmarks, the advisor):
 * nearest rank. The p-th percentile of n values is the smallest value with at least p% of the
 * values at or below it — always one of the measured values, never an interpolation between two.
 */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}
