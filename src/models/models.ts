import type { AttuneConfig } from '../config/index.ts';
import { type CatalogEntry, ModelCatalog } from './catalog.ts';
import { LlamaCppProvider } from './llama-cpp-provider.ts';
import { ModelCache } from './model-cache.ts';
import { AttuneError } from './model-error.ts';
import type { ChatModel, EmbeddingModel, RerankingModel, Tokenizer } from './model-spec.ts';
import { OnnxRuntimeProvider } from './onnx-provider.ts';
import {
  estimatingTokenizer,
  isRemoteModelName,
  remoteChatModel,
  remoteEmbeddingModel,
} from './remote-model.ts';

/**
 * The models a running Attune uses: resolves catalog names (or .gguf paths) through the cache and
 * loads them with the local runtime, once each. Owned by whoever created it; dispose when done.
 */
export class Models {
  readonly cache: ModelCache;
  readonly catalog: ModelCatalog;
  readonly runtime: LlamaCppProvider;
  /** Runs the BERT-family models (embedder, reranker, verifier) when `models.encoderRuntime` allows. */
  readonly encoderRuntime: OnnxRuntimeProvider;
  readonly #config: Pick<AttuneConfig, 'home' | 'python' | 'models'> & Partial<Pick<AttuneConfig, 'openai'>>;
  readonly #chat = new Map<string, Promise<ChatModel>>();
  readonly #embedding = new Map<string, Promise<EmbeddingModel>>();
  readonly #reranking = new Map<string, Promise<RerankingModel>>();
  readonly #registeredTokenizers = new Map<string, Tokenizer>();

  constructor(
    config: Pick<AttuneConfig, 'home' | 'python' | 'models'> & Partial<Pick<AttuneConfig, 'openai'>>,
    catalog = new ModelCatalog(),
  ) {
    this.#config = config;
    this.catalog = catalog;
    this.cache = new ModelCache({ home: config.home, catalog, python: config.python });
    this.runtime = new LlamaCppProvider({ threads: config.models.threads });
    this.encoderRuntime = new OnnxRuntimeProvider({ threads: config.models.threads });
  }

