import { availableParallelism } from 'node:os';
import {
  type ChatHistoryItem,
  getLlama,
  type Llama,
  LlamaChatSession,
  type LlamaContext,
  type LlamaEmbeddingContext,
  LlamaLogLevel,
  type LlamaModel,
  type LlamaRankingContext,
} from 'node-llama-cpp';
import { AsyncQueue } from './async-queue.ts';
import { assertSchemaSupported } from './json-schema-support.ts';
import { AttuneError } from './model-error.ts';
import type {
  ChatCallOptions,
  ChatModel,
  ChatResult,
  ChatStreamPart,
  EmbeddingModel,
  EmbedResult,
  FinishReason,
  RerankingModel,
  Tokenizer,
} from './model-spec.ts';
import { Mutex } from './mutex.ts';
import { unitVector } from './vector-math.ts';

export type LlamaCppOptions = {
  /** CPU threads; 0 or unset: one per available core. */
  threads?: number;
  /** Use a GPU when the runtime finds one ('auto'), or never (false). */
  gpu?: 'auto' | false;
};

/**
 * Local GGUF models through node-llama-cpp. One instance owns the runtime and every model it has
 * loaded; pass it where models are needed and dispose it when done.
 */
export class LlamaCppProvider {
  readonly #options: LlamaCppOptions;
  #llama: Promise<Llama> | undefined;
  readonly #models = new Map<string, Promise<LlamaModel>>();

  constructor(options: LlamaCppOptions = {}) {
    // llama.cpp's own default can exceed the cores this process may use (it picked 4 on a 2-core
    // VM), and its spinning threads then slow each other down several times over.
    this.#options = { ...options, threads: options.threads || availableParallelism() };
  }

