import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { z } from 'zod';

/**
 * The one validated configuration object. Layers, lowest first:
 * defaults < attune.config.json < environment (ATTUNE_*) < explicit flags.
 * Nothing else in Attune reads process.env; callers pass this object down.
 */
export const configSchema = z
  .object({
    /** Model cache (ATTUNE_HOME). */
    home: z.string().min(1),
    /** Embedded knowledge base directory (ATTUNE_DIR). */
    dir: z.string().min(1),
    /**
     * Where the knowledge store lives: the embedded LanceDB tables under `dir` (the default), or a
     * PostgreSQL database with pgvector at `url` (ATTUNE_STORE_URL sets both).
     */
    store: z
      .object({
        kind: z.enum(['lancedb', 'postgres']),
        url: z.string().min(1).optional(),
      })
      .strict()
      .refine((store) => store.kind !== 'postgres' || store.url !== undefined, {
        message:
          'store.kind "postgres" needs store.url (postgres://user:password@host:5432/db), or set ATTUNE_STORE_URL',
        path: ['url'],
      }),
    models: z
      .object({
        chat: z.string().min(1),
        embedding: z.string().min(1),
        /** Cross-encoder that reorders retrieved evidence; empty for none (the default). */
        reranker: z.string(),
        /**
         * Cross-encoder that gates answers before generation: does the evidence answer the
         * question? Empty for none (then retrieval features gate, src/answer/abstention.ts).
         */
        verifier: z.string(),
        /** The verifier's score below which the answerer abstains; default: its fitted threshold. */
        verifierThreshold: z.number().min(0).max(1).optional(),
        /** Threads for local inference; 0 lets the runtime decide. */
        threads: z.number().int().min(0),
        /**
         * What runs local BERT-family GGUFs (the embedder, reranker and verifier): ONNX Runtime,
         * which batches (several times llama.cpp's ingest speed here, bench/ingest.ts), llama.cpp,
         * or `auto`: ONNX Runtime when onnxruntime-node loads, else llama.cpp. Same vectors either way.
         */
        encoderRuntime: z.enum(['auto', 'onnx', 'llama.cpp']),
      })
      .strict(),
    python: z.string().min(1),
    ingest: z
      .object({
        include: z.array(z.string()).optional(),
        exclude: z.array(z.string()).optional(),
        /** First matching rule sets a document's readers; globs match document ids. */
        aclRules: z.array(
          z
            .object({
              glob: z.string().min(1),
              groups: z.array(z.string()).optional(),
              users: z.array(z.string()).optional(),
              public: z.boolean().optional(),
            })
            .strict(),
        ),
        maxFileBytes: z.number().int().positive(),
        /** Chunk size bound in the embedding model's tokens; 0 sizes it for the model. */
        chunkTokens: z.number().int().min(0),
        overlapTokens: z.number().int().min(0),
        /** Chunks embedded and written together in one store write; default 128. */
        batchChunks: z.number().int().positive().optional(),
      })
      .strict(),
    /**
     * For crash tests only (ATTUNE_CRASH_AT): a sync kills its own process with SIGKILL at this
     * write boundary, `point` or `point:n` for its n-th occurrence (see src/knowledge/crash-point.ts).
     */
    crashAt: z
      .string()
      .regex(
        /^(loaded|began|rows|written|removed|committed|optimized)(:[1-9]\d*)?$/,
        'expected loaded, began, rows, written, removed, committed or optimized, optionally :n',
      )
      .optional(),
    /** Visibility of documents that carry no ACL: everyone, or nobody but admins. */
    defaultVisibility: z.enum(['public', 'private']),
    openai: z
      .object({
        baseURL: z.string().url().optional(),
        apiKey: z.string().optional(),
      })
      .strict(),
  })
  .strict();

export type AttuneConfig = z.infer<typeof configSchema>;

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };
export type AttuneConfigInput = DeepPartial<AttuneConfig>;

export const CONFIG_FILE_NAME = 'attune.config.json';

