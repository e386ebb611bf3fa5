import { z } from '@hono/zod-openapi';

// Request bodies are strict: an unknown field is a 400 that names it, not silently ignored (a
// misspelt "princpal" must not fall back to something else). The OpenAI-compatible body is the
// exception: OpenAI clients send fields Attune has no use for.

export const AskBody = z
  .object({
    question: z
      .string()
      .min(1)
      .max(4000)
      .openapi({ example: 'How many weeks of parental leave do employees get?' }),
    k: z.number().int().min(1).max(50).optional(),
    mode: z.enum(['generate', 'extractive']).optional(),
    rerank: z.boolean().optional(),
    cache: z.boolean().optional(),
    maxTokens: z.number().int().min(1).max(2048).optional(),
    stream: z.boolean().optional().openapi({ description: 'Server-Sent Events instead of one JSON body' }),
  })
  .strict()
  .openapi('AskRequest');

export const SearchBody = z
  .object({
    query: z.string().min(1).max(4000),
    k: z.number().int().min(1).max(50).optional(),
    rerank: z.boolean().optional(),
  })
  .strict()
  .openapi('SearchRequest');

export const SyncBody = z
  .object({
    sources: z
      .array(z.string().min(1))
      .min(1)
      .max(100)
      .openapi({ description: 'Paths or URLs the server can read' }),
    mirror: z
      .boolean()
      .optional()
      .openapi({ description: 'Remove documents whose source vanished (sync), default true' }),
    note: z.string().max(500).optional(),
  })
  .strict()
  .openapi('SyncRequest');

export const FinetuneBody = z
  .object({
    data: z
      .string()
      .min(1)
      .optional()
      .openapi({ description: 'Training data file on the server (chat JSONL, pairs, transcripts)' }),
    validation: z.string().min(1).optional(),
    fromKnowledgeBase: z
      .object({ count: z.number().int().min(4).max(100_000).optional(), raft: z.boolean().optional() })
      .strict()
      .optional(),
    base: z.string().min(1).optional(),
    backend: z.enum(['local', 'openai']).optional(),
    hyperparameters: z
      .object({
        rank: z.number().int().min(1).max(1024).optional(),
        alpha: z.number().min(0).optional(),
        dropout: z.number().min(0).max(1).optional(),
        targetModules: z.array(z.string().min(1)).min(1).optional(),
        learningRate: z.number().positive().optional(),
        epochs: z.number().int().min(1).max(1000).optional(),
        batchSize: z.number().int().min(1).optional(),
        gradientAccumulation: z.number().int().min(1).optional(),
        maxSeqLength: z.number().int().min(16).optional(),
        seed: z.number().int().min(0).optional(),
        checkpointEvery: z.number().int().min(1).optional(),
        evalEvery: z.number().int().min(0).optional(),
        packing: z.boolean().optional(),
      })
      .strict()
      .optional(),
    allowUnscanned: z.boolean().optional(),
  })
  .strict()
  .openapi('FinetuneRequest');

export const PullBody = z
  .object({ names: z.array(z.string().min(1)).max(20).optional() })
  .strict()
  .openapi('PullRequest');

export const ListQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(10_000).optional(),
    offset: z.coerce.number().int().min(0).optional(),
  })
  .strict();

export const AuditQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(10_000).optional(),
    status: z.enum(['answered', 'abstained', 'failed']).optional(),
    since: z.string().datetime({ offset: true }).optional(),
  })
  .strict();

export const AuditShowQuery = z.object({ documents: z.enum(['true', 'false']).optional() }).strict();

// Versions are 32-bit in the stores; a larger number names no version.
export const DocumentQuery = z
  .object({ version: z.coerce.number().int().min(1).max(2_147_483_647).optional() })
  .strict();

export const EvalRunBody = z
  .object({
    testSet: z.string().min(1).max(200).openapi({ description: 'A test set imported on the server' }),
    strategies: z
      .string()
      .min(1)
      .max(500)
      .openapi({ description: 'Comma-separated: base, rag, extractive, ft, hybrid, or name@model' }),
    adapter: z.string().min(1).max(200).optional(),
    repeats: z.number().int().min(1).max(10).optional(),
    freshness: z.number().int().min(0).max(1000).optional(),
  })
  .strict()
  .openapi('EvalRunRequest');

/** Job and run ids: a safe file name, as their stores write them. */
export const JobIdParam = z.object({
  id: z
    .string()
    .min(1)
    .max(200)
    .openapi({ param: { name: 'id', in: 'path' } }),
});

export const IdParam = z.object({
  id: z
    .string()
    .min(1)
    .max(2000)
    .openapi({ param: { name: 'id', in: 'path' }, description: 'URL-encoded id' }),
});

const TextPart = z.object({ type: z.literal('text'), text: z.string() }).passthrough();

export const ChatCompletionBody = z
  .object({
    model: z.string().min(1),
    messages: z
      .array(
        z
          .object({
            role: z.enum(['system', 'developer', 'user', 'assistant', 'tool']),
            content: z.union([z.string(), z.array(TextPart), z.null()]).optional(),
          })
          .passthrough(),
      )
      .min(1),
    stream: z.boolean().optional(),
    max_tokens: z.number().int().min(1).max(2048).optional(),
    max_completion_tokens: z.number().int().min(1).max(2048).optional(),
    temperature: z.number().min(0).max(2).optional(),
    seed: z.number().int().optional(),
  })
  .passthrough()
  .openapi('ChatCompletionRequest');

export const EmbeddingsBody = z
  .object({
    model: z.string().min(1),
    input: z.union([z.string(), z.array(z.string()).min(1).max(256)]),
    encoding_format: z.enum(['float', 'base64']).optional(),
  })
  .passthrough()
  .openapi('EmbeddingsRequest');

/** Response bodies are documented loosely: they are the library's own result objects. */
export const AnyJson = z.object({}).passthrough();

export const ProblemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number(),
    detail: z.string(),
  })
  .passthrough()
  .openapi('Problem');
