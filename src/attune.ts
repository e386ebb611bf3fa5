import { type AttuneConfig, type AttuneConfigInput, loadConfig } from './config/index.ts';
import { KnowledgeBase, type SyncOptions, type SyncSummary } from './knowledge/index.ts';
import { Models } from './models/index.ts';

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

  private constructor(config: AttuneConfig) {
    this.config = config;
    this.models = new Models(config);
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

  knowledgeBase(): Promise<KnowledgeBase> {
    this.#kb ??= KnowledgeBase.open(this.config, this.models);
    this.#kb.catch(() => {
      this.#kb = undefined;
    });
    return this.#kb;
  }

  async ingest(sources: string[], options?: SyncOptions): Promise<SyncSummary> {
    return (await this.knowledgeBase()).ingest(sources, options);
  }

  async sync(sources: string[], options?: SyncOptions): Promise<SyncSummary> {
    return (await this.knowledgeBase()).sync(sources, options);
  }

  async close(): Promise<void> {
    await (await this.#kb?.catch(() => undefined))?.close();
    await this.models.dispose();
  }
}
