import { randomUUID } from 'node:crypto';
import { type AuditEvidence, type AuditLog, type AuditRecord, AuditWriteError } from '../audit/index.ts';
import { AttuneError } from '../models/model-error.ts';
import type {
  ChatMessage,
  ChatModel,
  EmbeddingModel,
  RerankingModel,
  Tokenizer,
} from '../models/model-spec.ts';
import type { Evidence, Retriever } from '../retrieve/retriever.ts';
import type { KnowledgeStore, MetadataFilter } from '../store/index.ts';
import { checkPrincipal, type Principal } from '../store/principal.ts';
import {
  type AbstentionCalibration,
  defaultCalibration,
  retrievalConfidence,
  retrievalFeatures,
  verifierScore,
} from './abstention.ts';
import { answerCacheKey, LruCache } from './answer-cache.ts';
import {
  type AnswerPrompt,
  buildAnswerPrompt,
  NOT_IN_KNOWLEDGE_BASE,
  type PromptSource,
  systemPromptFor,
} from './answer-prompt.ts';
import { moveLeadingAttributions, parseCitations, stripCitations } from './citations.ts';
import { degenerateDraft } from './degenerate.ts';
import { type GroundednessResult, scoreGroundedness } from './groundedness.ts';
import { chosenEvidence, rankSentences, type ScoredSentence, verifierText } from './passage.ts';
import { hasSubstance, neutralizeInstructions } from './prompt-injection.ts';
import { splitSentences } from './text-support.ts';

export type AskOptions = {
  principal: Principal;
  /** Evidence retrieved. Default 5. */
  k?: number;
  /** Use the retriever's reranker when it has one. Default true. */
  rerank?: boolean;
  filter?: MetadataFilter;
  /** false: the model alone (a fine-tuned adapter answering from what it learned). Default true. */
  retrieval?: boolean;
  /** A LoRA adapter on the chat model: fine-tuned alone, or the hybrid with retrieval on. */
  adapter?: { id: string; path: string };
  /** Tokens reserved for, and the limit of, the answer. Default 128. */
  maxTokens?: number;
  temperature?: number;
  seed?: number;
  /** Also ask the judge model (when configured) whether each sentence is supported. */
  judge?: boolean;
  /**
   * `generate` (default): the chat model answers from the sources. `extractive`: the best
   * supporting sentence of the sources, chosen by the reranker (or embeddings), no generation:
   * fast, grounded by construction, and the baseline an evaluation compares generation with.
   */
  mode?: 'generate' | 'extractive';
  /** Reuse an answer for the same question, ACL set, version, model and adapter. Default true. */
  cache?: boolean;
  abortSignal?: AbortSignal;
};

export type AnswerSource = {
  /** The number the prompt gave it; citations use it. */
  n: number;
  docId: string;
  chunkId: string;
  title: string;
  /** Path or URL the document was ingested from. */
  source: string;
  /** Heading path and page, where known. */
  location: string;
  snippet: string;
  /** The whole passage, as the model read it. */
  text: string;
  /** Knowledge-base version of this chunk's text. */
  version: number;
  score: number;
};

export type AnswerCitation = {
  n: number;
  docId: string;
  chunkId: string;
  title: string;
  source: string;
  /** `model`: the model wrote [n]; `attributed`: its sentence cited nothing and this source supports it best. */
  origin: 'model' | 'attributed';
};

/** When Attune withholds: the passage closest to the question, its best sentence marked. Not an answer. */
export type ClosestPassage = NonNullable<AuditRecord['closest']>;

export type AnswerResult = {
  auditId: string;
  question: string;
  answer: string;
  abstained: boolean;
  abstainReason?: AuditRecord['abstainReason'];
  /** The sources shown to the model; when abstaining, the closest ones found. */
  sources: AnswerSource[];
  citations: AnswerCitation[];
  /** Set when abstaining with evidence at hand: what came closest, clearly not an answer. */
  closest?: ClosestPassage;
  invalidCitations: number[];
  groundedness: GroundednessResult;
  retrievalConfidence: number | undefined;
  kbVersion: number | undefined;
  mode: AuditRecord['mode'];
  cached: boolean;
  timings: AuditRecord['timings'];
  usage: AuditRecord['usage'];
  warnings: string[];
};

export type AnswerPart =
  | { type: 'sources'; sources: AnswerSource[] }
  | { type: 'text-delta'; delta: string }
  | { type: 'done'; result: AnswerResult };