  /**
   * Whether ONNX Runtime runs this BERT GGUF: always for `onnx` (an error if it cannot), never
   * for `llama.cpp`, and for `auto` when onnxruntime-node loads and the file is a sentence
   * embedder it reads. `auto` leaves cross-encoders on llama.cpp: for Q8_0 weights llama.cpp also
   * rounds the activations to 8 bits, so its scores differ from ONNX Runtime's by up to 0.04, and
   * the verifier's threshold was fitted on llama.cpp's. An embedder's vectors agree to 1e-6.
   */
  async #onnx(path: string, pooling: 'mean' | 'rank'): Promise<boolean> {
    const choice = this.#config.models.encoderRuntime ?? 'auto';
    if (choice === 'llama.cpp') return false;
    if (choice === 'onnx') return true;
    return pooling === 'mean' && this.encoderRuntime.supports(path, pooling);
  }

  get defaultChatName(): string {
    return this.#config.models.chat;
  }

  get defaultEmbeddingName(): string {
    return this.#config.models.embedding;
  }

  /** The configured verifier's name; empty when none is configured. */
  get defaultVerifierName(): string {
    return this.#config.models.verifier;
  }

  /** The configured models: chat, embedding, and the reranker and verifier when set. */
  get defaultNames(): string[] {
    const { chat, embedding, reranker, verifier } = this.#config.models;
    return [chat, embedding, ...(reranker ? [reranker] : []), ...(verifier ? [verifier] : [])];
  }

  /** The configured models that live on this machine (remote ones need no pulling). */
  get localDefaultNames(): string[] {
    return this.defaultNames.filter((name) => !isRemoteModelName(name));
  }

  /**
   * Makes a model object a name the configuration can use: any AI SDK model wrapped with
   * fromAISDKLanguageModel, or a ChatModel of your own. `tokenizer` sizes its prompts; an estimate
   * is used without one.
   */
  registerChat(name: string, model: ChatModel, tokenizer?: Tokenizer): void {
    this.#chat.set(name, Promise.resolve(model));
    this.#registeredTokenizers.set(name, tokenizer ?? estimatingTokenizer(model.modelId));
  }

  registerEmbedding(name: string, model: EmbeddingModel): void {
    this.#embedding.set(name, Promise.resolve(model));
  }

  #remote() {
    return { apiKey: this.#config.openai?.apiKey };
  }

  chat(name = this.#config.models.chat): Promise<ChatModel> {
    return loadOnce(this.#chat, name, async () => {
      if (isRemoteModelName(name)) return remoteChatModel(name, this.#remote());
      const entry = this.#entryFor(name, 'chat', 'chat');
      return this.runtime.chatModel(this.cache.resolve(name), {
        modelId: name,
        contextSize: Math.min(entry?.contextSize ?? 4096, 4096),
      });
    });
  }

  embedding(name = this.#config.models.embedding): Promise<EmbeddingModel> {
    return loadOnce(this.#embedding, name, async () => {
      if (isRemoteModelName(name)) return remoteEmbeddingModel(name, this.#remote());
      const entry = this.#entryFor(name, 'embedding', 'an embedding model');
      const path = this.cache.resolve(name);
      const options = { modelId: name, maxInputTokens: entry?.contextSize ?? 512 };
      if (await this.#onnx(path, 'mean'))
        return this.encoderRuntime.embeddingModel(path, await this.runtime.vocabulary(path), options);
      return this.runtime.embeddingModel(path, options);
    });
  }

  /** The configured reranker (`models.reranker`), or undefined when none is configured. */
  reranker(name = this.#config.models.reranker): Promise<RerankingModel | undefined> {
    if (!name) return Promise.resolve(undefined);
    return loadOnce(this.#reranking, name, async () => {
      if (isRemoteModelName(name))
        throw new AttuneError(
          `Reranker "${name}": OpenAI-compatible servers have no standard reranking API.`,
          {
            hint: 'Use a local rank-pooling GGUF (e.g. attune-reranker-minilm-l6-squad) or no reranker.',
          },
        );
      const entry = this.#entryFor(name, 'reranking', 'a reranker');
      const path = this.cache.resolve(name);
      const options = { modelId: name, maxInputTokens: entry?.contextSize ?? 512 };
      if (await this.#onnx(path, 'rank'))
        return this.encoderRuntime.rerankingModel(path, await this.runtime.vocabulary(path), options);
      return this.runtime.rerankingModel(path, options);
    });
  }

  /**
   * The configured answerability verifier (`models.verifier`), or undefined when none is set. A
   * cross-encoder like the reranker; one that ships with Attune (models/) is copied into the cache
   * on first use, since there is nothing to download.
   */
  async verifier(name = this.#config.models.verifier): Promise<RerankingModel | undefined> {
    if (!name) return undefined;
    const entry = this.catalog.has(name) ? this.catalog.get(name) : undefined;
    if (entry?.sources.every((s) => s.kind === 'file') && !this.cache.isPresent(name))
      await this.cache.pull(name);
    return this.reranker(name);
  }

  /** The catalog entry (none for a bare .gguf path), refused when it is a model for another task. */
  #entryFor(name: string, task: CatalogEntry['task'], what: string): CatalogEntry | undefined {
    const entry = this.catalog.has(name) ? this.catalog.get(name) : undefined;
    if (entry && entry.task !== task)
      throw new AttuneError(`Model "${name}" is a ${entry.task} model, not ${what}.`);
    return entry;
  }

  /** The model's own tokenizer, without creating an inference context. */
  tokenizer(name: string): Promise<Tokenizer> {
    const registered = this.#registeredTokenizers.get(name);
    if (registered) return Promise.resolve(registered);
    if (isRemoteModelName(name)) return Promise.resolve(estimatingTokenizer(name));
    return this.runtime.tokenizer(this.cache.resolve(name), name);
  }

  async dispose(): Promise<void> {
    this.#chat.clear();
    this.#registeredTokenizers.clear();
    this.#embedding.clear();
    this.#reranking.clear();
    await this.encoderRuntime.dispose();
    await this.runtime.dispose();
  }
}

/** Loads each name once; a failed load is forgotten so the next call can try again. */
function loadOnce<T>(cache: Map<string, Promise<T>>, name: string, load: () => Promise<T>): Promise<T> {
  let model = cache.get(name);
  if (!model) {
    model = load();
    model.catch(() => cache.delete(name));
    cache.set(name, model);
  }
  return model;
}
