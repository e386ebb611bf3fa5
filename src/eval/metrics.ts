import { type AnswerResult, stripCitations } from '../answer/index.ts';
import { bootstrapMeanInterval, wilsonInterval } from './intervals.ts';
import { percentile } from './percentile.ts';
import { exactMatch, tokenF1 } from './squad-metrics.ts';
import { matchesGold, type TestQuestion } from './test-set.ts';

/** An answerable question counts as answered right when its token F1 reaches this. */
export const CORRECT_F1 = 0.5;
/** An answer counts as supported when at least this share of its sentences is. */
export const SUPPORTED_GROUNDEDNESS = 0.5;

/** One strategy's answer to one question, scored. A failed question is kept, as failed. */
export type QuestionOutcome = {
  strategy: string;
  questionId: string;
  /** 0 for the first pass; `--repeats` adds 1, 2, ... */
  repeat: number;
  status: 'ok' | 'failed';
  error?: string;
  answerable: boolean;
  answer: string;
  abstained: boolean;
  abstainReason?: string;
  /** SQuAD 2.0 convention: an unanswerable question scores 1 when abstained on, else 0. */
  exactMatch: number;
  f1: number;
  correct: boolean;
  /** Share of sentences supported by their cited source; undefined without retrieval or answer. */
  groundedness?: number;
  /** Each `[n]` that supports its sentence / all `[n]` given; undefined when none were given. */
  citationPrecision?: number;
  /** Answer sentences carrying a supporting citation / all answer sentences. */
  citationRecall?: number;
  /** Answered, wrong and not supported by the sources. */
  hallucinated: boolean;
  /** Document ids in rank order, distinct (empty without retrieval). */
  retrieved: string[];
  /** 1-based rank of the first gold document; null when gold documents are known but none was retrieved. */
  goldRank?: number | null;
  /** nDCG@10 over the retrieved documents (binary relevance), when gold documents are known. */
  ndcg10?: number;
  sources: { n: number; docId: string; title: string }[];
  firstTokenMs?: number;
  totalMs: number;
  inputTokens: number;
  outputTokens: number;
  kbVersion?: number;
  auditId?: string;
  judge?: { correct: boolean; agreesWithGold: boolean };
};

export function scoreAnswer(
  strategy: string,
  question: TestQuestion,
  result: AnswerResult,
  options: { repeat?: number; retrieval: boolean },
): QuestionOutcome {
  // Scored without its [n] markers: a citation is not part of the answer's words.
  const answer = result.abstained ? '' : stripCitations(result.answer);
  const em = question.answerable
    ? result.abstained
      ? 0
      : exactMatch(answer, question.answers)
    : result.abstained
      ? 1
      : 0;
  const f1 = question.answerable ? (result.abstained ? 0 : tokenF1(answer, question.answers)) : em;
  const correct = question.answerable ? f1 >= CORRECT_F1 : result.abstained;
  const sentences = result.groundedness.sentences;
  const answered = !result.abstained && answer.trim() !== '';
  const groundedness = options.retrieval && answered ? result.groundedness.score : undefined;
  const cited = sentences.flatMap((s) => s.cited.map(() => s.supported));
  const retrieved = [...new Set(result.sources.map((s) => s.docId))];
  const gold = question.gold_doc_ids;
  const rank = retrieved.findIndex((d) => gold.some((g) => matchesGold(d, g)));
  const knowsGold = options.retrieval && gold.length > 0;
  return {
    strategy,
    questionId: question.id,
    repeat: options.repeat ?? 0,
    status: 'ok',
    answerable: question.answerable,
    answer: result.answer,
    abstained: result.abstained,
    ...(result.abstainReason ? { abstainReason: result.abstainReason } : {}),
    exactMatch: em,
    f1,
    correct,
    ...(groundedness !== undefined ? { groundedness } : {}),
    ...(answered && cited.length > 0
      ? { citationPrecision: cited.filter(Boolean).length / cited.length }
      : {}),
    ...(answered && options.retrieval && sentences.length > 0
      ? {
          citationRecall:
            sentences.filter((s) => s.cited.length > 0 && s.supported).length / sentences.length,
        }
      : {}),
    hallucinated: answered && !correct && !((groundedness ?? 0) >= SUPPORTED_GROUNDEDNESS),
    retrieved,
    ...(knowsGold ? { goldRank: rank < 0 ? null : rank + 1, ndcg10: ndcgAt10(retrieved, gold) } : {}),
    sources: result.sources.map((s) => ({ n: s.n, docId: s.docId, title: s.title })),
    ...(result.timings.firstTokenMs !== undefined ? { firstTokenMs: result.timings.firstTokenMs } : {}),
    totalMs: result.timings.totalMs,
    inputTokens: result.usage.inputTokens,
    outputTokens: result.usage.outputTokens,
    ...(result.kbVersion !== undefined ? { kbVersion: result.kbVersion } : {}),
    auditId: result.auditId,
  };
}

/** A question whose answer threw: counted as wrong in every average, and listed as failed. */
export function failedOutcome(
  strategy: string,
  question: TestQuestion,
  error: unknown,
  totalMs: number,
  repeat = 0,
): QuestionOutcome {
  return {
    strategy,
    questionId: question.id,
    repeat,
    status: 'failed',
    error: error instanceof Error ? error.message : String(error),
    answerable: question.answerable,
    answer: '',
    abstained: false,
    exactMatch: 0,
    f1: 0,
    correct: false,
    hallucinated: false,
    retrieved: [],
    sources: [],
    totalMs,
    inputTokens: 0,
    outputTokens: 0,
  };
}

