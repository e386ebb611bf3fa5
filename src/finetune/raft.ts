import { AttuneError } from '../models/model-error.ts';
import type { Retriever } from '../retrieve/index.ts';
import { anonymous, type Principal } from '../store/index.ts';
import type { ChatExample } from './chat-example.ts';
import type { SourceChunk } from './dataset-chunks.ts';
import { shuffle } from './dataset-split.ts';
import {
  contentWords,
  generateQaDataset,
  type QaGenerationOptions,
  type QaGenerationResult,
} from './qa-generator.ts';

/**
 * RAFT (Retrieval-Augmented Fine-Tuning, Zhang et al. 2024): the model is trained to answer from a
 * set of retrieved documents of which only one, the oracle, holds the answer, and to ignore the
 * rest. One example:
 *
 * user:
 *   <DOCUMENT>{chunk text}</DOCUMENT>       × (k distractors + the oracle), in a seeded random order
 *   <DOCUMENT>{chunk text}</DOCUMENT>
 *   ...
 *   Question: {question}
 * assistant:
 *   Reasoning: The question asks: {question}
 *   The document that answers it says: ##begin_quote##{a sentence copied from the oracle}##end_quote##
 *   From this passage, the answer is {answer}.
 *   <ANSWER>: {answer}
 *
 * - Distractors are hard negatives: the Retriever's top chunks for the question, minus the oracle's
 *   whole document (falling back to minus the oracle chunk only when the knowledge base is too small).
 * - In `oracleShare` of the examples (default 0.8; exactly round(n × share), chosen by the seed) the
 *   oracle is among the documents; in the rest it is replaced by one more distractor, and the answer is
 *   the same: as in the paper, this teaches the model the domain itself instead of only copying
 *   from context. The quote then comes from the (absent) oracle, recorded in meta.
 * - The quote is the oracle sentence with the most answer words (ties: question words), always an
 *   exact substring of the oracle, so the reasoning never cites text that is not there.
 */
export type RaftItem = { question: string; answer: string; oracle: SourceChunk };

export type RaftOptions = {
  retriever: Retriever;
  /** Whose documents may serve as distractors. Default anonymous (public only), as for generation. */
  principal?: Principal;
  /** Distractor documents per example. Default 4. */
  distractors?: number;
  /** Share of examples whose documents include the oracle. Default 0.8. */
  oracleShare?: number;
  seed?: number;
  /** Exclude every chunk of the oracle's document from the distractors (default), not only the oracle. */
  excludeOracleDocument?: boolean;
  system?: string;
  onProgress?: (progress: { done: number; total: number }) => void;
  abortSignal?: AbortSignal;
};

export type RaftResult = {
  examples: ChatExample[];
  /** Examples whose distractors had to include chunks of the oracle's own document, or were fewer than asked. */
  warnings: string[];
};

export const BEGIN_QUOTE = '##begin_quote##';
export const END_QUOTE = '##end_quote##';
export const ANSWER_PREFIX = '<ANSWER>:';

