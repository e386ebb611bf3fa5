import { readFileSync } from 'node:fs';
import type { RerankingModel } from '../models/model-spec.ts';
import type { Evidence } from '../retrieve/retriever.ts';
import { lexicalSupport } from './text-support.ts';

/** What the retrieval step says about whether the knowledge base holds the answer. */
export type RetrievalFeatures = {
  /** Best cosine similarity between question and evidence (dense stage). */
  dense: number;
  /** Best share of the question's content words found in one of the top three chunks. */
  coverage: number;
};

/**
 * A logistic model over RetrievalFeatures, fitted by bench/calibrate-abstention.ts on
 * squad2-dev (half of its questions have no answer in their paragraph). Below `threshold` the
 * answerer abstains without generating.
 */
export type AbstentionCalibration = {
  weights: { bias: number; dense: number; coverage: number };
  threshold: number;
  /** How it was fitted, and what it scored on held-out questions. */
  provenance: Record<string, unknown>;
  /**
   * The threshold fitted for a verifier model on the same questions (bench/answers.ts --calibrate):
   * when that model gates (AnswererOptions.verifier), these features are not used.
   */
  verifier?: { model: string; threshold: number; provenance: Record<string, unknown> };
};

/** The verifier threshold: the configured one, else the one fitted for that model, else 0.5. */
export function verifierThreshold(
  model: string,
  calibration: AbstentionCalibration,
  configured?: number,
): number {
  if (configured !== undefined) return configured;
  return calibration.verifier?.model === model ? calibration.verifier.threshold : 0.5;
}

export function retrievalFeatures(question: string, evidence: readonly Evidence[]): RetrievalFeatures {
  const dense = Math.max(0, ...evidence.map((e) => e.stages.dense?.score ?? 0));
  const coverage = Math.max(0, ...evidence.slice(0, 3).map((e) => lexicalSupport(question, e.chunk.text)));
  return { dense, coverage };
}

export function retrievalConfidence(features: RetrievalFeatures, calibration: AbstentionCalibration): number {
  const { bias, dense, coverage } = calibration.weights;
  return 1 / (1 + Math.exp(-(bias + dense * features.dense + coverage * features.coverage)));
}

export function defaultCalibration(): AbstentionCalibration {
  return JSON.parse(
    readFileSync(new URL('./abstention-calibration.json', import.meta.url), 'utf8'),
  ) as AbstentionCalibration;
}

/**
 * The verifier's confidence that the evidence answers the question: its best score over the
 * evidence as one text and over each source's sentences alone. Alone, one source that answers is
 * not drowned by the others (on a two-file knowledge base, "How soon do orders ship?" scored 0.41
 * against the shipping sentence and below the threshold with the refund sentences beside it).
 */
export async function verifierScore(
  model: RerankingModel,
  question: string,
  evidence: readonly string[],
  abortSignal?: AbortSignal,
): Promise<number> {
  const pieces = evidence.filter((t) => t);
  if (pieces.length === 0) return 0;
  const texts = pieces.length > 1 ? [pieces.join(' '), ...pieces] : pieces;
  return Math.max(0, ...(await model.rerank(question, texts, abortSignal)));
}