/** Binary-relevance nDCG@10: DCG of the gold documents' ranks over the ideal DCG. */
export function ndcgAt10(ranking: readonly string[], gold: readonly string[]): number {
  if (gold.length === 0) return 0;
  let dcg = 0;
  for (const [i, docId] of ranking.slice(0, 10).entries())
    if (gold.some((g) => matchesGold(docId, g))) dcg += 1 / Math.log2(i + 2);
  let ideal = 0;
  for (let i = 0; i < Math.min(10, gold.length); i++) ideal += 1 / Math.log2(i + 2);
  return dcg / ideal;
}

export type Estimate = { value: number; low: number; high: number; n: number };

const mean = (values: readonly number[], seed: number): Estimate => {
  if (values.length === 0) return { value: Number.NaN, low: Number.NaN, high: Number.NaN, n: 0 };
  const [low, high] = bootstrapMeanInterval(values, seed);
  return { value: values.reduce((a, b) => a + b, 0) / values.length, low, high, n: values.length };
};
const share = (successes: number, n: number): Estimate => {
  const [low, high] = wilsonInterval(successes, n);
  return { value: n === 0 ? Number.NaN : successes / n, low, high, n };
};

export type StrategySummary = {
  strategy: string;
  questions: number;
  failed: number;
  exactMatch: Estimate;
  f1: Estimate;
  /** F1 over answerable questions only. */
  answerableF1: Estimate;
  accuracy: Estimate;
  groundedness: Estimate;
  citationPrecision: Estimate;
  citationRecall: Estimate;
  abstentionPrecision: Estimate;
  abstentionRecall: Estimate;
  /** Abstentions on answerable questions. */
  overAbstention: Estimate;
  hallucinationRate: Estimate;
  /** Answered and wrong, supported or not: what a reader is shown that is not the gold answer. */
  answeredWrong: Estimate;
  recallAtK: Estimate;
  mrr: Estimate;
  ndcg10: Estimate;
  latencyMs: {
    firstTokenP50: number;
    firstTokenP95: number;
    totalP50: number;
    totalP95: number;
    totalMean: number;
  };
  tokens: { inputMean: number; outputMean: number };
  judge?: { accuracy: Estimate; agreement: Estimate };
};

/** Aggregates over the first pass (repeat 0); seeded, so the same outcomes give the same intervals. */
export function summarize(strategy: string, all: readonly QuestionOutcome[], seed = 1): StrategySummary {
  const rows = all.filter((o) => o.strategy === strategy && o.repeat === 0);
  const ok = rows.filter((o) => o.status === 'ok');
  const defined = (values: (number | undefined)[]) => values.filter((v): v is number => v !== undefined);
  const unanswerable = rows.filter((o) => !o.answerable);
  const abstained = rows.filter((o) => o.abstained);
  const withGold = rows.filter((o) => o.goldRank !== undefined);
  const judged = rows.filter((o) => o.judge);
  const times = ok.map((o) => o.totalMs);
  const firsts = defined(ok.map((o) => o.firstTokenMs));
  const avg = (values: number[]) => (values.length ? values.reduce((a, b) => a + b, 0) / values.length : 0);
  return {
    strategy,
    questions: rows.length,
    failed: rows.length - ok.length,
    exactMatch: mean(
      rows.map((o) => o.exactMatch),
      seed,
    ),
    f1: mean(
      rows.map((o) => o.f1),
      seed,
    ),
    answerableF1: mean(
      rows.filter((o) => o.answerable).map((o) => o.f1),
      seed,
    ),
    accuracy: share(rows.filter((o) => o.correct).length, rows.length),
    groundedness: mean(defined(rows.map((o) => o.groundedness)), seed),
    citationPrecision: mean(defined(rows.map((o) => o.citationPrecision)), seed),
    citationRecall: mean(defined(rows.map((o) => o.citationRecall)), seed),
    abstentionPrecision: share(abstained.filter((o) => !o.answerable).length, abstained.length),
    abstentionRecall: share(unanswerable.filter((o) => o.abstained).length, unanswerable.length),
    overAbstention: share(
      rows.filter((o) => o.answerable && o.abstained).length,
      rows.filter((o) => o.answerable).length,
    ),
    hallucinationRate: share(rows.filter((o) => o.hallucinated).length, rows.length),
    answeredWrong: share(
      rows.filter((o) => o.status === 'ok' && !o.abstained && !o.correct).length,
      rows.length,
    ),
    recallAtK: share(withGold.filter((o) => o.goldRank !== null).length, withGold.length),
    mrr: mean(
      withGold.map((o) => (o.goldRank ? 1 / o.goldRank : 0)),
      seed,
    ),
    ndcg10: mean(
      withGold.map((o) => o.ndcg10 ?? 0),
      seed,
    ),
    latencyMs: {
      firstTokenP50: percentile(firsts, 50),
      firstTokenP95: percentile(firsts, 95),
      totalP50: percentile(times, 50),
      totalP95: percentile(times, 95),
      totalMean: avg(times),
    },
    tokens: { inputMean: avg(ok.map((o) => o.inputTokens)), outputMean: avg(ok.map((o) => o.outputTokens)) },
    ...(judged.length
      ? {
          judge: {
            accuracy: share(judged.filter((o) => o.judge!.correct).length, judged.length),
            agreement: share(judged.filter((o) => o.judge!.agreesWithGold).length, judged.length),
          },
        }
      : {}),
  };
}

/** The per-question value a comparison pairs on. */
export const pairedMetrics = {
  f1: (o: QuestionOutcome) => o.f1,
  exactMatch: (o: QuestionOutcome) => o.exactMatch,
  correct: (o: QuestionOutcome) => (o.correct ? 1 : 0),
  hallucinated: (o: QuestionOutcome) => (o.hallucinated ? 1 : 0),
  totalMs: (o: QuestionOutcome) => o.totalMs,
} as const;
export type PairedMetric = keyof typeof pairedMetrics;
