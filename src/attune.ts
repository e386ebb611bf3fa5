import { join } from 'node:path';
import { Answerer, type AnswerResult, type AskOptions } from './answer/index.ts';
import { type AuditLog, LanceAuditLog } from './audit/index.ts';
import { type AttuneConfig, type AttuneConfigInput, loadConfig } from './config/index.ts';
import { KnowledgeBase, type SyncOptions, type SyncSummary } from './knowledge/index.ts';
import { Models } from './models/index.ts';
import { Retriever } from './retrieve/index.ts';

export type AttuneOptions = {
  cwd?: string;
  /** Usually process.env; nothing else in Attune reads the environment. */
  env?: Record<string, string | undefined>;
  configFile?: string;
  config?: AttuneConfigInput;
};

/**
 * The library entry point; the CLI and the server are thin layers over it.
 *
 *   const attune = await Attune.open({ env: process.env });
 *   await attune.sync(['./handbook']);
 *   await attune.close();
 */
export class Attune {
  readonly config: AttuneConfig;
  readonly models: Models;
  #kb: Promise<KnowledgeBase> | undefined;
  #audit: Promise<AuditLog> | undefined;
  #answerer: Promise<Answerer> | undefined;

  private constructor(config: AttuneConfig) {
    this.config = config;
    this.models = new Models(config);
  }

  /** From an already validated configuration (the CLI loads its own, with flags). */
  static fromConfig(config: AttuneConfig): Attune {
    return new Attune(config);
  }

  static async open(options: AttuneOptions = {}): Promise<Attune> {
    return new Attune(
      loadConfig({
        ...(options.cwd ? { cwd: options.cwd } : {}),
        env: options.env ?? {},
        ...(options.configFile ? { file: options.configFile } : {}),
        ...(options.config ? { flags: options.config } : {}),
      }),
    );
  }

  /** The knowledge base; `create: false` refuses to start an empty one where none exists. */
  knowledgeBase(options: { create?: boolean } = {}): Promise<KnowledgeBase> {
    this.#kb ??= KnowledgeBase.open(this.config, this.models, options);
    this.#kb.catch(() => {
      this.#kb = undefined;
    });
    return this.#kb;
  }

  /** The answer audit trail, beside the knowledge base in the same directory. */
  audit(): Promise<AuditLog> {
    // Through the knowledge base: a mistyped ATTUNE_DIR is an error, never a new empty audit log.
    this.#audit ??= this.knowledgeBase({ create: false }).then(() =>
      LanceAuditLog.open(join(this.config.dir, 'audit')),
    );
    this.#audit.catch(() => {
      this.#audit = undefined;
    });
    return this.#audit;
  }

  /** Grounded answers over the knowledge base with the configured chat model, audited. */
  answerer(): Promise<Answerer> {
    this.#answerer ??= (async () => {
      const kb = await this.knowledgeBase({ create: false });
      const embedder = await this.models.embedding(kb.embeddingModelName);
      const reranker = await this.models.reranker();
      return new Answerer({
        chat: await this.models.chat(),
        tokenizer: await this.models.tokenizer(this.config.models.chat),
        embedder,
        retriever: new Retriever({ store: kb.store, embedder, reranker }),
        store: kb.store,
        audit: await this.audit(),
      });
    })();
    this.#answerer.catch(() => {
      this.#answerer = undefined;
    });
    return this.#answerer;
  }

  async ask(question: string, options: AskOptions): Promise<AnswerResult> {
    return (await this.answerer()).answer(question, options);
  }

  async ingest(sources: string[], options?: SyncOptions): Promise<SyncSummary> {
    return (await this.knowledgeBase()).ingest(sources, options);
  }

  async sync(sources: string[], options?: SyncOptions): Promise<SyncSummary> {
    return (await this.knowledgeBase()).sync(sources, options);
  }

  async close(): Promise<void> {
    await (await this.#audit?.catch(() => undefined))?.close();
    await (await this.#kb?.catch(() => undefined))?.close();
    await this.models.dispose();
  }
}
