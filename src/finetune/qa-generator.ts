import { generateObject, NoObjectGeneratedError } from '../models/generate.ts';
import type { ChatModel, JsonSchema } from '../models/model-spec.ts';
import type { KnowledgeStore } from '../store/index.ts';
import type { ChatExample } from './chat-example.ts';
import { type SampleChunksOptions, type SourceChunk, sampleChunks } from './dataset-chunks.ts';

export type QaPair = { question: string; answer: string };

export type QaDropReason =
  /** Too few of the answer's words occur in the chunk (see groundingSupport). */
  | 'ungrounded'
  /** The answer has no content words, or the question is not a question. */
  | 'malformed'
  /** The answer only repeats words of the question. */
  | 'trivial'
  /** The same question was already kept. */
  | 'duplicate'
  /** The model's output could not be read as pairs. */
  | 'generation-failed';

export const qaDropReasons: readonly QaDropReason[] = [
  'ungrounded',
  'malformed',
  'trivial',
  'duplicate',
  'generation-failed',
];

export type QaJudgement =
  | { keep: true; support: number }
  | { keep: false; reason: QaDropReason; support: number };

/** A kept pair with the chunk it came from. */
export type GroundedPair = QaPair & { source: SourceChunk; support: number };

export type QaDrop = Partial<QaPair> & {
  reason: QaDropReason;
  chunkId: string;
  support?: number;
  detail?: string;
};

export type QaProgress = { chunks: number; kept: number; dropped: number; target: number };

export type QaGenerationOptions = SampleChunksOptions & {
  /** The generator; any ChatModel that supports JSON-schema constrained output. */
  model: ChatModel;
  store: KnowledgeStore;
  /** Generate from these chunks, in this order, instead of a seeded sample of the whole store. */
  chunks?: Iterable<SourceChunk> | AsyncIterable<SourceChunk>;
  /** Pairs wanted. Generation stops when this many are kept or the chunks run out. */
  count: number;
  /** Pairs asked for per chunk. Default 2. */
  pairsPerChunk?: number;
  /** At most this many chunks (model calls) are tried. Default 3 × count / pairsPerChunk, at least 3. */
  maxChunks?: number;
  /** Minimum share of the answer's content words found in the chunk. Default 0.8. */
  groundingThreshold?: number;
  /** A system turn for every example. */
  system?: string;
  temperature?: number;
  onProgress?: (progress: QaProgress) => void;
  abortSignal?: AbortSignal;
};

export type QaGenerationResult = {
  examples: ChatExample[];
  pairs: GroundedPair[];
  /** Pairs the model proposed (failed generations count none). */
  generated: number;
  kept: number;
  dropped: QaDrop[];
  droppedByReason: Record<QaDropReason, number>;
  chunksUsed: number;
};

const pairSchema = (n: number): JsonSchema => ({
  type: 'object',
  properties: {
    pairs: {
      type: 'array',
      minItems: 1,
      maxItems: n,
      items: {
        type: 'object',
        properties: {
          question: { type: 'string', minLength: 8, maxLength: 160 },
          answer: { type: 'string', minLength: 1, maxLength: 60 },
        },
        required: ['question', 'answer'],
        additionalProperties: false,
      },
    },
  },
  required: ['pairs'],
  additionalProperties: false,
});

const SYSTEM =
  'You write quiz questions about a text. Each question can be answered from the text alone, and each answer is a short phrase copied from the text.';

// One worked example: small models copy the shape of a demonstration far better than they follow
// a description of it. With it and "1 to 5 words copied exactly", SmolLM2-135M's answers went from
// sentences of its own to short spans (4 squad2-dev paragraphs: 4 of 6 pairs grounded, from 0 of 3).
const EXAMPLE_TEXT =
  "The Eiffel Tower is a wrought-iron lattice tower in Paris, France. It was designed by Gustave Eiffel's company and completed in 1889 as the entrance to the World's Fair.";
const EXAMPLE_PAIRS = [
  { question: 'In which city is the Eiffel Tower?', answer: 'Paris' },
  { question: 'When was the Eiffel Tower completed?', answer: '1889' },
  { question: 'What is the Eiffel Tower made of?', answer: 'wrought iron' },
];

const instruction = (text: string, n: number) =>
  `Text:\n${text}\n\nWrite ${n} different questions about this text. Each answer is 1 to 5 words copied exactly from the text.`;

/** One model call: up to `pairs` question/answer pairs about a chunk, as JSON constrained by a schema. */
export async function generateQaPairs(
  model: ChatModel,
  text: string,
  options: { pairs?: number; temperature?: number; seed?: number; abortSignal?: AbortSignal } = {},
): Promise<QaPair[]> {
  const n = options.pairs ?? 2;
  const { object } = await generateObject<{ pairs: QaPair[] }>({
    model,
    system: SYSTEM,
    messages: [
      { role: 'user', content: instruction(EXAMPLE_TEXT, n) },
      { role: 'assistant', content: JSON.stringify({ pairs: EXAMPLE_PAIRS.slice(0, n) }) },
      { role: 'user', content: instruction(text, n) },
    ],
    schema: pairSchema(n),
    maxTokens: Math.min(60 * n + 40, Math.floor(model.contextSize / 2)),
    temperature: options.temperature ?? 0.2,
    ...(options.seed !== undefined ? { seed: options.seed } : {}),
    ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}),
  });
  return object.pairs.map((p) => ({ question: p.question.trim(), answer: p.answer.trim() }));
}

/**
 * Generates grounded question/answer pairs from knowledge-base chunks. For each sampled chunk the
 * model proposes pairs; a pair is kept only if `judgePair` finds its answer in the chunk. Examples
 * are `user: question` → `assistant: answer`, with the chunk and document ids in meta.
 */