  llama(): Promise<Llama> {
    this.#llama ??= getLlama({
      gpu: this.#options.gpu ?? false,
      build: 'never',
      logLevel: LlamaLogLevel.error,
    });
    return this.#llama;
  }

  async loadModel(path: string): Promise<LlamaModel> {
    return this.#load(path, false);
  }

  /**
   * The model's tokenizer only (llama.cpp's vocab-only load: no weights in memory), or the whole
   * model when it is loaded already. ONNX Runtime runs BERT models with llama.cpp's tokenizer
   * for the same file, and token counts need nothing else.
   */
  async vocabulary(path: string): Promise<LlamaModel> {
    return this.#models.get(path) ?? this.#load(path, true);
  }

  #load(path: string, vocabOnly: boolean): Promise<LlamaModel> {
    const key = vocabOnly ? `vocabulary:${path}` : path;
    let model = this.#models.get(key);
    if (!model) {
      model = this.llama().then((llama) =>
        llama.loadModel({ modelPath: path, vocabOnly }).catch((error: Error) => {
          this.#models.delete(key);
          throw new AttuneError(`Cannot load model file ${path}: ${error.message}`, {
            hint: 'The file may be truncated or not a GGUF model; pull it again with attune models pull.',
            cause: error,
          });
        }),
      );
      this.#models.set(key, model);
    }
    return model;
  }

  async chatModel(
    path: string,
    options: { modelId: string; contextSize?: number },
  ): Promise<LlamaCppChatModel> {
    const model = await this.loadModel(path);
    const contextSize = Math.min(options.contextSize ?? 4096, model.trainContextSize);
    return new LlamaCppChatModel(
      options.modelId,
      model,
      await this.llama(),
      contextSize,
      this.#options.threads,
    );
  }

  async embeddingModel(
    path: string,
    options: { modelId: string; maxInputTokens?: number },
  ): Promise<LlamaCppEmbeddingModel> {
    const model = await this.loadModel(path);
    const maxInputTokens = Math.min(options.maxInputTokens ?? 512, model.trainContextSize);
    // The context gets the model's whole window: node-llama-cpp keeps a few positions of a context
    // for itself, so one sized exactly to the input limit would reject the longest inputs.
    const context = await model.createEmbeddingContext({
      contextSize: model.trainContextSize,
      batchSize: model.trainContextSize,
      ...(this.#options.threads ? { threads: this.#options.threads } : {}),
    });
    return new LlamaCppEmbeddingModel(options.modelId, model, context, maxInputTokens);
  }

  async rerankingModel(
    path: string,
    options: { modelId: string; maxInputTokens?: number },
  ): Promise<LlamaCppRerankingModel> {
    const model = await this.loadModel(path);
    const maxInputTokens = Math.min(options.maxInputTokens ?? 512, model.trainContextSize);
    const context = await model
      .createRankingContext({
        contextSize: model.trainContextSize,
        batchSize: model.trainContextSize,
        ...(this.#options.threads ? { threads: this.#options.threads } : {}),
      })
      .catch((error: Error) => {
        throw new AttuneError(`${options.modelId} cannot rerank: ${error.message}`, {
          hint: 'A reranker is a cross-encoder GGUF (rank pooling), e.g. attune-reranker-minilm-l6-squad.',
          cause: error,
        });
      });
    return new LlamaCppRerankingModel(options.modelId, model, context, maxInputTokens);
  }

  async tokenizer(path: string, modelId: string): Promise<Tokenizer> {
    return llamaTokenizer(await this.vocabulary(path), modelId);
  }

  async dispose(): Promise<void> {
    for (const model of this.#models.values()) await (await model.catch(() => undefined))?.dispose();
    this.#models.clear();
    if (this.#llama) await (await this.#llama).dispose();
    this.#llama = undefined;
  }
}

function llamaTokenizer(model: LlamaModel, modelId: string): Tokenizer {
  return {
    modelId,
    encode: (text) => [...model.tokenize(text)],
    decode: (tokens) => model.detokenize(tokens as never),
    countTokens: (text) => model.tokenize(text).length,
  };
}

export class LlamaCppChatModel implements ChatModel {
  readonly specificationVersion = 'v1' as const;
  readonly provider = 'llama.cpp';
  readonly supportsJsonSchema = true;
  readonly supportsAdapters = true;
  readonly modelId: string;
  readonly contextSize: number;
  readonly #model: LlamaModel;
  readonly #llama: Llama;
  readonly #threads: number | undefined;
  /** One context per adapter set: llama.cpp applies LoRA per context. */
  readonly #contexts = new Map<
    string,
    { context: Promise<LlamaContext>; session: Promise<LlamaChatSession>; mutex: Mutex }
  >();

  constructor(modelId: string, model: LlamaModel, llama: Llama, contextSize: number, threads?: number) {
    this.modelId = modelId;
    this.#model = model;
    this.#llama = llama;
    this.contextSize = contextSize;
    this.#threads = threads || undefined;
  }

  get tokenizer(): Tokenizer {
    return llamaTokenizer(this.#model, this.modelId);
  }

  #contextFor(adapter: ChatCallOptions['adapter']) {
    const key = adapter ? `${adapter.path}@${adapter.scale ?? 1}` : '';
    let entry = this.#contexts.get(key);
    if (!entry) {
      const context = this.#model
        .createContext({
          contextSize: this.contextSize,
          sequences: 1,
          ...(this.#threads ? { threads: this.#threads } : {}),
          ...(adapter ? { lora: { adapters: [{ filePath: adapter.path, scale: adapter.scale ?? 1 }] } } : {}),
        })
        .catch((error: Error) => {
          this.#contexts.delete(key);
          throw new AttuneError(
            adapter
              ? `Cannot apply adapter ${adapter.path} to ${this.modelId}: ${error.message}`
              : `Cannot create a context for ${this.modelId}: ${error.message}`,
            { cause: error },
          );
        });
      // One sequence and chat session for the context's life; each call replaces the history.
      // A session per call cost about a second of set-up before the first token, and getting and
      // disposing a sequence per call leaked it for Gemma 3 ("No sequences left").
      const session = context.then(
        (c) => new LlamaChatSession({ contextSequence: c.getSequence(), autoDisposeSequence: false }),
      );
      session.catch(() => undefined);
      entry = { context, session, mutex: new Mutex() };
      this.#contexts.set(key, entry);
    }
    return entry;
  }

  async doGenerate(options: ChatCallOptions): Promise<ChatResult> {
    let result: ChatResult | undefined;
    for await (const part of this.doStream(options)) if (part.type === 'finish') result = part.result;
    return result!;
  }

  async *doStream(options: ChatCallOptions): AsyncIterable<ChatStreamPart> {
    const queue = new AsyncQueue<ChatStreamPart>();
    this.#run(options, queue).then(
      (result) => {
        queue.push({ type: 'finish', result });
        queue.close();
      },
      (error) => queue.fail(error),
    );
    yield* queue;
  }

  async #run(options: ChatCallOptions, queue: AsyncQueue<ChatStreamPart>): Promise<ChatResult> {
    const messages = options.messages;
    const last = messages.at(-1);
    if (last?.role !== 'user') throw new AttuneError('The last chat message must come from the user.');
    const grammar = options.jsonSchema
      ? await this.#llama.createGrammarForJsonSchema(assertSchemaSupported(options.jsonSchema) as never)
      : undefined;
    const { session: sessionPromise, mutex } = this.#contextFor(options.adapter);
    const release = await mutex.lock();
    const started = performance.now();
    let firstTokenAt: number | undefined;
    try {
      const session = await sessionPromise;
      const sequence = session.sequence;
      const before = sequence.tokenMeter.getState();
      {
        const history: ChatHistoryItem[] = messages
          .slice(0, -1)
          .map((m) =>
            m.role === 'assistant'
              ? { type: 'model', response: [m.content] }
              : m.role === 'system'
                ? { type: 'system', text: m.content }
                : { type: 'user', text: m.content },
          );
        session.setChatHistory(history);
        const meta = await session.promptWithMeta(last.content, {
          ...(options.maxTokens !== undefined ? { maxTokens: options.maxTokens } : {}),
          temperature: options.temperature ?? 0,
          ...(options.topP !== undefined ? { topP: options.topP } : {}),
          ...(options.frequencyPenalty || options.presencePenalty
            ? {
                repeatPenalty: {
                  penalty: 1,
                  frequencyPenalty: options.frequencyPenalty ?? 0,
                  presencePenalty: options.presencePenalty ?? 0,
                },
              }
            : {}),
          ...(options.seed !== undefined ? { seed: options.seed } : {}),
          ...(options.stop?.length ? { customStopTriggers: options.stop } : {}),
          ...(grammar ? { grammar } : {}),
          ...(options.abortSignal ? { signal: options.abortSignal, stopOnAbortSignal: true } : {}),
          onTextChunk: (delta: string) => {
            firstTokenAt ??= performance.now();
            queue.push({ type: 'text-delta', delta });
          },
        });
        const after = sequence.tokenMeter.getState();
        const finishReason: FinishReason =
          meta.stopReason === 'maxTokens' ? 'length' : meta.stopReason === 'abort' ? 'abort' : 'stop';
        return {
          text: meta.responseText,
          finishReason,
          usage: {
            // The meter counts only evaluated tokens, and a prompt prefix already in the sequence
            // is reused without evaluation; the prompt's size is what is in context minus the answer.
            inputTokens: Math.max(
              0,
              sequence.contextTokens.length - (after.usedOutputTokens - before.usedOutputTokens),
            ),
            outputTokens: after.usedOutputTokens - before.usedOutputTokens,
          },
          timeToFirstTokenMs: firstTokenAt === undefined ? undefined : firstTokenAt - started,
        };
      }
    } finally {
      release();
    }
  }
}

export class LlamaCppEmbeddingModel implements EmbeddingModel {
  readonly specificationVersion = 'v1' as const;
  readonly provider = 'llama.cpp';
  readonly modelId: string;
  readonly dimensions: number;
  readonly maxInputTokens: number;
  readonly maxEmbeddingsPerCall = 256;
  readonly #model: LlamaModel;
  readonly #context: LlamaEmbeddingContext;
  readonly #mutex = new Mutex();

  constructor(modelId: string, model: LlamaModel, context: LlamaEmbeddingContext, maxInputTokens: number) {
    this.modelId = modelId;
    this.#model = model;
    this.#context = context;
    this.maxInputTokens = maxInputTokens;
    this.dimensions = model.embeddingVectorSize ?? 0;
  }

  async doEmbed(options: { values: string[]; abortSignal?: AbortSignal }): Promise<EmbedResult> {
    const release = await this.#mutex.lock();
    try {
      const embeddings: number[][] = [];
      let tokens = 0;
      // Two positions go to the [CLS]/[SEP] markers the runtime adds.
      const limit = this.maxInputTokens - 2;
      for (const value of options.values) {
        options.abortSignal?.throwIfAborted();
        let input = this.#model.tokenize(value);
        if (input.length > limit) input = input.slice(0, limit);
        tokens += input.length;
        // An empty text is [CLS][SEP], as ONNX Runtime reads it: with no tokens at all
        // node-llama-cpp returns an empty vector, and it adds no marker already there.
        const bos = this.#model.tokens.bos;
        const { vector } = await this.#context.getEmbeddingFor(input.length || bos == null ? input : [bos]);
        embeddings.push(unitVector(vector));
      }
      return { embeddings, usage: { tokens } };
    } finally {
      release();
    }
  }
}

export class LlamaCppRerankingModel implements RerankingModel {
  readonly specificationVersion = 'v1' as const;
  readonly provider = 'llama.cpp';
  readonly modelId: string;
  readonly maxInputTokens: number;
  readonly #model: LlamaModel;
  readonly #context: LlamaRankingContext;

  constructor(modelId: string, model: LlamaModel, context: LlamaRankingContext, maxInputTokens: number) {
    this.modelId = modelId;
    this.#model = model;
    this.#context = context;
    this.maxInputTokens = maxInputTokens;
  }

  /**
   * Probability-like scores in (0, 1). The pair is laid out as node-llama-cpp's ranking context
   * does ([CLS] query [SEP] text): the layout Attune's own reranker was trained on. A query keeps
   * at most half the window; each text is cut to what is left.
   */
  async rerank(query: string, texts: string[], abortSignal?: AbortSignal): Promise<number[]> {
    const q = this.#model.tokenize(query).slice(0, Math.floor(this.maxInputTokens / 2));
    const room = this.maxInputTokens - q.length - 3;
    const scores: number[] = [];
    // One pair at a time: the context holds one sequence, and an abort lands between pairs.
    for (const text of texts) {
      abortSignal?.throwIfAborted();
      scores.push(await this.#context.rank(q, this.#model.tokenize(text).slice(0, room)));
    }
    return scores;
  }
}