/** Builds RAFT examples from questions with known answers and oracle chunks. */
export async function buildRaftExamples(items: RaftItem[], options: RaftOptions): Promise<RaftResult> {
  const k = options.distractors ?? 4;
  const share = options.oracleShare ?? 0.8;
  if (!(share >= 0 && share <= 1)) throw new AttuneError(`oracleShare must be in [0, 1]; got ${share}.`);
  if (!Number.isInteger(k) || k < 1)
    throw new AttuneError(`distractors must be a positive integer; got ${k}.`);
  const seed = options.seed ?? 0;
  const principal = options.principal ?? anonymous;
  const excludeDocument = options.excludeOracleDocument ?? true;
  // Exactly round(n × share) examples get the oracle, which ones decided by the seed.
  const withOracle = new Set(shuffle([...items.keys()], seed).slice(0, Math.round(items.length * share)));
  const examples: ChatExample[] = [];
  const warnings: string[] = [];
  for (const [i, item] of items.entries()) {
    options.abortSignal?.throwIfAborted();
    const present = withOracle.has(i);
    const wanted = present ? k : k + 1;
    const { evidence } = await options.retriever.retrieve(item.question, {
      principal,
      k: wanted + 8,
      candidates: Math.max(4 * (wanted + 8), 40),
      rerank: false,
      ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}),
    });
    const notOracle = evidence.filter((e) => e.chunk.id !== item.oracle.chunk.id);
    let distractors = excludeDocument
      ? notOracle.filter((e) => e.document.id !== item.oracle.document.id)
      : notOracle;
    let fallback = false;
    if (distractors.length < wanted && excludeDocument) {
      // A small knowledge base: top up with other chunks of the oracle's document, never the oracle.
      fallback = true;
      distractors = [...distractors, ...notOracle.filter((e) => !distractors.includes(e))];
    }
    distractors = distractors.slice(0, wanted);
    if (fallback)
      warnings.push(`"${item.question}": distractors include chunks of the oracle's own document`);
    if (distractors.length < wanted) {
      warnings.push(`"${item.question}": only ${distractors.length} distractors found, ${wanted} wanted`);
    }
    const documents = shuffle(
      [
        ...(present
          ? [{ id: item.oracle.chunk.id, docId: item.oracle.document.id, text: item.oracle.chunk.text }]
          : []),
        ...distractors.map((e) => ({ id: e.chunk.id, docId: e.document.id, text: e.chunk.text })),
      ],
      seed * 1_000_003 + i,
    );
    const { text: answer, quote } = raftAnswer(item.question, item.answer, item.oracle.chunk.text);
    examples.push({
      messages: [
        ...(options.system ? [{ role: 'system' as const, content: options.system }] : []),
        {
          role: 'user',
          content: raftPrompt(
            item.question,
            documents.map((d) => d.text),
          ),
        },
        { role: 'assistant', content: answer },
      ],
      meta: {
        generator: 'raft',
        question: item.question,
        answer: item.answer,
        oraclePresent: present,
        oracleChunkId: item.oracle.chunk.id,
        oracleDocId: item.oracle.document.id,
        distractorChunkIds: distractors.map((e) => e.chunk.id),
        distractorDocIds: distractors.map((e) => e.document.id),
        /** Chunk ids in the order the documents appear in the prompt. */
        documentOrder: documents.map((d) => d.id),
        chunkIds: [item.oracle.chunk.id, ...distractors.map((e) => e.chunk.id)],
        docIds: [...new Set([item.oracle.document.id, ...distractors.map((e) => e.document.id)])],
        kbVersion: item.oracle.chunk.version,
        quote,
        ...(fallback ? { distractorFallback: 'same-document' } : {}),
      },
    });
    options.onProgress?.({ done: i + 1, total: items.length });
  }
  return { examples, warnings };
}

/** The user turn: each document in <DOCUMENT> tags, then the question. */
export function raftPrompt(question: string, documents: string[]): string {
  return `${documents.map((d) => `<DOCUMENT>${d}</DOCUMENT>`).join('\n')}\nQuestion: ${question}`;
}

/** The assistant turn: reasoning that quotes the oracle, then `<ANSWER>: ...`. */
export function raftAnswer(
  question: string,
  answer: string,
  oracle: string,
): { text: string; quote: string } {
  const quote = bestQuote(question, answer, oracle);
  const text = [
    `Reasoning: The question asks: ${question}`,
    `The document that answers it says: ${BEGIN_QUOTE}${quote}${END_QUOTE}`,
    `From this passage, the answer is ${answer.replace(/[.\s]+$/, '')}.`,
    `${ANSWER_PREFIX} ${answer}`,
  ].join('\n');
  return { text, quote };
}

/** The oracle sentence that best supports the answer: an exact substring of the oracle. */
export function bestQuote(question: string, answer: string, oracle: string): string {
  const answerWords = new Set(contentWords(answer));
  const questionWords = new Set(contentWords(question));
  const needle = answer.trim().toLowerCase();
  let best = { score: -1, text: oracle.trim() };
  for (const m of oracle.matchAll(/[^.!?\n]+(?:[.!?]+["'”’)\]]*|$)/g)) {
    const sentence = m[0].trim();
    if (sentence === '') continue;
    const ws = contentWords(sentence);
    const score =
      (needle !== '' && sentence.toLowerCase().includes(needle) ? 1000 : 0) +
      10 * ws.filter((w) => answerWords.has(w)).length +
      new Set(ws.filter((w) => questionWords.has(w))).size;
    if (score > best.score) best = { score, text: sentence };
  }
  return best.text;
}

export type RaftGenerationOptions = QaGenerationOptions &
  Omit<RaftOptions, 'onProgress' | 'system'> & {
    onRaftProgress?: RaftOptions['onProgress'];
  };

/**
 * The whole pipeline from a knowledge base: grounded question/answer pairs from sampled chunks
 * (generateQaDataset), each turned into a RAFT example with its chunk as the oracle.
 */
export async function generateRaftDataset(
  options: RaftGenerationOptions,
): Promise<RaftResult & { qa: QaGenerationResult }> {
  const qa = await generateQaDataset(options);
  const items: RaftItem[] = qa.pairs.map((p) => ({
    question: p.question,
    answer: p.answer,
    oracle: p.source,
  }));
  const { onProgress: _qaProgress, onRaftProgress, ...rest } = options;
  const raft = await buildRaftExamples(items, {
    ...rest,
    ...(onRaftProgress ? { onProgress: onRaftProgress } : {}),
  });
  for (const [i, e] of raft.examples.entries()) {
    e.meta = { ...e.meta, generatorModel: options.model.modelId, support: qa.examples[i]?.meta?.support };
  }
  return { ...raft, qa };
}