export type AnswererOptions = {
  chat: ChatModel;
  /** The chat model's own tokenizer: the prompt is sized with it. */
  tokenizer: Tokenizer;
  embedder: EmbeddingModel;
  retriever: Retriever;
  store: KnowledgeStore;
  audit?: AuditLog;
  calibration?: AbstentionCalibration;
  /**
   * A cross-encoder that reads the question and the evidence sentences the model would be shown,
   * and scores whether they answer it (attune-verifier-minilm-l6-squad2). When set, it is the
   * gate before generation in place of `calibration`'s retrieval features: below `threshold` the
   * answerer abstains without generating.
   */
  verifier?: { model: RerankingModel; threshold: number };
  /** Answers whose share of supported sentences is below this abstain. Default 0.5. */
  minGroundedness?: number;
  judge?: ChatModel;
  /** Instructions for the chat model; default: the prompt measured best for its family (answer-prompt.ts). */
  systemPrompt?: string;
  /**
   * Evidence given to the model as its best-matching sentences rather than whole chunks: at most
   * this many, across the retrieved chunks (0: whole chunks). Default 4. Small models answer a short
   * prompt better, and prompt processing is most of the time to the first token on a CPU: with 4
   * sentences the gold answer is in the prompt for 95% of answerable squad2-dev questions,
   * against 99% for 5 whole chunks, at a fifth of the tokens (bench/results/evidence-sentences.json).
   */
  evidenceSentences?: number;
  /** Withhold answers from sources that lack the question's numbers or most of its names. Default true. */
  checkPremise?: boolean;
  /** In-process answer cache entries (the audit log is the persistent cache). Default 500. */
  cacheSize?: number;
  /**
   * Take instructions to the model out of evidence before any prompt (`neutralizeInstructions`).
   * Default true; false only to measure what it prevents (bench/injection.ts --no-filter).
   */
  instructionFilter?: boolean;
};

export class QuestionError extends AttuneError {
  constructor(message: string, hint: string) {
    super(message, { hint });
    this.name = 'QuestionError';
  }
}

/** Passages retrieved beyond k, used only in place of ones the injection filter leaves out. */
const SPARE_EVIDENCE = 2;

const DECLINED =
  /\b(knowledge base|sources?|context|passage)\b[^.]{0,30}\b(does not|doesn't|do not|don't)\b[^.]{0,20}\b(say|mention|contain|answer|provide)/i;

/**
 * The RAG answer path: retrieve what the principal may read, answer only from it with numbered
 * citations, check each sentence against its sources, abstain when the evidence is weak or the
 * answer is unsupported, and record everything in the audit log.
 */
export class Answerer {
  readonly #o: AnswererOptions;
  readonly #calibration: AbstentionCalibration;
  readonly #cache: LruCache<AnswerResult>;

  constructor(options: AnswererOptions) {
    this.#o = options;
    this.#calibration = options.calibration ?? defaultCalibration();
    this.#cache = new LruCache(options.cacheSize ?? 500);
  }

  async answer(question: string, options: AskOptions): Promise<AnswerResult> {
    let result: AnswerResult | undefined;
    for await (const part of this.stream(question, options)) if (part.type === 'done') result = part.result;
    return result!;
  }

  async *stream(question: string, options: AskOptions): AsyncIterable<AnswerPart> {
    const started = performance.now();
    // Before anything is recorded under it: a malformed principal is refused, not audited as one.
    checkPrincipal(options.principal);
    const record = this.#newRecord(question, options);
    // Fail closed: nothing is shown, not even a streamed draft, unless its record can be written.
    await this.#o.audit?.assertWritable();
    try {
      yield* this.#run(question, options, record, started);
    } catch (error) {
      // The log that just refused the answer's record is not asked again for the failure's.
      if (error instanceof AuditWriteError) throw error;
      record.status = 'failed';
      record.error = { name: (error as Error).name, message: (error as Error).message };
      record.timings.totalMs = performance.now() - started;
      await this.#append(record);
      throw error;
    }
  }