export async function generateQaDataset(options: QaGenerationOptions): Promise<QaGenerationResult> {
  const perChunk = options.pairsPerChunk ?? 2;
  const maxChunks = options.maxChunks ?? Math.max(3, Math.ceil((3 * options.count) / perChunk));
  const threshold = options.groundingThreshold ?? 0.8;
  const pairs: GroundedPair[] = [];
  const dropped: QaDrop[] = [];
  const questions = new Set<string>();
  let generated = 0;
  let chunksUsed = 0;
  const report = () =>
    options.onProgress?.({
      chunks: chunksUsed,
      kept: pairs.length,
      dropped: dropped.length,
      target: options.count,
    });
  for await (const source of options.chunks ?? sampleChunks(options.store, options)) {
    if (pairs.length >= options.count || chunksUsed >= maxChunks) break;
    options.abortSignal?.throwIfAborted();
    chunksUsed++;
    let proposed: QaPair[];
    try {
      proposed = await generateQaPairs(options.model, source.chunk.text, {
        pairs: perChunk,
        seed: (options.seed ?? 0) + chunksUsed,
        ...(options.temperature !== undefined ? { temperature: options.temperature } : {}),
        ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}),
      });
    } catch (error) {
      // Only unreadable output is a dropped chunk; anything else (a dead model, an abort) stops the run.
      if (!(error instanceof NoObjectGeneratedError)) throw error;
      dropped.push({
        reason: 'generation-failed',
        chunkId: source.chunk.id,
        detail: (error as Error).message,
      });
      report();
      continue;
    }
    generated += proposed.length;
    for (const pair of proposed) {
      const judgement = judgePair(pair, source.chunk.text, threshold);
      const key = normalizeQuestion(pair.question);
      if (judgement.keep && questions.has(key)) {
        dropped.push({ ...pair, reason: 'duplicate', chunkId: source.chunk.id, support: judgement.support });
      } else if (judgement.keep && pairs.length < options.count) {
        questions.add(key);
        pairs.push({ ...pair, source, support: judgement.support });
      } else if (!judgement.keep) {
        dropped.push({
          ...pair,
          reason: judgement.reason,
          chunkId: source.chunk.id,
          support: judgement.support,
        });
      }
    }
    report();
  }
  const droppedByReason = Object.fromEntries(qaDropReasons.map((r) => [r, 0])) as Record<
    QaDropReason,
    number
  >;
  for (const d of dropped) droppedByReason[d.reason]++;
  return {
    examples: pairs.map((p) => qaExample(p, options.system, options.model.modelId)),
    pairs,
    generated,
    kept: pairs.length,
    dropped,
    droppedByReason,
    chunksUsed,
  };
}

function qaExample(pair: GroundedPair, system: string | undefined, modelId: string): ChatExample {
  return {
    messages: [
      ...(system ? [{ role: 'system' as const, content: system }] : []),
      { role: 'user', content: pair.question },
      { role: 'assistant', content: pair.answer },
    ],
    meta: {
      generator: 'qa',
      generatorModel: modelId,
      chunkIds: [pair.source.chunk.id],
      docIds: [pair.source.document.id],
      kbVersion: pair.source.chunk.version,
      support: Math.round(pair.support * 1000) / 1000,
    },
  };
}

/**
 * The grounding rule. Words are lower-cased, accents stripped, split on anything that is not a
 * letter or digit; stop words ("the", "of", "is", ...) are ignored. A pair is kept when:
 * - the question has at least 3 words and ends with "?", and the answer has a content word
 *   (else `malformed`);
 * - at least `threshold` of the answer's distinct content words occur in the chunk (else
 *   `ungrounded`): support = |answer words ∩ chunk words| / |answer words|;
 * - some answer content word is not in the question (else `trivial`: it restates the question).
 * It is lexical: a correct paraphrase ("tenth century" for "10th century") counts as unsupported,
 * and a wrong answer assembled from words of the chunk counts as supported.
 */
export function judgePair(pair: QaPair, chunk: string, threshold = 0.8): QaJudgement {
  const answerWords = new Set(contentWords(pair.answer));
  const questionWords = contentWords(pair.question);
  if (answerWords.size === 0 || words(pair.question).length < 3 || !pair.question.trim().endsWith('?')) {
    return { keep: false, reason: 'malformed', support: 0 };
  }
  const support = groundingSupport(pair.answer, chunk);
  if (support < threshold) return { keep: false, reason: 'ungrounded', support };
  const asked = new Set(questionWords);
  if ([...answerWords].every((w) => asked.has(w))) return { keep: false, reason: 'trivial', support };
  return { keep: true, support };
}

/** Share of the answer's distinct content words that occur in the chunk, in [0, 1]. */
export function groundingSupport(answer: string, chunk: string): number {
  const answerWords = new Set(contentWords(answer));
  if (answerWords.size === 0) return 0;
  const chunkWords = new Set(words(chunk));
  let found = 0;
  for (const w of answerWords) if (chunkWords.has(w)) found++;
  return found / answerWords.size;
}

const stopWords = new Set(
  `a an the of in on at to for from by with and or but is are was were be been being it its this that these
those as into than then there their they he she his her him we our you your i me my not no do does did has have
had which who whom whose what when where why how`.split(/\s+/),
);

export function words(text: string): string[] {
  return (
    text
      .normalize('NFKD')
      .replace(/\p{M}/gu, '')
      .toLowerCase()
      .match(/[\p{L}\p{N}]+/gu) ?? []
  );
}

export function contentWords(text: string): string[] {
  return words(text).filter((w) => !stopWords.has(w));
}

function normalizeQuestion(question: string): string {
  return words(question).join(' ');
}
