import { type AttuneConfig, type AttuneConfigInput, loadConfig } from '../config/index.ts';
import { KnowledgeBase } from '../knowledge/index.ts';
import { Models } from '../models/models.ts';

/** What every command needs, built lazily so `attune --help` loads nothing. */
export class CliContext {
  #config: AttuneConfig | undefined;
  #models: Models | undefined;
  #kb: Promise<KnowledgeBase> | undefined;
  readonly #flags: () => AttuneConfigInput & { configFile?: string };

  constructor(flags: () => AttuneConfigInput & { configFile?: string }) {
    this.#flags = flags;
  }

  config(): AttuneConfig {
    if (!this.#config) {
      const { configFile, ...flags } = this.#flags();
      this.#config = loadConfig({ env: process.env, flags, ...(configFile ? { file: configFile } : {}) });
    }
    return this.#config;
  }

  models(): Models {
    this.#models ??= new Models(this.config());
    return this.#models;
  }

  knowledgeBase(): Promise<KnowledgeBase> {
    this.#kb ??= KnowledgeBase.open(this.config(), this.models());
    return this.#kb;
  }

  out(line: string): void {
    process.stdout.write(`${line}\n`);
  }

  async dispose(): Promise<void> {
    await (await this.#kb?.catch(() => undefined))?.close();
    await this.#models?.dispose();
  }
}
