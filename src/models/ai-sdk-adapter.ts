import { type EmbeddingModel as AISDKEmbeddingModelUnion, APICallError, type LanguageModel } from 'ai';
import { AttuneError } from './model-error.ts';
import type {
  ChatCallOptions,
  ChatModel,
  ChatResult,
  ChatStreamPart,
  EmbeddingModel,
  EmbedResult,
  FinishReason,
  TokenUsage,
} from './model-spec.ts';

/*
 * The spec types come through `ai`'s public unions rather than `@ai-sdk/provider`, so the adapter
 * depends on one package only and moving to the next AI SDK major is a change here alone.
 */
/** The language-model spec `ai` 6.x providers implement. */
export type AISDKLanguageModel = Extract<LanguageModel, { specificationVersion: 'v3' }>;
/** The embedding-model spec `ai` 6.x providers implement. */
export type AISDKEmbeddingModel = Extract<AISDKEmbeddingModelUnion, { specificationVersion: 'v3' }>;

type CallOptions = Parameters<AISDKLanguageModel['doGenerate']>[0];
type AISDKFinishReason = Awaited<ReturnType<AISDKLanguageModel['doGenerate']>>['finishReason'];
type AISDKUsage = Awaited<ReturnType<AISDKLanguageModel['doGenerate']>>['usage'];

export type AISDKChatOptions = {
  /** AI SDK models do not report it; defaults to 4096. */
  contextSize?: number;
  /** Whether the provider honours `responseFormat: json` with a schema; defaults to true. */
  supportsJsonSchema?: boolean;
};

export type AISDKEmbeddingOptions = {
  /** Expected vector size; learned from the first response when omitted. */
  dimensions?: number;
  /** Defaults to 512. */
  maxInputTokens?: number;
};

function assertVersion(model: { specificationVersion?: unknown; provider?: unknown; modelId?: unknown }) {
  if (typeof model !== 'object' || model === null || model.specificationVersion !== 'v3') {
    const version =
      typeof model === 'object' && model !== null ? String(model.specificationVersion) : typeof model;
    throw new AttuneError(
      `Only AI SDK models with specification v3 (ai 6.x) can be wrapped; got ${version}.`,
      {
        hint: 'Pass a provider model object, e.g. openai("gpt-4o-mini"), not a gateway model id string.',
      },
    );
  }
}

/** Any AI SDK 6 language model as an Attune chat model. */
export function fromAISDKLanguageModel(model: AISDKLanguageModel, options: AISDKChatOptions = {}): ChatModel {
  assertVersion(model);
  return new AISDKChatModel(model, options);
}

/** Any AI SDK 6 embedding model as an Attune embedding model. */
export function fromAISDKEmbeddingModel(
  model: AISDKEmbeddingModel,
  options: AISDKEmbeddingOptions = {},
): EmbeddingModel {
  assertVersion(model);
  return new AISDKEmbeddingAdapter(model, options);
}

function mapFinishReason(reason: AISDKFinishReason): FinishReason {
  switch (reason.unified) {
    case 'length':
      return 'length';
    case 'content-filter':
    case 'error':
      return 'error';
    default:
      return 'stop';
  }
}

function mapUsage(usage: AISDKUsage | undefined): TokenUsage {
  return { inputTokens: usage?.inputTokens.total ?? 0, outputTokens: usage?.outputTokens.total ?? 0 };
}

function isAbort(error: unknown, signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true || (error instanceof Error && error.name === 'AbortError');
}

function wrapError(model: { provider: string; modelId: string }, error: unknown): unknown {
  if (AttuneError.isInstance(error)) return error;
  if (APICallError.isInstance(error)) {
    const status = error.statusCode === undefined ? '' : ` with HTTP ${error.statusCode}`;
    return new AttuneError(
      `${model.provider} ${model.modelId}: ${error.url} failed${status}: ${error.message}`,
      {
        cause: error,
        ...(error.isRetryable ? { hint: 'The provider marks this error as retryable.' } : {}),
      },
    );
  }
  const message = error instanceof Error ? error.message : String(error);
  return new AttuneError(`${model.provider} ${model.modelId} failed: ${message}`, { cause: error });
}

class AISDKChatModel implements ChatModel {
  readonly specificationVersion = 'v1' as const;
  readonly provider: string;
  readonly modelId: string;
  readonly contextSize: number;
  readonly supportsJsonSchema: boolean;
  readonly supportsAdapters = false;
  readonly #model: AISDKLanguageModel;

  constructor(model: AISDKLanguageModel, options: AISDKChatOptions) {
    this.#model = model;
    this.provider = model.provider;
    this.modelId = model.modelId;
    this.contextSize = options.contextSize ?? 4096;
    this.supportsJsonSchema = options.supportsJsonSchema ?? true;
  }

