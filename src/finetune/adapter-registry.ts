/**
 * Trained adapters, each a folder `<config.dir>/adapters/<id>/` holding the llama.cpp GGUF, the PEFT
 * safetensors and `lineage.json`: which base model (name and sha256), which data (hash and statistics),
 * which hyperparameters, what it measured, how long it took and on what machine. "Models are data":
 * nothing about an adapter has to be remembered outside its folder.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { copyFile, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { cpus, release, totalmem, type } from 'node:os';
import { basename, join, resolve } from 'node:path';
import type { AttuneConfig } from '../config/index.ts';
import { AttuneError } from '../models/model-error.ts';
import type { Hyperparameters } from './trainer-spec.ts';

export type MachineDescription = {
  cpu: string;
  cores: number;
  memoryGiB: number;
  os: string;
  node: string;
};

export type DatasetLineage = {
  /** The file the user gave (before any copy or conversion). */
  file: string;
  sha256: string;
  examples: number;
  validationFile?: string;
  validationSha256?: string;
  validationExamples?: number;
  /** Counts and length distributions (see dataset-validation.ts). */
  stats?: unknown;
};

export type AdapterLineage = {
  id: string;
  jobId: string;
  createdAt: string;
  backend: string;
  baseModel: { name: string; path?: string; sha256?: string };
  dataset: DatasetLineage;
  hyperparameters: Hyperparameters;
  /** trainLoss (last step), evalLossBefore, evalLossAfter, steps, tokensPerSecond, ... */
  metrics: Record<string, number>;
  durationSeconds: number;
  machine: MachineDescription;
  /** Hash of trainer/requirements.txt the worker's environment was installed from. */
  trainerRequirementsSha256?: string;
};

export type AdapterEntry = {
  id: string;
  dir: string;
  gguf: string;
  safetensors: string;
  lineage: AdapterLineage;
};

export function machineDescription(): MachineDescription {
  return {
    cpu: cpus()[0]?.model?.trim() ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    os: `${type()} ${release()} ${process.arch}`,
    node: process.version,
  };
}

export function adaptersDir(config: Pick<AttuneConfig, 'dir'>): string {
  return join(config.dir, 'adapters');
}

export function newAdapterId(): string {
  return `lora-${randomBytes(4).toString('hex')}`;
}

const idPattern = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export class AdapterRegistry {
  readonly root: string;

  constructor(root: string) {
    this.root = root;
  }

  static forConfig(config: Pick<AttuneConfig, 'dir'>): AdapterRegistry {
    return new AdapterRegistry(adaptersDir(config));
  }

  /**
   * Copies the adapter files in and writes the lineage; the folder appears under its id only when
   * complete (staged, then renamed), so a listed adapter is always whole.
   */
  async register(input: {
    id?: string;
    gguf: string;
    safetensors: string;
    lineage: Omit<AdapterLineage, 'id'>;
  }): Promise<AdapterEntry> {
    const id = input.id ?? newAdapterId();
    if (!idPattern.test(id)) throw new AttuneError(`Invalid adapter id "${id}".`);
    const dir = join(this.root, id);
    if (existsSync(dir)) throw new AttuneError(`Adapter ${id} already exists in ${this.root}.`);
    const staging = join(this.root, `.${id}.${process.pid}.tmp`);
    await rm(staging, { recursive: true, force: true });
    await mkdir(staging, { recursive: true });
    try {
      await copyFile(input.gguf, join(staging, 'adapter.gguf'));
      await copyFile(input.safetensors, join(staging, 'adapter.safetensors'));
      // PEFT needs its config beside the weights to load them again.
      const peftConfig = join(resolve(input.safetensors, '..'), 'adapter_config.json');
      if (existsSync(peftConfig)) await copyFile(peftConfig, join(staging, 'adapter_config.json'));
      const lineage: AdapterLineage = { id, ...input.lineage };
      await writeFile(join(staging, 'lineage.json'), `${JSON.stringify(lineage, null, 2)}\n`);
      await rename(staging, dir);
    } catch (error) {
      await rm(staging, { recursive: true, force: true });
      throw error;
    }
    return this.get(id);
  }

  get(id: string): AdapterEntry {
    const dir = join(this.root, id);
    const lineageFile = join(dir, 'lineage.json');
    if (!idPattern.test(id) || !existsSync(lineageFile)) {
      throw new AttuneError(`No adapter "${id}" in ${this.root}.`, {
        hint: 'List adapters with: attune finetune ls --adapters (or pass a path to a .gguf adapter file).',
      });
    }
    return {
      id,
      dir,
      gguf: join(dir, 'adapter.gguf'),
      safetensors: join(dir, 'adapter.safetensors'),
      lineage: JSON.parse(readFileSync(lineageFile, 'utf8')) as AdapterLineage,
    };
  }

  /** Newest first. */
  list(): AdapterEntry[] {
    if (!existsSync(this.root)) return [];
    return readdirSync(this.root)
      .filter((name) => idPattern.test(name) && existsSync(join(this.root, name, 'lineage.json')))
      .map((name) => this.get(name))
      .sort((a, b) => b.lineage.createdAt.localeCompare(a.lineage.createdAt));
  }

  async remove(id: string): Promise<void> {
    const entry = this.get(id);
    await rm(entry.dir, { recursive: true, force: true });
  }
}

/**
 * An adapter id from the registry, or a path to an existing .gguf file (accepted as is), → the GGUF
 * file llama.cpp loads. Used by `attune ask --adapter`.
 */
export function resolveAdapter(
  config: Pick<AttuneConfig, 'dir'>,
  idOrPath: string,
): { id: string; path: string } {
  if (/\.gguf$/i.test(idOrPath)) {
    const path = resolve(idOrPath);
    if (!existsSync(path) || !statSync(path).isFile()) {
      throw new AttuneError(`Adapter file not found: ${path}`, {
        hint: 'Check the path, or pass an adapter id.',
      });
    }
    return { id: basename(path, '.gguf'), path };
  }
  const entry = AdapterRegistry.forConfig(config).get(idOrPath);
  if (!existsSync(entry.gguf)) {
    throw new AttuneError(`Adapter ${entry.id} has no GGUF file (${entry.gguf}).`, {
      hint: 'It may have been trained on a hosted service; use its model id instead.',
    });
  }
  return { id: entry.id, path: entry.gguf };
}

/** All registered adapters for a configuration, newest first. */
export function listAdapters(config: Pick<AttuneConfig, 'dir'>): AdapterEntry[] {
  return AdapterRegistry.forConfig(config).list();
}
