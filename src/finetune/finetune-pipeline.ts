import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { AttuneConfig } from '../config/index.ts';
import { runtimeFile } from '../models/catalog.ts';
import type { ChatModel } from '../models/index.ts';
import { sha256File } from '../models/model-cache.ts';
import { AttuneError } from '../models/model-error.ts';
import type { Models } from '../models/models.ts';
import type { Retriever } from '../retrieve/index.ts';
import type { KnowledgeStore } from '../store/index.ts';
import type { ChatExample } from './chat-example.ts';
import { writeChatJsonl } from './dataset-export.ts';
import type { FinetuneJobRecord } from './finetune-job.ts';
import { defaultHyperparameters, isModelPath, LocalTrainer } from './local-trainer.ts';
import { OpenAIFineTuningBackend } from './openai-finetuning-backend.ts';
import { type ScanFileResult, scanDatasetFile } from './privacy-record.ts';
import { generateQaDataset, type QaGenerationOptions, type QaGenerationResult } from './qa-generator.ts';
import { generateRaftDataset, type RaftOptions } from './raft.ts';
import type { FineTuningBackend, Hyperparameters } from './trainer-spec.ts';

export type BackendName = 'local' | 'openai';

/** The fine-tuning backend by name: the local PEFT worker, or a hosted OpenAI-compatible service. */
export function trainingBackend(config: AttuneConfig, models: Models, name: string): FineTuningBackend {
  if (name === 'local') {
    return LocalTrainer.fromConfig(config, {
      resolveBaseModel: (model) => (isModelPath(model) ? model : models.cache.resolve(model)),
    });
  }
  if (name === 'openai') {
    if (!config.openai.baseURL || !config.openai.apiKey) {
      throw new AttuneError('The openai backend needs a base URL and an API key.', {
        hint: 'Set OPENAI_BASE_URL and OPENAI_API_KEY (or "openai" in attune.config.json).',
      });
    }
    return new OpenAIFineTuningBackend({ baseURL: config.openai.baseURL, apiKey: config.openai.apiKey });
  }
  throw new AttuneError(`Unknown fine-tuning backend "${name}".`, {
    hint: 'Use the local or the openai backend.',
  });
}

/** The base model as the job's lineage records it: name, file and sha256 where there is a file. */
export async function describeBaseModel(
  models: Models,
  name: string | undefined,
): Promise<FinetuneJobRecord['baseModel']> {
  if (!name) {
    throw new AttuneError('A hosted backend needs the base model named.', {
      hint: 'Name it, e.g. base: gpt-4o-mini-2024-07-18',
    });
  }
  if (isModelPath(name)) {
    if (!existsSync(name)) throw new AttuneError(`Base model not found: ${name}`);
    const sha256 = statSync(name).isFile() ? await sha256File(name) : undefined;
    return { name, path: name, ...(sha256 ? { sha256 } : {}) };
  }
  if (!models.catalog.has(name)) return { name }; // a hosted model id
  return { name, path: models.cache.resolve(name), sha256: runtimeFile(models.catalog.get(name)).sha256 };
}

/** Hyperparameters with the defaults filled in; a value of the wrong kind names its field. */
export function resolveHyperparameters(given: Partial<Hyperparameters> = {}): Hyperparameters {
  const d = defaultHyperparameters;
  const out = { ...d, targetModules: [...d.targetModules], ...given };
  const integers = [
    'rank',
    'epochs',
    'batchSize',
    'gradientAccumulation',
    'maxSeqLength',
    'seed',
    'checkpointEvery',
  ] as const;
  for (const key of integers)
    if (!Number.isInteger(out[key]) || out[key] < (key === 'seed' ? 0 : 1))
      throw new AttuneError(`hyperparameters.${key} must be a positive integer; got ${String(out[key])}.`);
  for (const key of ['alpha', 'learningRate', 'dropout'] as const)
    if (!Number.isFinite(out[key]) || out[key] < 0)
      throw new AttuneError(`hyperparameters.${key} must be a non-negative number; got ${String(out[key])}.`);
  return out;
}

export type DatasetGenerationOptions = Omit<QaGenerationOptions, 'model' | 'store'> & {
  config: AttuneConfig;
  store: KnowledgeStore;
  /** The generator; default the configured chat model. */
  model: ChatModel;
  /** RAFT examples (question + oracle and distractor documents) instead of plain Q&A pairs. */
  raft?: Omit<RaftOptions, 'retriever' | 'onProgress' | 'system' | 'seed'> & {
    retriever: Retriever;
    onRaftProgress?: RaftOptions['onProgress'];
  };
  /** Where to write the chat JSONL; default `<dir>/finetune/generated/<kind>-<time>.jsonl`. */
  out?: string;
};

export type DatasetGenerationResult = {
  file: string;
  kind: 'qa' | 'raft';
  examples: ChatExample[];
  qa: QaGenerationResult;
  warnings: string[];
  /** The privacy scan of the written file (its record is what the training gate checks). */
  scan: ScanFileResult | undefined;
};

/**
 * Training data from the knowledge base: grounded Q&A pairs, or RAFT examples with the retriever's
 * hard negatives, written as chat JSONL and privacy-scanned at once — generated text comes from
 * documents that may hold personal data, and the training gate needs the scan record.
 */
export async function generateDataset(options: DatasetGenerationOptions): Promise<DatasetGenerationResult> {
  const { config, raft, out, ...qaOptions } = options;
  let examples: ChatExample[];
  let qa: QaGenerationResult;
  let warnings: string[] = [];
  if (raft) {
    const { onRaftProgress, ...raftOptions } = raft;
    const result = await generateRaftDataset({
      ...qaOptions,
      ...raftOptions,
      ...(onRaftProgress ? { onRaftProgress } : {}),
    });
    ({ examples, qa, warnings } = result);
  } else {
    qa = await generateQaDataset(qaOptions);
    examples = qa.examples;
  }
  const kind = raft ? 'raft' : 'qa';
  const file = out ?? join(config.dir, 'finetune', 'generated', `${kind}-${Date.now()}.jsonl`);
  await writeChatJsonl(file, examples, { includeMeta: true });
  const scan = examples.length > 0 ? await scanDatasetFile(config, file) : undefined;
  return { file, kind, examples, qa, warnings, scan };
}
