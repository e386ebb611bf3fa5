import type { EmbeddingModel, RerankingModel } from '../models/model-spec.ts';
import { cosineSimilarity } from '../models/vector-math.ts';
import { claimTerms, sourceSentences } from './text-support.ts';

/** One sentence of a source, where it sits in the source's text, and how well it matches. */
export type ScoredSentence = {
  /** Index into the sources given. */
  source: number;
  text: string;
  /** Character offsets of the sentence in the source text: [start, end). */
  start: number;
  end: number;
  score: number;
};

export type SentenceScorer = {
  embedder: EmbeddingModel;
  /** A cross-encoder scores question-sentence pairs better than either measure below. */
  reranker?: RerankingModel | undefined;
};

/**
 * The sentences of the given sources ranked by how well they answer the question: the reranker's
 * score when one is configured, otherwise embedding cosine plus the share of the question's words
 * the sentence contains (each alone misses what the other catches). Used for the extractive mode
 * and for the closest passage shown with an abstention.
 */
export async function rankSentences(
  question: string,
  sources: readonly string[],
  scorer: SentenceScorer,
  abortSignal?: AbortSignal,
): Promise<ScoredSentence[]> {
  const candidates: Omit<ScoredSentence, 'score'>[] = [];
  sources.forEach((text, source) => {
    let from = 0;
    for (const sentence of sourceSentences(text)) {
      const probe = sentence.slice(0, 24);
      const at = text.indexOf(probe, from);
      const start = at >= 0 ? at : from;
      const end = Math.min(text.length, start + sentence.length);
      from = end;
      if (claimTerms(sentence).length > 0) candidates.push({ source, text: sentence, start, end });
    }
  });
  if (candidates.length === 0) return [];
  let scores: number[];
  if (scorer.reranker) {
    scores = await scorer.reranker.rerank(
      question,
      candidates.map((c) => c.text),
      abortSignal,
    );
  } else {
    const { embeddings } = await scorer.embedder.doEmbed({
      values: [question, ...candidates.map((c) => c.text)],
      ...(abortSignal ? { abortSignal } : {}),
    });
    const wanted = new Set(claimTerms(question));
    scores = candidates.map((c, i) => {
      const terms = new Set(claimTerms(c.text));
      const overlap = wanted.size ? [...wanted].filter((t) => terms.has(t)).length / wanted.size : 0;
      return cosineSimilarity(embeddings[0]!, embeddings[i + 1]!) + 0.5 * overlap;
    });
  }
  return candidates
    .map((c, i) => ({ ...c, score: scores[i]! }))
    .sort((a, b) => b.score - a.score || a.source - b.source || a.start - b.start);
}

/**
 * The evidence a model is shown: the best `count` ranked sentences, regrouped source by source in
 * the order they stand in each source (an empty string for a source none was chosen from).
 */
export function chosenEvidence(
  ranked: readonly ScoredSentence[],
  sourceCount: number,
  count: number,
): string[] {
  const chosen = ranked.slice(0, count);
  return Array.from({ length: sourceCount }, (_, i) =>
    chosen
      .filter((c) => c.source === i)
      .sort((a, b) => a.start - b.start)
      .map((c) => c.text)
      .join(' '),
  );
}

/** What the answerability verifier reads for a question: the chosen evidence as one text. */
export function verifierText(evidence: readonly string[]): string {
  return evidence.filter((t) => t).join(' ');
}
