/**
 * 95% intervals for the figures Attune reports: Wilson's score interval for proportions (sound at
 * 0 and 1 and on small samples, unlike the normal approximation), and a seeded percentile
 * bootstrap for means, so the same data and seed always give the same interval.
 */

import { seededRandom } from '../finetune/index.ts';

const Z95 = 1.959963984540054;

/** Wilson score interval for `successes` out of `n` (95%). [0, 1] for n = 0. */
export function wilsonInterval(successes: number, n: number, z = Z95): [number, number] {
  if (n === 0) return [0, 1];
  const p = successes / n;
  const denominator = 1 + (z * z) / n;
  const centre = (p + (z * z) / (2 * n)) / denominator;
  const half = (z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n))) / denominator;
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

/** Percentile bootstrap interval of the mean (95%), `resamples` draws from a seeded generator. */
export function bootstrapMeanInterval(
  values: readonly number[],
  seed = 1,
  resamples = 2000,
): [number, number] {
  if (values.length === 0) return [Number.NaN, Number.NaN];
  const random = seededRandom(seed);
  const means: number[] = [];
  for (let r = 0; r < resamples; r++) {
    let sum = 0;
    for (let i = 0; i < values.length; i++) sum += values[Math.floor(random() * values.length)]!;
    means.push(sum / values.length);
  }
  means.sort((a, b) => a - b);
  return [means[Math.floor(0.025 * (resamples - 1))]!, means[Math.ceil(0.975 * (resamples - 1))]!];
}