  /** `withoutInstructions`, unless the filter is turned off to measure it. */
  #withoutInstructions(e: Evidence): Evidence | undefined {
    return this.#o.instructionFilter === false ? e : withoutInstructions(e);
  }

  /** Every record goes through here: a failed write is an AuditWriteError, never a raw store error. */
  async #append(record: AuditRecord): Promise<void> {
    try {
      await this.#o.audit?.append(record);
    } catch (error) {
      throw new AuditWriteError(error);
    }
  }

  async *#run(
    rawQuestion: string,
    options: AskOptions,
    record: AuditRecord,
    started: number,
  ): AsyncGenerator<AnswerPart> {
    const question = this.#checkQuestion(rawQuestion, record);
    const retrieval = options.retrieval !== false;
    const current = await this.#o.store.currentVersion();
    const kbVersion = current?.number;
    record.kbVersion = kbVersion;
    if (retrieval && kbVersion === undefined) {
      throw new AttuneError('The knowledge base is empty: there is nothing to answer from.', {
        hint: 'Add documents first: attune sync <folder|file|url>',
      });
    }

    const cacheKey = answerCacheKey({
      question,
      principal: options.principal,
      kbVersion,
      modelId: this.#o.chat.modelId,
      adapterId: options.adapter?.id,
      settings: {
        mode: record.mode,
        k: record.parameters.k,
        rerank: record.parameters.rerank,
        filter: options.filter ?? null,
        maxTokens: record.parameters.maxTokens,
        temperature: record.parameters.temperature,
        seed: record.parameters.seed ?? null,
        judge: Boolean(options.judge && this.#o.judge),
        verifier: this.#o.verifier ? [this.#o.verifier.model.modelId, this.#o.verifier.threshold] : null,
        ...(this.#o.instructionFilter === false ? { instructionFilter: false } : {}),
        // A version not recorded yet (its writer running or killed) keeps its number while more
        // of it goes live; its time changes with every write, so the key does too.
        kbState: current?.createdAt ?? null,
      },
    });
    record.cacheKey = cacheKey;
    if (options.cache !== false) {
      const found = this.#cache.get(cacheKey) ?? (await this.#fromAuditLog(cacheKey));
      // The key holds the recorded version, but what a reader may see can change without one (a
      // write that crashed before its version was recorded): a hit is served only while every
      // passage it shows is still there, unchanged, for this principal.
      const texts = found ? await this.#stillReadable(found, options.principal) : undefined;
      const hit = texts && found;
      if (hit) {
        const result: AnswerResult = {
          ...hit,
          // A hit from the audit log holds snippets only: the passages come from the store.
          sources: hit.sources.map((s) => ({ ...s, text: texts.get(s.chunkId) ?? s.text })),
          cached: true,
          auditId: record.id,
          question: rawQuestion,
        };
        Object.assign(record, this.#recordFields(result), {
          status: result.abstained ? 'abstained' : 'answered',
          cachedFrom: hit.auditId,
          timings: { ...zeroTimings(), totalMs: performance.now() - started },
        });
        await this.#append(record);
        yield { type: 'sources', sources: result.sources };
        yield { type: 'text-delta', delta: result.answer };
        yield { type: 'done', result };
        return;
      }
    }

    // 1. Evidence the principal may read.
    let evidence: Evidence[] = [];
    if (retrieval) {
      const retrieved = await this.#o.retriever.retrieve(question, {
        principal: options.principal,
        // Spares stand in for evidence the injection filter leaves out, so a planted document
        // cannot push the real answer out of the k passages the model sees.
        k: record.parameters.k + SPARE_EVIDENCE,
        rerank: record.parameters.rerank,
        ...(options.filter ? { filter: options.filter } : {}),
        ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}),
      });
      evidence = retrieved.evidence;
      record.timings.embedMs = retrieved.timings.embedMs;
      record.timings.searchMs = retrieved.timings.searchMs;
      record.timings.rerankMs = retrieved.timings.rerankMs;
    }
    record.evidence = evidence.map(auditEvidence);
    const usable: Evidence[] = [];
    const seen = evidence.map((e, i) => {
      const clean = this.#withoutInstructions(e);
      if (clean === undefined) {
        record.evidence[i]!.excluded = 'injection';
        record.warnings.push(
          `Left out ${e.chunk.id}: it reads like instructions to the model (prompt injection).`,
        );
        return true;
      }
      if (usable.length >= record.parameters.k) return false;
      if (clean !== e) {
        evidence[i] = clean;
        record.warnings.push(
          `Took instructions to the model out of ${e.chunk.id} (prompt injection); its other sentences were used.`,
        );
      }
      usable.push(clean);
      return true;
    });
    // Spares that were not needed are not part of what this answer saw.
    record.evidence = record.evidence.filter((_e, i) => seen[i]);
    evidence = evidence.filter((_e, i) => seen[i]);

    // 2. Is the answer likely to be there at all?
    let closest: AnswerSource[] = [];
    const near = usable.slice(0, 3);
    // The evidence sentences ranked for the prompt, once; an abstention after generation finds the
    // closest passage among them instead of embedding the same sentences again.
    let ranked: ScoredSentence[] | undefined;
    const abstain = (reason: NonNullable<AuditRecord['abstainReason']>, draft?: string) =>
      this.#abstain(record, reason, closest, started, {
        question,
        near,
        ranked,
        draft,
        abortSignal: options.abortSignal,
      });
    if (retrieval) {
      closest = evidence.slice(0, 3).map((e, i) => answerSource(i + 1, e));
      if (usable.length === 0) {
        yield* abstain('no-evidence');
        return;
      }
      let threshold = this.#calibration.threshold;
      if (this.#o.verifier) {
        const verifyStarted = performance.now();
        ranked = await this.#rank(question, usable, options.abortSignal);
        record.retrievalConfidence = await verifierScore(
          this.#o.verifier.model,
          question,
          chosenEvidence(ranked, usable.length, this.#evidenceCount()),
          options.abortSignal,
        );
        record.timings.verifyMs = performance.now() - verifyStarted;
        threshold = this.#o.verifier.threshold;
      } else {
        record.retrievalConfidence = retrievalConfidence(
          retrievalFeatures(question, usable),
          this.#calibration,
        );
      }
      if (record.retrievalConfidence < threshold) {
        yield* abstain('low-retrieval-confidence');
        return;
      }
    }
    if (retrieval && options.mode === 'extractive') {
      yield* this.#extract(question, usable, record, started, cacheKey, options.abortSignal, ranked);
      return;
    }

    // 3. The prompt, within the context window by the model's own count.
    const built = await this.#prompt(
      question,
      usable,
      retrieval,
      record.parameters.maxTokens,
      options.abortSignal,
      ranked,
    );
    const { prompt, offered } = built;
    ranked = built.ranked;
    const inPrompt = prompt.included.map((i) => offered[i]!);
    for (const i of prompt.dropped) {
      const at = evidence.indexOf(offered[i]!);
      record.evidence[at]!.excluded = 'budget';
    }
    inPrompt.forEach((e, j) => {
      record.evidence[evidence.indexOf(e)]!.n = j + 1;
    });
    record.prompt = {
      tokens: prompt.tokens,
      contextSize: this.#o.chat.contextSize,
      reservedAnswerTokens: record.parameters.maxTokens,
    };
    const sources = inPrompt.map((e, j) => answerSource(j + 1, e));
    yield { type: 'sources', sources };

    // 4. Generate, streaming.
    const generateStarted = performance.now();
    let text = '';
    for await (const part of this.#o.chat.doStream({
      messages: prompt.messages,
      maxTokens: record.parameters.maxTokens,
      temperature: record.parameters.temperature,
      ...(record.parameters.seed !== undefined ? { seed: record.parameters.seed } : {}),
      ...(options.adapter ? { adapter: { path: options.adapter.path } } : {}),
      ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}),
    })) {
      if (part.type === 'text-delta') {
        text += part.delta;
        yield part;
      } else {
        record.usage = part.result.usage;
        record.timings.firstTokenMs = part.result.timeToFirstTokenMs;
      }
    }
    record.timings.generateMs = performance.now() - generateStarted;
    record.prompt.tokens = record.usage.inputTokens || record.prompt.tokens;

    // 5. Citations and groundedness.
    if (!retrieval) {
      record.answer = text.trim();
      record.status = 'answered';
      record.timings.totalMs = performance.now() - started;
      yield* this.#finish(record, sources, cacheKey);
      return;
    }
    const parsed = parseCitations(dropRepeatedSentences(moveLeadingAttributions(text)), sources.length);
    record.invalidCitations = parsed.invalid;
    if (parsed.invalid.length)
      record.warnings.push(
        `Removed citations to sources that were not supplied: ${parsed.invalid.join(', ')}.`,
      );
    if (DECLINED.test(parsed.text) || parsed.text.includes(NOT_IN_KNOWLEDGE_BASE.slice(0, -1))) {
      yield* abstain('model-declined');
      return;
    }
    const degenerate = degenerateDraft(
      parsed.text,
      question,
      inPrompt.map((e) => e.document.title),
    );
    if (degenerate) {
      record.warnings.push(`The draft is not an answer (${degenerate}).`);
      yield* abstain('degenerate', parsed.text);
      return;
    }
    const groundedness = await scoreGroundedness(parsed.text, {
      sources: inPrompt.map((e) => e.chunk.text),
      embedder: this.#o.embedder,
      question,
      checkPremise: this.#o.checkPremise ?? true,
      ...(options.judge && this.#o.judge ? { judge: this.#o.judge } : {}),
      ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}),
    });
    record.groundedness = groundedness;
    const shown = groundedness.sentences.filter((s) => s.supported);
    if (groundedness.score < (this.#o.minGroundedness ?? 0.5) || shown.length === 0) {
      record.answer = parsed.text;
      yield* abstain('not-grounded', parsed.text);
      return;
    }
    // A sentence no single source supports is never shown, even beside supported ones: that is
    // how a claim stitched from two sources would reach the reader.
    const withheld = groundedness.sentences.filter((s) => !s.supported && s.text.trim());
    if (withheld.length)
      record.warnings.push(
        `Left out ${withheld.length} sentence(s) no single source supports: ${withheld.map((s) => `"${s.text.slice(0, 120)}"`).join(' ')}`,
      );
    record.answer = withAttributedMarkers(shown);
    record.citations = citationsFrom(shown, inPrompt);
    record.status = 'answered';
    record.timings.totalMs = performance.now() - started;
    yield* this.#finish(record, sources, cacheKey);
  }

  #checkQuestion(raw: string, record: AuditRecord): string {
    const question = raw.replace(/\s+/g, ' ').trim();
    if (!question)
      throw new QuestionError(
        'The question is empty.',
        'Ask something, e.g. attune ask "What is our refund policy?"',
      );
    const tokens = this.#o.tokenizer.countTokens(question);
    const limit = Math.floor(this.#o.chat.contextSize / 4);
    if (tokens > limit)
      throw new QuestionError(
        `The question is ${tokens} tokens long; at most ${limit} fit beside the evidence in ${this.#o.chat.modelId}'s ${this.#o.chat.contextSize}-token context.`,
        'Shorten the question, or put long material into the knowledge base and ask about it.',
      );
    const letters = question.match(/\p{L}/gu) ?? [];
    const latin = letters.filter((c) => /[a-zA-Z\u00C0-\u024F]/.test(c)).length;
    if (letters.length >= 3 && latin / letters.length < 0.5)
      record.warnings.push(
        'The question is not in a Latin script; the default embedding model (all-MiniLM-L6-v2) was trained on English, so retrieval may miss relevant documents.',
      );
    return question;
  }

  /** The cited passages' texts by chunk id, or undefined when any of them is no longer readable as it was. */
  async #stillReadable(result: AnswerResult, principal: Principal): Promise<Map<string, string> | undefined> {
    const wanted = new Map<string, { chunkId: string; version: number }[]>();
    for (const s of result.sources) wanted.set(s.docId, [...(wanted.get(s.docId) ?? []), s]);
    if (result.closest && !wanted.has(result.closest.docId)) wanted.set(result.closest.docId, []);
    const texts = new Map<string, string>();
    for (const [docId, chunks] of wanted) {
      const stored = await this.#o.store.getChunks(docId, principal);
      if (stored.length === 0) return undefined;
      for (const c of chunks) {
        const same = stored.find((x) => x.id === c.chunkId && x.version === c.version);
        if (!same) return undefined;
        texts.set(c.chunkId, same.text);
      }
    }
    return texts;
  }

  async #fromAuditLog(cacheKey: string): Promise<AnswerResult | undefined> {
    const hit = await this.#o.audit?.findByCacheKey(cacheKey);
    if (!hit) return undefined;
    return {
      auditId: hit.id,
      question: hit.question,
      answer: hit.answer,
      abstained: hit.abstained,
      ...(hit.abstainReason ? { abstainReason: hit.abstainReason } : {}),
      sources: hit.evidence
        .filter((e) => e.n !== undefined)
        .map((e) => ({
          n: e.n!,
          docId: e.docId,
          chunkId: e.chunkId,
          title: e.title,
          source: e.source,
          location: e.location ?? '',
          snippet: e.snippet ?? '',
          text: e.snippet ?? '',
          version: e.chunkVersion,
          score: e.scores.rerank ?? e.scores.fused,
        })),
      citations: hit.citations.map((c) => {
        const e = hit.evidence.find((x) => x.chunkId === c.chunkId);
        return { ...c, title: e?.title ?? '', source: e?.source ?? '' };
      }),
      ...(hit.closest ? { closest: hit.closest } : {}),
      invalidCitations: hit.invalidCitations,
      groundedness: hit.groundedness,
      retrievalConfidence: hit.retrievalConfidence,
      kbVersion: hit.kbVersion,
      mode: hit.mode,
      cached: false,
      timings: hit.timings,
      usage: hit.usage,
      warnings: hit.warnings,
    };
  }

  async *#abstain(
    record: AuditRecord,
    reason: NonNullable<AuditRecord['abstainReason']>,
    closest: AnswerSource[],
    started: number,
    help: {
      question: string;
      near: Evidence[];
      /** Sentences of `usable` (of which `near` is the start) already ranked for this question. */
      ranked?: ScoredSentence[] | undefined;
      draft?: string | undefined;
      abortSignal?: AbortSignal | undefined;
    },
  ): AsyncGenerator<AnswerPart> {
    record.status = 'abstained';
    record.abstained = true;
    record.abstainReason = reason;
    record.answer = NOT_IN_KNOWLEDGE_BASE;
    record.citations = [];
    if (help.draft)
      record.warnings.push(`Withheld an answer its sources do not support: "${help.draft.slice(0, 200)}"`);
    const passage = await this.#closestPassage(help, closest);
    if (passage) record.closest = passage;
    record.timings.totalMs = performance.now() - started;
    yield* this.#finish(record, closest, record.cacheKey);
  }

  /** The best sentence among the closest sources, so a withheld answer still points somewhere. */
  async #closestPassage(
    help: {
      question: string;
      near: Evidence[];
      ranked?: ScoredSentence[] | undefined;
      abortSignal?: AbortSignal | undefined;
    },
    closest: AnswerSource[],
  ): Promise<ClosestPassage | undefined> {
    const { near } = help;
    if (near.length === 0) return undefined;
    // Each sentence's score depends only on the question and itself, so the best of `near` is the
    // best ranked sentence that comes from it.
    const best = help.ranked
      ? help.ranked.find((s) => s.source < near.length)
      : (await this.#rank(help.question, near, help.abortSignal))[0];
    if (!best) return undefined;
    const e = near[best.source]!;
    const n = closest.find((c) => c.chunkId === e.chunk.id)?.n ?? best.source + 1;
    return {
      n,
      docId: e.document.id,
      chunkId: e.chunk.id,
      title: e.document.title || e.document.id,
      passage: e.chunk.text,
      sentence: best.text,
      start: best.start,
      end: best.end,
    };
  }

  /** The extractive mode: the best-supported sentence of the evidence, quoted with its citation. */
  async *#extract(
    question: string,
    usable: Evidence[],
    record: AuditRecord,
    started: number,
    cacheKey: string,
    abortSignal: AbortSignal | undefined,
    // The verifier's ranking of these same sentences, when it gated: not ranked twice.
    alreadyRanked: ScoredSentence[] | undefined,
  ): AsyncGenerator<AnswerPart> {
    const inPrompt = usable.slice(0, record.parameters.k);
    inPrompt.forEach((e, j) => {
      const at = record.evidence.findIndex((x) => x.chunkId === e.chunk.id);
      if (at >= 0) record.evidence[at]!.n = j + 1;
    });
    const sources = inPrompt.map((e, j) => answerSource(j + 1, e));
    yield { type: 'sources', sources };
    const generateStarted = performance.now();
    const [best] =
      alreadyRanked && inPrompt.length === usable.length
        ? alreadyRanked
        : await this.#rank(question, inPrompt, abortSignal);
    record.timings.generateMs = performance.now() - generateStarted;
    if (!best) {
      yield* this.#abstain(record, 'no-evidence', sources, started, { question, near: [] });
      return;
    }
    const n = best.source + 1;
    const sentence = best.text.replace(/\s+/g, ' ').trim();
    record.answer = `${sentence.replace(/([.!?]*)$/, ` [${n}]$1`)}`;
    yield { type: 'text-delta', delta: record.answer };
    record.groundedness = {
      score: 1,
      sentences: [
        {
          text: sentence,
          cited: [n],
          origin: 'model',
          lexicalSupport: 1,
          semanticSupport: 1,
          supported: true,
        },
      ],
    };
    record.citations = [
      {
        n,
        chunkId: inPrompt[best.source]!.chunk.id,
        docId: inPrompt[best.source]!.document.id,
        origin: 'model',
      },
    ];
    record.status = 'answered';
    record.timings.totalMs = performance.now() - started;
    yield* this.#finish(record, sources, cacheKey);
  }

  async *#finish(record: AuditRecord, sources: AnswerSource[], cacheKey: string | undefined) {
    await this.#append(record);
    const result: AnswerResult = {
      auditId: record.id,
      question: record.question,
      answer: record.answer,
      abstained: record.abstained,
      ...(record.abstainReason ? { abstainReason: record.abstainReason } : {}),
      sources,
      citations: record.citations.map((c) => {
        const s = sources.find((x) => x.chunkId === c.chunkId);
        return { ...c, title: s?.title ?? '', source: s?.source ?? '' };
      }),
      ...(record.closest ? { closest: record.closest } : {}),
      invalidCitations: record.invalidCitations,
      groundedness: record.groundedness,
      retrievalConfidence: record.retrievalConfidence,
      kbVersion: record.kbVersion,
      mode: record.mode,
      cached: false,
      timings: record.timings,
      usage: record.usage,
      warnings: record.warnings,
    };
    if (cacheKey) this.#cache.set(cacheKey, result);
    yield { type: 'done' as const, result };
  }

  #recordFields(result: AnswerResult): Partial<AuditRecord> {
    return {
      answer: result.answer,
      abstained: result.abstained,
      ...(result.abstainReason ? { abstainReason: result.abstainReason } : {}),
      citations: result.citations.map(({ n, chunkId, docId, origin }) => ({ n, chunkId, docId, origin })),
      invalidCitations: result.invalidCitations,
      groundedness: result.groundedness,
      retrievalConfidence: result.retrievalConfidence,
      ...(result.closest ? { closest: result.closest } : {}),
      warnings: result.warnings,
      evidence: result.sources.map((s) => ({
        n: s.n,
        chunkId: s.chunkId,
        docId: s.docId,
        source: s.source,
        title: s.title,
        location: s.location,
        snippet: s.snippet,
        chunkVersion: s.version,
        contentHash: '',
        rank: s.n,
        scores: { fused: s.score },
      })),
    };
  }

  /** The evidence sentences ranked for the question, as the prompt and the verifier choose from them. */
  #rank(question: string, usable: readonly Evidence[], abortSignal: AbortSignal | undefined) {
    return rankSentences(
      question,
      usable.map((e) => e.chunk.text),
      { embedder: this.#o.embedder },
      abortSignal,
    );
  }

  /** How many evidence sentences the verifier reads: as many as the prompt shows, 4 for whole chunks. */
  #evidenceCount(): number {
    return this.#o.evidenceSentences || 4;
  }

  /**
   * The messages the chat model gets for a question: the evidence sentences ranked against it,
   * rendered as numbered sources under the model's system prompt. Also how training examples for a
   * grounded-answer adapter are made, so the adapter learns on the very prompt it will answer from.
   */
  async #prompt(
    question: string,
    usable: Evidence[],
    retrieval: boolean,
    maxTokens: number,
    abortSignal: AbortSignal | undefined,
    alreadyRanked?: ScoredSentence[],
  ): Promise<{ prompt: AnswerPrompt; offered: Evidence[]; ranked: ScoredSentence[] | undefined }> {
    const sentenceCount = this.#o.evidenceSentences ?? 4;
    const perSentence = retrieval && sentenceCount > 0;
    let ranked = alreadyRanked;
    let offered = usable;
    let offeredSources = usable.map(promptSource);
    if (perSentence) {
      ranked ??= await this.#rank(question, usable, abortSignal);
      const texts = chosenEvidence(ranked, usable.length, sentenceCount);
      offered = usable.filter((_e, i) => texts[i]);
      offeredSources = usable.map((e, i) => ({ ...promptSource(e), text: texts[i]! })).filter((p) => p.text);
    }
    const prompt = retrieval
      ? buildAnswerPrompt({
          question,
          sources: offeredSources,
          sourceStyle: perSentence ? 'inline' : 'fenced',
          tokenizer: this.#o.tokenizer,
          contextSize: this.#o.chat.contextSize,
          reservedAnswerTokens: maxTokens,
          systemPrompt: this.#o.systemPrompt ?? systemPromptFor(this.#o.chat.modelId),
        })
      : {
          messages: [{ role: 'user' as const, content: question }],
          included: [],
          dropped: [],
          tokens: this.#o.tokenizer.countTokens(question) + 16,
        };
    return { prompt, offered, ranked };
  }

  /**
   * The prompt `answer` would send for this question (retrieval included, nothing generated or
   * audited), with the sources as numbered in it.
   */
  async promptFor(
    question: string,
    options: Pick<
      AskOptions,
      'principal' | 'k' | 'rerank' | 'filter' | 'retrieval' | 'maxTokens' | 'abortSignal'
    >,
  ): Promise<{
    messages: ChatMessage[];
    sources: AnswerSource[];
    /** The evidence sentences the verifier reads, source by source (verifierScore). */
    verifierEvidence: string[];
    /** The same as one text: what the verifier was trained on. */
    verifierText: string;
  }> {
    const retrieval = options.retrieval !== false;
    const k = options.k ?? 5;
    let usable: Evidence[] = [];
    if (retrieval) {
      const retrieved = await this.#o.retriever.retrieve(question, {
        principal: options.principal,
        k: k + SPARE_EVIDENCE,
        rerank: options.rerank !== false,
        ...(options.filter ? { filter: options.filter } : {}),
        ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}),
      });
      usable = retrieved.evidence
        .map((e) => this.#withoutInstructions(e))
        .filter((e): e is Evidence => e !== undefined)
        .slice(0, k);
    }
    const { prompt, offered, ranked } = await this.#prompt(
      question,
      usable,
      retrieval,
      options.maxTokens ?? 128,
      options.abortSignal,
    );
    const forVerifier =
      retrieval && usable.length ? (ranked ?? (await this.#rank(question, usable, options.abortSignal))) : [];
    const chosen = chosenEvidence(forVerifier, usable.length, this.#evidenceCount());
    return {
      messages: prompt.messages,
      sources: prompt.included.map((i, j) => answerSource(j + 1, offered[i]!)),
      verifierEvidence: chosen,
      verifierText: verifierText(chosen),
    };
  }

  #newRecord(question: string, options: AskOptions): AuditRecord {
    const retrieval = options.retrieval !== false;
    return {
      id: randomUUID(),
      time: new Date().toISOString(),
      status: 'failed',
      principal: options.principal,
      question,
      kbVersion: undefined,
      mode: !retrieval
        ? 'fine-tuned'
        : options.mode === 'extractive'
          ? 'extractive'
          : options.adapter
            ? 'hybrid'
            : 'rag',
      model: {
        id: this.#o.chat.modelId,
        ...(options.adapter ? { adapter: { id: options.adapter.id, path: options.adapter.path } } : {}),
      },
      parameters: {
        k: options.k ?? 5,
        rerank: options.rerank !== false,
        temperature: options.temperature ?? 0,
        maxTokens: options.maxTokens ?? 128,
        ...(options.seed !== undefined ? { seed: options.seed } : {}),
      },
      evidence: [],
      prompt: {
        tokens: 0,
        contextSize: this.#o.chat.contextSize,
        reservedAnswerTokens: options.maxTokens ?? 192,
      },
      answer: '',
      citations: [],
      invalidCitations: [],
      groundedness: { score: 0, sentences: [] },
      retrievalConfidence: undefined,
      abstained: false,
      timings: zeroTimings(),
      usage: { inputTokens: 0, outputTokens: 0 },
      warnings: [],
    };
  }
}