  #callOptions(options: ChatCallOptions): CallOptions {
    if (options.adapter) {
      throw new AttuneError(
        `${this.provider} model ${this.modelId} cannot apply the adapter ${options.adapter.path}.`,
        {
          hint: 'Adapters apply to local llama.cpp models; serve a fine-tuned model under its own id instead.',
        },
      );
    }
    return {
      prompt: options.messages.map((m) =>
        m.role === 'system'
          ? { role: 'system' as const, content: m.content }
          : { role: m.role, content: [{ type: 'text' as const, text: m.content }] },
      ),
      // Same default as the local provider, so strategies compare like with like across providers.
      temperature: options.temperature ?? 0,
      ...(options.maxTokens !== undefined ? { maxOutputTokens: options.maxTokens } : {}),
      ...(options.topP !== undefined ? { topP: options.topP } : {}),
      ...(options.frequencyPenalty ? { frequencyPenalty: options.frequencyPenalty } : {}),
      ...(options.presencePenalty ? { presencePenalty: options.presencePenalty } : {}),
      ...(options.seed !== undefined ? { seed: options.seed } : {}),
      ...(options.stop?.length ? { stopSequences: options.stop } : {}),
      ...(options.jsonSchema
        ? { responseFormat: { type: 'json' as const, name: 'output', schema: options.jsonSchema as never } }
        : {}),
      ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}),
    };
  }

  async doGenerate(options: ChatCallOptions): Promise<ChatResult> {
    const call = this.#callOptions(options);
    const started = performance.now();
    try {
      const result = await this.#model.doGenerate(call);
      const text = result.content.map((part) => (part.type === 'text' ? part.text : '')).join('');
      return {
        text,
        finishReason: mapFinishReason(result.finishReason),
        usage: mapUsage(result.usage),
        // Without streaming, the whole answer is the first text the caller can see.
        timeToFirstTokenMs: text ? performance.now() - started : undefined,
      };
    } catch (error) {
      if (isAbort(error, options.abortSignal)) {
        return { text: '', finishReason: 'abort', usage: mapUsage(undefined), timeToFirstTokenMs: undefined };
      }
      throw wrapError(this, error);
    }
  }

  async *doStream(options: ChatCallOptions): AsyncIterable<ChatStreamPart> {
    const call = this.#callOptions(options);
    const started = performance.now();
    let firstTokenAt: number | undefined;
    let text = '';
    let finishReason: FinishReason = 'stop';
    let usage = mapUsage(undefined);
    try {
      const { stream } = await this.#model.doStream(call);
      const reader = stream.getReader();
      try {
        while (true) {
          const { value: part, done } = await reader.read();
          if (done) break;
          if (part.type === 'text-delta' && part.delta) {
            firstTokenAt ??= performance.now();
            text += part.delta;
            yield { type: 'text-delta', delta: part.delta };
          } else if (part.type === 'finish') {
            finishReason = mapFinishReason(part.finishReason);
            usage = mapUsage(part.usage);
          } else if (part.type === 'error') {
            throw part.error;
          }
        }
      } finally {
        // Stops the provider's request when the consumer leaves early.
        await reader.cancel().catch(() => undefined);
      }
    } catch (error) {
      if (!isAbort(error, options.abortSignal)) throw wrapError(this, error);
      finishReason = 'abort';
    }
    yield {
      type: 'finish',
      result: {
        text,
        finishReason,
        usage,
        timeToFirstTokenMs: firstTokenAt === undefined ? undefined : firstTokenAt - started,
      },
    };
  }
}

class AISDKEmbeddingAdapter implements EmbeddingModel {
  readonly specificationVersion = 'v1' as const;
  readonly provider: string;
  readonly modelId: string;
  readonly maxInputTokens: number;
  readonly #model: AISDKEmbeddingModel;
  #dimensions: number | undefined;

  constructor(model: AISDKEmbeddingModel, options: AISDKEmbeddingOptions) {
    this.#model = model;
    this.provider = model.provider;
    this.modelId = model.modelId;
    this.maxInputTokens = options.maxInputTokens ?? 512;
    this.#dimensions = options.dimensions;
  }

  /** 0 until declared or seen in a response. */
  get dimensions(): number {
    return this.#dimensions ?? 0;
  }

  /** The provider's own limit when it states one synchronously; a promised limit is honoured in doEmbed. */
  get maxEmbeddingsPerCall(): number {
    const limit = this.#model.maxEmbeddingsPerCall;
    return typeof limit === 'number' ? limit : 2048;
  }

  async doEmbed(options: { values: string[]; abortSignal?: AbortSignal }): Promise<EmbedResult> {
    const limit = (await this.#model.maxEmbeddingsPerCall) ?? Number.POSITIVE_INFINITY;
    const embeddings: number[][] = [];
    let tokens = 0;
    for (let start = 0; start < options.values.length; start += limit) {
      const values = options.values.slice(start, start + limit);
      let result: Awaited<ReturnType<AISDKEmbeddingModel['doEmbed']>>;
      try {
        result = await this.#model.doEmbed({
          values,
          ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}),
        });
      } catch (error) {
        if (isAbort(error, options.abortSignal)) throw error;
        throw wrapError(this, error);
      }
      if (result.embeddings.length !== values.length) {
        throw new AttuneError(
          `${this.provider} ${this.modelId} returned ${result.embeddings.length} embeddings for ${values.length} inputs.`,
        );
      }
      for (const vector of result.embeddings) {
        this.#dimensions ??= vector.length;
        if (vector.length !== this.#dimensions) {
          throw new AttuneError(
            `${this.provider} ${this.modelId} returned a ${vector.length}-dimensional embedding; expected ${this.#dimensions}.`,
          );
        }
        embeddings.push(normalize(vector));
      }
      tokens += result.usage?.tokens ?? 0;
    }
    return { embeddings, usage: { tokens } };
  }
}

/** Unit length, as the local provider returns, so stores can compare vectors from either by dot product. */
function normalize(vector: readonly number[]): number[] {
  let norm = 0;
  for (const x of vector) norm += x * x;
  norm = Math.sqrt(norm) || 1;
  return vector.map((x) => x / norm);
}
