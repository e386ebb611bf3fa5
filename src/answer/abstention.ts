import { readFileSync } from 'node:fs';
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
};

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