function zeroTimings(): AuditRecord['timings'] {
  return { embedMs: 0, searchMs: 0, rerankMs: 0, firstTokenMs: undefined, generateMs: 0, totalMs: 0 };
}

function location(e: Evidence): string {
  const parts = [...e.chunk.headingPath];
  if (e.chunk.page !== undefined) parts.push(`page ${e.chunk.page}`);
  return parts.join(' › ');
}

function promptSource(e: Evidence): PromptSource {
  return { title: e.document.title || e.document.id, location: location(e), text: e.chunk.text };
}

function answerSource(n: number, e: Evidence): AnswerSource {
  const text = e.chunk.text.replace(/\s+/g, ' ').trim();
  return {
    n,
    docId: e.document.id,
    chunkId: e.chunk.id,
    title: e.document.title || e.document.id,
    source: e.document.source,
    location: location(e),
    snippet: text.length > 160 ? `${text.slice(0, 157)}...` : text,
    text: e.chunk.text,
    version: e.chunk.version,
    score: e.score,
  };
}

function auditEvidence(e: Evidence): AuditEvidence {
  const shown = answerSource(0, e);
  return {
    chunkId: e.chunk.id,
    docId: e.document.id,
    source: e.document.source,
    title: e.document.title,
    location: shown.location,
    snippet: shown.snippet,
    chunkVersion: e.chunk.version,
    contentHash: e.chunk.contentHash,
    rank: e.rank,
    scores: {
      ...(e.stages.dense ? { dense: e.stages.dense.score } : {}),
      ...(e.stages.text ? { text: e.stages.text.score } : {}),
      fused: e.stages.fused.score,
      ...(e.stages.rerank ? { rerank: e.stages.rerank.score } : {}),
    },
  };
}

