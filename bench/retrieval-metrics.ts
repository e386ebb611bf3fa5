// Ranking metrics for the retrieval benchmark. Relevance is binary and per document: a question has
// one gold document (its SQuAD paragraph, its COVID-QA paper), and a method's ranked chunks are
// turned into a ranked list of distinct documents (first occurrence wins) before scoring, so a
// paper that fills the top ten with its own chunks counts once.

export type RankingMetrics = {
  recallAt1: number;
  recallAt5: number;
  recallAt10: number;
  /** Mean reciprocal rank of the gold document within the first 10 documents (0 beyond). */
  mrr: number;
  ndcgAt10: number;
};

/** Distinct document ids in rank order. */
export function documentRanking(docIds: string[]): string[] {
  return [...new Set(docIds)];
}

/** 1-based rank of the gold document, or undefined when it is not in the list. */
export function goldRank(ranking: string[], gold: string): number | undefined {
  const index = ranking.indexOf(gold);
  return index < 0 ? undefined : index + 1;
}

/** Averages over questions, from each question's gold rank (undefined: not retrieved). */
export function rankingMetrics(ranks: (number | undefined)[]): RankingMetrics {
  const n = ranks.length;
  if (n === 0) return { recallAt1: 0, recallAt5: 0, recallAt10: 0, mrr: 0, ndcgAt10: 0 };
  const within = (k: number) => ranks.filter((r) => r !== undefined && r <= k).length / n;
  const sum = (f: (r: number) => number) =>
    ranks.reduce<number>((total, r) => total + (r !== undefined && r <= 10 ? f(r) : 0), 0) / n;
  return {
    recallAt1: within(1),
    recallAt5: within(5),
    recallAt10: within(10),
    mrr: sum((r) => 1 / r),
    // One relevant document: the ideal DCG is 1, so nDCG is the gain at its rank.
    ndcgAt10: sum((r) => 1 / Math.log2(r + 1)),
  };
}

export { percentile } from '../src/eval/percentile.ts';

export function round(x: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
