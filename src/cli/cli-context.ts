import { Attune } from '../attune.ts';
import { type AttuneConfig, type AttuneConfigInput, loadConfig } from '../config/index.ts';
import type { KnowledgeBase } from '../knowledge/index.ts';
import type { Models } from '../models/models.ts';

/** What every command needs, built lazily so `attune --help` loads nothing. */
export class CliContext {
  #config: AttuneConfig | undefined;
  #attune: Attune | undefined;
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

  /** The library object the command works through; the CLI adds only parsing and printing. */
  attune(): Attune {
    this.#attune ??= Attune.fromConfig(this.config());
    return this.#attune;
  }

  models(): Models {
    return this.attune().models;
  }

  /** Reads pass `create: false`: a mistyped ATTUNE_DIR gets "no knowledge base", not a new empty one. */
  knowledgeBase(options: { create?: boolean } = {}): Promise<KnowledgeBase> {
    return this.attune().knowledgeBase(options);
  }

  out(line: string): void {
    process.stdout.write(`${line}\n`);
  }

  async dispose(): Promise<void> {
    await this.#attune?.close();
  }
}