/** The answer with each supported sentence's source numbers before its final punctuation. */
function withAttributedMarkers(sentences: GroundednessResult['sentences']): string {
  return sentences
    .map((s) => {
      if (s.cited.length === 0) return s.text;
      const [, body, end] = /^(.*?)([.!?]*)$/s.exec(s.text)!;
      return `${body} ${s.cited.map((n) => `[${n}]`).join('')}${end}`;
    })
    .join(' ');
}

function citationsFrom(
  sentences: GroundednessResult['sentences'],
  inPrompt: Evidence[],
): AuditRecord['citations'] {
  const seen = new Map<number, 'model' | 'attributed'>();
  for (const s of sentences) {
    if (s.origin === 'none') continue;
    for (const n of s.cited) if (!seen.has(n) || s.origin === 'model') seen.set(n, s.origin);
  }
  return [...seen.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([n, origin]) => ({
      n,
      chunkId: inPrompt[n - 1]!.chunk.id,
      docId: inPrompt[n - 1]!.document.id,
      origin,
    }));
}

/** A sentence said twice is said once: small models repeat themselves until the token limit. */
function dropRepeatedSentences(text: string): string {
  const seen = new Set<string>();
  return splitSentences(text)
    .filter((s) => {
      const key = stripCitations(s).toLowerCase();
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    })
    .join(' ');
}

/**
 * The evidence with the instructions to the model taken out of its text (the same object when
 * there were none), or undefined when nothing but instructions was left: a planted sentence
 * costs the source only that sentence, not the facts beside it.
 */
function withoutInstructions(e: Evidence): Evidence | undefined {
  const { text, removed } = neutralizeInstructions(e.chunk.text);
  if (removed === 0) return e;
  return hasSubstance(text) ? { ...e, chunk: { ...e.chunk, text } } : undefined;
}
