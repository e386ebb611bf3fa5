import { z } from 'zod';
import { AttuneError } from '../models/model-error.ts';

export type Approach = 'base' | 'rag' | 'ft' | 'hybrid' | 'extractive';

/** One strategy as the eval measured it: quality, speed and the resources one answer takes. */
export type MeasuredStrategy = {
  approach: Approach;
  /** The eval's name for it, e.g. "rag-k5-rerank". */
  strategy: string;
  /** The model that answers, as named in the price table. */
  model: string;
  questions: number;
  /** Mean token F1 or judge correctness, 0..1. */
  accuracy: number;
  /** What `accuracy` is ("token F1", "judge correctness"); "accuracy" when absent. */
  accuracyMetric?: string;
  /** 95% interval of `accuracy`. */
  accuracyInterval?: [number, number];
  groundedness?: number;
  hallucinationRate?: number;
  abstentionRecall?: number;
  latencyP50Ms: number;
  latencyP95Ms: number;
  inputTokensPerQuestion: number;
  outputTokensPerQuestion: number;
  /** Machine time one answer takes, for pricing local models by the hour. */
  secondsPerQuestion: number;
  /** Share of answers reflecting an updated fact, from the freshness probe. */
  freshShare?: number;
};

/** Measured training cost per run. */
export type TrainingMeasurement = {
  secondsPerRun: number;
  /** A machine priced per hour in the price table. */
  hardware: string;
  /** Retraining runs per month; derived from how often the knowledge changes when absent. */
  runsPerMonth?: number;
};

export type EmbeddingMeasurement = {
  /** Tokens in the whole knowledge base: what a full re-index embeds. */
  tokensInKb: number;
  /** Machine time of a full re-index, for pricing a local embedding model by the hour. */
  secondsToEmbed?: number;
  /** The embedding model as named in the price table; else the table's embeddingPerMillion. */
  model?: string;
  /**
   * Share of the knowledge base re-embedded per update. Ingestion skips unchanged documents, so
   * this is usually well under 1; 1 (a full re-index per update) when absent, an upper bound.
   */
  changedSharePerUpdate?: number;
};

const unit = z.number().min(0).max(1);
const count = z.number().min(0).finite();

export const measuredStrategySchema = z
  .object({
    approach: z.enum(['base', 'rag', 'ft', 'hybrid', 'extractive']),
    strategy: z.string().min(1),
    model: z.string().min(1),
    questions: z.number().int().min(0),
    accuracy: unit,
    accuracyMetric: z.string().min(1).optional(),
    accuracyInterval: z.tuple([unit, unit]).optional(),
    groundedness: unit.optional(),
    hallucinationRate: unit.optional(),
    abstentionRecall: unit.optional(),
    latencyP50Ms: count,
    latencyP95Ms: count,
    inputTokensPerQuestion: count,
    outputTokensPerQuestion: count,
    secondsPerQuestion: count,
    freshShare: unit.optional(),
  })
  .strict();

const evalRunSchema = z.object({
  strategies: z.array(measuredStrategySchema),
  training: z
    .object({ secondsPerRun: count, hardware: z.string().min(1), runsPerMonth: count.optional() })
    .strict()
    .optional(),
  embedding: z
    .object({
      tokensInKb: count,
      secondsToEmbed: count.optional(),
      model: z.string().min(1).optional(),
      changedSharePerUpdate: unit.optional(),
    })
    .strict()
    .optional(),
  storageGb: count.optional(),
});

export type EvalRunMeasurements = {
  strategies: MeasuredStrategy[];
  training?: TrainingMeasurement;
  embedding?: EmbeddingMeasurement;
  storageGb?: number;
};

/** Reads an eval run's measurements; other keys in the report are left alone. */
export function parseEvalRun(json: unknown, source: string): EvalRunMeasurements {
  const parsed = evalRunSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new AttuneError(`${source}: ${issue.path.join('.') || '(root)'}: ${issue.message}.`, {
      hint: 'Pass the JSON report of attune eval; its "strategies" array holds one measured strategy each.',
    });
  }
  return parsed.data as EvalRunMeasurements;
}
