import type { Principal } from '../store/principal.ts';

/** One retrieved chunk as the answer saw it: enough to fetch the document as it was then. */
export type AuditEvidence = {
  /** The number the prompt gave it ([n]); absent when it was retrieved but left out of the prompt. */
  n?: number;
  chunkId: string;
  docId: string;
  source: string;
  title: string;
  /** Knowledge-base version of the chunk's text: `documentAt(docId, chunkVersion)` shows it. */
  chunkVersion: number;
  contentHash: string;
  rank: number;
  scores: { dense?: number; text?: number; fused: number; rerank?: number };
  /** Heading path and page, and the start of the text, as shown with the answer. */
  location?: string;
  snippet?: string;
  /** Why it was retrieved but not shown to the model. */
  excluded?: 'budget' | 'injection';
};

export type AuditCitation = { n: number; chunkId: string; docId: string; origin: 'model' | 'attributed' };

export type AuditSentence = {
  text: string;
  cited: number[];
  origin: 'model' | 'attributed' | 'none';
  lexicalSupport: number;
  semanticSupport: number;
  supported: boolean;
  /** Numbers or names in the sentence that its best source does not contain. */
  missing?: string[];
  judge?: boolean;
};

export type AuditTimings = {
  embedMs: number;
  searchMs: number;
  rerankMs: number;
  /**
   * The answerability verifier's pass over the evidence (ranking its sentences and scoring them),
   * when one is configured; absent in records written before it was timed.
   */
  verifyMs?: number;
  firstTokenMs: number | undefined;
  generateMs: number;
  totalMs: number;
};

/**
 * Everything that happened for one question. A failed request is recorded too (status `failed`,
 * with the error), never a half-written answer.
 */
export type AuditRecord = {
  id: string;
  /** ISO 8601. */
  time: string;
  status: 'answered' | 'abstained' | 'failed';
  principal: Principal;
  question: string;
  /** The knowledge-base version the evidence was read at; undefined for an empty knowledge base. */
  kbVersion: number | undefined;
  mode: 'rag' | 'fine-tuned' | 'hybrid' | 'extractive';
  model: { id: string; adapter?: { id: string; path: string } };
  parameters: { k: number; rerank: boolean; temperature: number; maxTokens: number; seed?: number };
  evidence: AuditEvidence[];
  prompt: { tokens: number; contextSize: number; reservedAnswerTokens: number };
  answer: string;
  citations: AuditCitation[];
  /** Citation numbers the model wrote that point at no supplied source; removed from the answer. */
  invalidCitations: number[];
  groundedness: { score: number; sentences: AuditSentence[]; judgeModel?: string };
  /** With an abstention: the closest passage and its best sentence, shown as "not an answer". */
  closest?: {
    n: number;
    docId: string;
    chunkId: string;
    title: string;
    passage: string;
    sentence: string;
    start: number;
    end: number;
  };
  retrievalConfidence: number | undefined;
  abstained: boolean;
  abstainReason?:
    | 'low-retrieval-confidence'
    | 'not-grounded'
    | 'model-declined'
    | 'no-evidence'
    | 'degenerate';
  timings: AuditTimings;
  usage: { inputTokens: number; outputTokens: number };
  /** Set when the answer came from the cache: the record that produced it. */
  cachedFrom?: string;
  cacheKey?: string;
  error?: { name: string; message: string };
  warnings: string[];
};
