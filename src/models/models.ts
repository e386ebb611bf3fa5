import type { AttuneConfig } from '../config/index.ts';
import { ModelCatalog } from './catalog.ts';
import { LlamaCppProvider } from './llama-cpp-provider.ts';
import { ModelCache } from './model-cache.ts';
import { AttuneError } from './model-error.ts';
import type { ChatModel, EmbeddingModel, Tokenizer } from './model-spec.ts';

/**
 * The models a running Attune uses: resolves catalog names (or .gguf paths) through the cache and
 * loads them with the local runtime, once each. Owned by whoever created it; dispose when done.
 */
export class Models {
  readonly cache: ModelCache;
  readonly catalog: ModelCatalog;
  readonly runtime: LlamaCppProvider;
  readonly #config: Pick<AttuneConfig, 'home' | 'python' | 'models'>;
  readonly #chat = new Map<string, Promise<ChatModel>>();
  readonly #embedding = new Map<string, Promise<EmbeddingModel>>();

  constructor(config: Pick<AttuneConfig, 'home' | 'python' | 'models'>, catalog = new ModelCatalog()) {
    this.#config = config;
    this.catalog = catalog;
    this.cache = new ModelCache({ home: config.home, catalog, python: config.python });
    this.runtime = new LlamaCppProvider({ threads: config.models.threads });
  }

  get defaultChatName(): string {
    return this.#config.models.chat;
  }

  get defaultEmbeddingName(): string {
    return this.#config.models.embedding;
  }

  chat(name = this.#config.models.chat): Promise<ChatModel> {
    let model = this.#chat.get(name);
    if (!model) {
      model = (async () => {
        const path = this.cache.resolve(name);
        const entry = this.catalog.has(name) ? this.catalog.get(name) : undefined;
        if (entry && entry.task !== 'chat')
          throw new AttuneError(`Model "${name}" is a ${entry.task} model, not chat.`);
        return this.runtime.chatModel(path, {
          modelId: name,
          contextSize: Math.min(entry?.contextSize ?? 4096, 4096),
        });
      })();
      model.catch(() => this.#chat.delete(name));
      this.#chat.set(name, model);
    }
    return model;
  }

  embedding(name = this.#config.models.embedding): Promise<EmbeddingModel> {
    let model = this.#embedding.get(name);
    if (!model) {
      model = (async () => {
        const path = this.cache.resolve(name);
        const entry = this.catalog.has(name) ? this.catalog.get(name) : undefined;
        if (entry && entry.task !== 'embedding') {
          throw new AttuneError(`Model "${name}" is a ${entry.task} model, not an embedding model.`);
        }
        return this.runtime.embeddingModel(path, {
          modelId: name,
          maxInputTokens: entry?.contextSize ?? 512,
        });
      })();
      model.catch(() => this.#embedding.delete(name));
      this.#embedding.set(name, model);
    }
    return model;
  }

  /** The model's own tokenizer, without creating an inference context. */
  tokenizer(name: string): Promise<Tokenizer> {
    return this.runtime.tokenizer(this.cache.resolve(name), name);
  }

  async dispose(): Promise<void> {
    this.#chat.clear();
    this.#embedding.clear();
    await this.runtime.dispose();
  }
}