export function defaultConfig(cwd: string): AttuneConfig {
  return {
    home: join(homedir(), '.cache', 'attune'),
    dir: join(cwd, '.attune'),
    store: { kind: 'lancedb' },
    models: {
      chat: 'qwen2.5-coder-1.5b-instruct',
      embedding: 'all-minilm-l6-v2',
      reranker: '',
      verifier: 'attune-verifier-minilm-l6-squad2',
      threads: 0,
      encoderRuntime: 'auto',
    },
    python: 'python3',
    ingest: { aclRules: [], maxFileBytes: 50 * 1024 * 1024, chunkTokens: 0, overlapTokens: 32 },
    defaultVisibility: 'public',
    openai: {},
  };
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export type LoadConfigOptions = {
  cwd?: string;
  /** Usually process.env; passed in so tests and embedders control it. */
  env?: Record<string, string | undefined>;
  /** Path to a config file; default ./attune.config.json when present. */
  file?: string;
  flags?: AttuneConfigInput;
};

export function loadConfig(options: LoadConfigOptions = {}): AttuneConfig {
  const cwd = options.cwd ?? process.cwd();
  let merged: Record<string, unknown> = defaultConfig(cwd);
  const file = options.file ?? join(cwd, CONFIG_FILE_NAME);
  if (options.file !== undefined || existsSync(file)) {
    merged = deepMerge(merged, readConfigFile(file, cwd));
  }
  merged = deepMerge(merged, fromEnv(options.env ?? {}));
  merged = deepMerge(merged, (options.flags ?? {}) as Record<string, unknown>);
  const parsed = configSchema.safeParse(merged);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new ConfigError(`Invalid Attune configuration:\n${issues.join('\n')}`);
  }
  return parsed.data;
}

function readConfigFile(file: string, cwd: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(`Cannot read config file ${file}: ${(error as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`Config file ${file} is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigError(`Config file ${file} must hold a JSON object`);
  }
  const record = value as Record<string, unknown>;
  // Relative paths in a config file are relative to where the user runs attune.
  for (const key of ['home', 'dir'] as const) {
    if (typeof record[key] === 'string') record[key] = resolve(cwd, record[key] as string);
  }
  return record;
}

function fromEnv(env: Record<string, string | undefined>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const models: Record<string, unknown> = {};
  const openai: Record<string, unknown> = {};
  if (env.ATTUNE_HOME) out.home = resolve(env.ATTUNE_HOME);
  if (env.ATTUNE_DIR) out.dir = resolve(env.ATTUNE_DIR);
  if (env.ATTUNE_STORE_URL) out.store = { kind: 'postgres', url: env.ATTUNE_STORE_URL };
  if (env.ATTUNE_PYTHON) out.python = env.ATTUNE_PYTHON;
  if (env.ATTUNE_CHAT_MODEL) models.chat = env.ATTUNE_CHAT_MODEL;
  if (env.ATTUNE_EMBEDDING_MODEL) models.embedding = env.ATTUNE_EMBEDDING_MODEL;
  if (env.ATTUNE_RERANKER_MODEL !== undefined)
    models.reranker = env.ATTUNE_RERANKER_MODEL === 'none' ? '' : env.ATTUNE_RERANKER_MODEL;
  if (env.ATTUNE_VERIFIER_MODEL !== undefined)
    models.verifier = env.ATTUNE_VERIFIER_MODEL === 'none' ? '' : env.ATTUNE_VERIFIER_MODEL;
  if (env.ATTUNE_THREADS) models.threads = Number(env.ATTUNE_THREADS);
  if (env.ATTUNE_ENCODER_RUNTIME) models.encoderRuntime = env.ATTUNE_ENCODER_RUNTIME;
  if (env.ATTUNE_DEFAULT_VISIBILITY) out.defaultVisibility = env.ATTUNE_DEFAULT_VISIBILITY;
  if (env.ATTUNE_CRASH_AT) out.crashAt = env.ATTUNE_CRASH_AT;
  if (env.OPENAI_BASE_URL) openai.baseURL = env.OPENAI_BASE_URL;
  if (env.OPENAI_API_KEY) openai.apiKey = env.OPENAI_API_KEY;
  if (Object.keys(models).length > 0) out.models = models;
  if (Object.keys(openai).length > 0) out.openai = openai;
  return out;
}

function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    if (value === undefined) continue;
    const current = out[key];
    if (isPlainObject(current) && isPlainObject(value)) out[key] = deepMerge(current, value);
    else out[key] = value;
  }
  return out;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
