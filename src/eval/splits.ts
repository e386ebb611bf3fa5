/**
 * How squad2-dev's 35 articles (SQuAD 2.0 dev, CC BY-SA 4.0), in the order of its corpus.jsonl,
 * are used, written down once so no training ever sees an article an evaluation scores on:
 * - articles 0–5: fitting the abstention gate (bench/answers.ts --calibrate);
 * - articles 6–11: the answer benchmark (bench/answers.ts);
 * - articles 12–19: training: the evaluation's adapters (bench/eval-real.ts) and the answerability
 *   verifier (bench/train-verifier.ts);
 * - articles 20–34: the evaluation's questions (bench/eval-real.ts).
 */
export const squad2DevSplit = {
  calibration: [0, 6],
  answerBenchmark: [6, 12],
  training: [12, 20],
  evaluation: [20, 35],
} as const satisfies Record<string, readonly [number, number]>;

/** The articles of one part of the split, from the corpus's article order. */
export function squadArticles(articleOrder: readonly string[], part: keyof typeof squad2DevSplit): string[] {
  const [from, to] = squad2DevSplit[part];
  return articleOrder.slice(from, to);
}
