import { seededRandom } from '../finetune/index.ts';
import { type PairedMetric, pairedMetrics, type QuestionOutcome } from './metrics.ts';

export type PairedDelta = { questionId: string; a: number; b: number; delta: number };

export type PairedComparison = {
  a: string;
  b: string;
  metric: PairedMetric;
  /** Questions both sides answered (a failed question is a 0 on its side, not a missing pair). */
  matched: number;
  /** Questions only one side has: reported, never silently paired. */
  unmatched: string[];
  meanA: number;
  meanB: number;
  /** Mean of b − a with its 95% paired bootstrap interval. */
  meanDelta: number;
  low: number;
  high: number;
  /** Two-sided sign-flip permutation test of mean(b − a) = 0. */
  pValue: number;
  /** Questions where b is worse than a, the worst first (for latency: slower). */
  regressions: PairedDelta[];
  improvements: PairedDelta[];
};

/**
 * Paired comparison of two sets of outcomes over the same questions: per-question deltas, a
 * seeded paired bootstrap of the mean difference and a sign-flip permutation p-value. Pairing
 * removes the spread between questions, so a real difference shows on far fewer questions than two
 * separate intervals would need.
 */
export function comparePaired(
  a: readonly QuestionOutcome[],
  b: readonly QuestionOutcome[],
  metric: PairedMetric = 'f1',
  options: { seed?: number; resamples?: number; names?: [string, string] } = {},
): PairedComparison {
  const value = pairedMetrics[metric];
  const first = (rows: readonly QuestionOutcome[]) =>
    new Map(rows.filter((o) => o.repeat === 0).map((o) => [o.questionId, o]));
  const left = first(a);
  const right = first(b);
  const deltas: PairedDelta[] = [];
  for (const [id, oa] of left) {
    const ob = right.get(id);
    if (ob) deltas.push({ questionId: id, a: value(oa), b: value(ob), delta: value(ob) - value(oa) });
  }
  const unmatched = [...left.keys(), ...right.keys()].filter((id) => !(left.has(id) && right.has(id)));
  const n = deltas.length;
  const d = deltas.map((x) => x.delta);
  const avg = (xs: readonly number[]) => (xs.length ? xs.reduce((s, x) => s + x, 0) / xs.length : Number.NaN);
  const meanDelta = avg(d);
  const resamples = options.resamples ?? 4000;
  const random = seededRandom(options.seed ?? 1);
  const boot: number[] = [];
  for (let r = 0; r < resamples && n > 0; r++) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += d[Math.floor(random() * n)]!;
    boot.push(sum / n);
  }
  boot.sort((x, y) => x - y);
  let extreme = 0;
  for (let r = 0; r < resamples && n > 0; r++) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += random() < 0.5 ? -d[i]! : d[i]!;
    if (Math.abs(sum / n) >= Math.abs(meanDelta) - 1e-12) extreme++;
  }
  // Worse means lower for scores, higher for latency and hallucination.
  const higherIsBetter = metric !== 'totalMs' && metric !== 'hallucinated';
  const worse = (x: PairedDelta) => (higherIsBetter ? x.delta < 0 : x.delta > 0);
  const better = (x: PairedDelta) => (higherIsBetter ? x.delta > 0 : x.delta < 0);
  const byHarm = (x: PairedDelta, y: PairedDelta) => (higherIsBetter ? x.delta - y.delta : y.delta - x.delta);
  const [nameA, nameB] = options.names ?? [a[0]?.strategy ?? 'a', b[0]?.strategy ?? 'b'];
  return {
    a: nameA,
    b: nameB,
    metric,
    matched: n,
    unmatched,
    meanA: avg(deltas.map((x) => x.a)),
    meanB: avg(deltas.map((x) => x.b)),
    meanDelta,
    low: n ? boot[Math.floor(0.025 * (resamples - 1))]! : Number.NaN,
    high: n ? boot[Math.ceil(0.975 * (resamples - 1))]! : Number.NaN,
    // (extreme + 1) / (resamples + 1): a Monte Carlo p-value is never exactly 0.
    pValue: n ? (extreme + 1) / (resamples + 1) : Number.NaN,
    regressions: deltas.filter(worse).sort(byHarm),
    improvements: deltas.filter(better).sort((x, y) => byHarm(y, x)),
  };
}

/** Run-to-run spread of repeated passes: per strategy, the standard deviation of the pass means. */
export function repeatSpread(
  outcomes: readonly QuestionOutcome[],
  strategy: string,
  metric: PairedMetric = 'f1',
): { repeats: number; means: number[]; sd: number; meanAbsChange: number } {
  const value = pairedMetrics[metric];
  const byRepeat = new Map<number, QuestionOutcome[]>();
  for (const o of outcomes.filter((x) => x.strategy === strategy))
    byRepeat.set(o.repeat, [...(byRepeat.get(o.repeat) ?? []), o]);
  const passes = [...byRepeat.entries()].sort(([x], [y]) => x - y).map(([, rows]) => rows);
  const means = passes.map((rows) => rows.reduce((s, o) => s + value(o), 0) / rows.length);
  const m = means.reduce((s, x) => s + x, 0) / (means.length || 1);
  const sd =
    means.length > 1 ? Math.sqrt(means.reduce((s, x) => s + (x - m) ** 2, 0) / (means.length - 1)) : 0;
  // How often one question's score changes between passes: the noise a single run hides.
  const first = new Map((passes[0] ?? []).map((o) => [o.questionId, value(o)]));
  const changes = passes
    .slice(1)
    .flatMap((rows) => rows.map((o) => Math.abs(value(o) - (first.get(o.questionId) ?? value(o)))));
  return {
    repeats: passes.length,
    means,
    sd,
    meanAbsChange: changes.length ? changes.reduce((s, x) => s + x, 0) / changes.length : 0,
  };
}
