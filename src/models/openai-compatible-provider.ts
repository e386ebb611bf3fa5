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

export type OpenAICompatibleSettings = {
  /** Up to and including the API version, e.g. `http://localhost:11434/v1` or `https://api.openai.com/v1`. */
  baseURL: string;
  apiKey?: string;
  headers?: Record<string, string>;
  /** Replaces the global fetch: proxies, recording, custom TLS. */
  fetch?: typeof fetch;
  /** Reported as the models' `provider`; defaults to `openai-compatible`. */
  name?: string;
};

export type OpenAICompatibleChatOptions = {
  /** The server cannot be asked for it portably, so it is declared; defaults to 4096. */
  contextSize?: number;
};

export type OpenAICompatibleEmbeddingOptions = {
  /** Expected vector size; checked against every response. Learned from the first response when omitted. */
  dimensions?: number;
  /** Longest input in the model's tokens; defaults to 512. */
  maxInputTokens?: number;
  /** Values per HTTP request; defaults to 2048, OpenAI's limit. */
  maxEmbeddingsPerCall?: number;
};

export type OpenAICompatibleProvider = {
  chatModel(modelId: string, options?: OpenAICompatibleChatOptions): ChatModel;
  embeddingModel(modelId: string, options?: OpenAICompatibleEmbeddingOptions): EmbeddingModel;
};

/** A server answered with an HTTP error status. */
export class ModelServerError extends AttuneError {
  readonly status: number;
  readonly url: string;
  readonly responseBody: string;
  constructor(url: string, status: number, serverMessage: string, responseBody: string) {
    super(`POST ${url} failed with HTTP ${status}: ${serverMessage}`, { hint: hintForStatus(status) });
    this.name = 'ModelServerError';
    this.status = status;
    this.url = url;
    this.responseBody = responseBody;
  }
}

function hintForStatus(status: number): string | undefined {
  if (status === 401 || status === 403) return 'Check the API key configured for this server.';
  if (status === 404) return 'Check the model id and that the base URL ends with the API version (e.g. /v1).';
  if (status === 429) return 'The server is rate limiting; retry later or lower concurrency.';
  if (status >= 500) return 'The server failed; its logs say more.';
  return undefined;
}

/**
 * Chat and embedding models served over the OpenAI HTTP API: OpenAI itself, Ollama, vLLM,
 * llama.cpp's server, LM Studio and the like.
 */
export function createOpenAICompatible(settings: OpenAICompatibleSettings): OpenAICompatibleProvider {
  const client = new OpenAIClient(settings);
  return {
    chatModel: (modelId, options = {}) => new OpenAICompatibleChatModel(client, modelId, options),
    embeddingModel: (modelId, options = {}) => new OpenAICompatibleEmbeddingModel(client, modelId, options),
  };
}

class OpenAIClient {
  readonly name: string;
  readonly baseURL: string;
  readonly #settings: OpenAICompatibleSettings;

  constructor(settings: OpenAICompatibleSettings) {
    if (!/^https?:\/\//.test(settings.baseURL)) {
      throw new AttuneError(`The base URL "${settings.baseURL}" must start with http:// or https://.`);
    }
    this.#settings = settings;
    this.baseURL = settings.baseURL.replace(/\/+$/, '');
    this.name = settings.name ?? 'openai-compatible';
  }

  /** POSTs JSON and returns the response once its status is known to be a success. */
  async post(path: string, body: unknown, signal: AbortSignal | undefined): Promise<Response> {
    const url = `${this.baseURL}${path}`;
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      ...(this.#settings.apiKey ? { authorization: `Bearer ${this.#settings.apiKey}` } : {}),
      ...this.#settings.headers,
    };
    let response: Response;
    try {
      response = await (this.#settings.fetch ?? fetch)(url, {
        method: 'POST',
        headers,
        body: JSON.stringify(body),
        ...(signal ? { signal } : {}),
      });
    } catch (error) {
      if (signal?.aborted) throw error;
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      const reason = cause?.code ?? cause?.message ?? (error as Error).message;
      throw new AttuneError(`Cannot reach the model server at ${this.baseURL} (${reason}).`, {
        hint: 'Check that the server is running and that the base URL and port are right.',
        cause: error,
      });
    }
    if (!response.ok) {
      const text = await response.text().catch(() => '');
      throw new ModelServerError(url, response.status, serverMessage(text, response.statusText), text);
    }
    return response;
  }
}

function serverMessage(body: string, statusText: string): string {
  try {
    const parsed = JSON.parse(body) as { error?: unknown; message?: unknown; detail?: unknown };
    const error = parsed.error;
    if (typeof error === 'string') return error;
    if (error && typeof error === 'object' && typeof (error as { message?: unknown }).message === 'string') {
      return (error as { message: string }).message;
    }
    if (typeof parsed.message === 'string') return parsed.message;
    if (typeof parsed.detail === 'string') return parsed.detail;
  } catch {
    // Not JSON: proxies and some servers answer errors in plain text or HTML.
  }
  return body.trim().slice(0, 500) || statusText || 'no message';
}

function mapFinishReason(reason: unknown): FinishReason {
  if (reason === 'length') return 'length';
  if (reason === 'content_filter') return 'error';
  return 'stop';
}

type ChatCompletionUsage = { prompt_tokens?: number; completion_tokens?: number };

function mapUsage(usage: ChatCompletionUsage | undefined): TokenUsage {
  return { inputTokens: usage?.prompt_tokens ?? 0, outputTokens: usage?.completion_tokens ?? 0 };
}

function isAbort(error: unknown, signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true || (error instanceof Error && error.name === 'AbortError');
}

export class OpenAICompatibleChatModel implements ChatModel {
  readonly specificationVersion = 'v1' as const;
  readonly provider: string;
  readonly modelId: string;
  readonly contextSize: number;
  readonly supportsJsonSchema = true;
  /** Servers load adapters at start-up (vLLM --lora-modules, llama-server --lora), not per request. */
  readonly supportsAdapters = false;
  readonly #client: OpenAIClient;

  constructor(client: OpenAIClient, modelId: string, options: OpenAICompatibleChatOptions) {
    this.#client = client;
    this.provider = client.name;
    this.modelId = modelId;
    this.contextSize = options.contextSize ?? 4096;
  }

  #body(options: ChatCallOptions, stream: boolean): Record<string, unknown> {
    if (options.adapter) {
      throw new AttuneError(
        `${this.provider} model ${this.modelId} cannot apply the adapter ${options.adapter.path} per call.`,
        {
          hint: 'Load the adapter on the server (vLLM --lora-modules, llama-server --lora) and use the model id it is served under.',
        },
      );
    }
    return {
      model: this.modelId,
      messages: options.messages.map((m) => ({ role: m.role, content: m.content })),
      ...(options.maxTokens !== undefined ? { max_tokens: options.maxTokens } : {}),
      // Same default as the local provider, so a strategy measured locally and remotely compares like with like.
      temperature: options.temperature ?? 0,
      ...(options.topP !== undefined ? { top_p: options.topP } : {}),
      ...(options.frequencyPenalty ? { frequency_penalty: options.frequencyPenalty } : {}),
      ...(options.presencePenalty ? { presence_penalty: options.presencePenalty } : {}),
      ...(options.seed !== undefined ? { seed: options.seed } : {}),
      ...(options.stop?.length ? { stop: options.stop } : {}),
      ...(options.jsonSchema
        ? {
            response_format: {
              type: 'json_schema',
              json_schema: { name: 'output', schema: options.jsonSchema, strict: true },
            },
          }
        : {}),
      ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}),
    };
  }

  async doGenerate(options: ChatCallOptions): Promise<ChatResult> {
    const body = this.#body(options, false);
    const started = performance.now();
    let json: {
      choices?: { message?: { content?: string | null }; finish_reason?: string | null }[];
      usage?: ChatCompletionUsage;
    };
    try {
      const response = await this.#client.post('/chat/completions', body, options.abortSignal);
      json = (await response.json()) as typeof json;
    } catch (error) {
      if (isAbort(error, options.abortSignal)) {
        return { text: '', finishReason: 'abort', usage: mapUsage(undefined), timeToFirstTokenMs: undefined };
      }
      throw error;
    }
    const choice = json.choices?.[0];
    if (!choice)
      throw new AttuneError(`${this.#client.baseURL}/chat/completions answered without any choice.`);
    const text = choice.message?.content ?? '';
    return {
      text,
      finishReason: mapFinishReason(choice.finish_reason),
      usage: mapUsage(json.usage),
      // Without streaming, the whole answer is the first text the caller can see.
      timeToFirstTokenMs: text ? performance.now() - started : undefined,
    };
  }

  async *doStream(options: ChatCallOptions): AsyncIterable<ChatStreamPart> {
    const body = this.#body(options, true);
    const url = `${this.#client.baseURL}/chat/completions`;
    const started = performance.now();
    let firstTokenAt: number | undefined;
    let text = '';
    let finishReason: FinishReason = 'stop';
    let usage: TokenUsage = mapUsage(undefined);
    try {
      const response = await this.#client.post('/chat/completions', body, options.abortSignal);
      if (!response.body) throw new AttuneError(`${url} answered a streaming request without a body.`);
      for await (const data of serverSentEvents(response.body)) {
        if (data === '[DONE]') break;
        let chunk: {
          choices?: { delta?: { content?: string | null }; finish_reason?: string | null }[];
          usage?: ChatCompletionUsage | null;
          error?: unknown;
        };
        try {
          chunk = JSON.parse(data);
        } catch (error) {
          throw new AttuneError(`${url} sent a stream event that is not JSON: ${data.slice(0, 200)}`, {
            cause: error,
          });
        }
        if (chunk.error) {
          throw new AttuneError(`${url} failed mid-stream: ${serverMessage(JSON.stringify(chunk), 'error')}`);
        }
        if (chunk.usage) usage = mapUsage(chunk.usage);
        const choice = chunk.choices?.[0];
        const delta = choice?.delta?.content;
        if (delta) {
          firstTokenAt ??= performance.now();
          text += delta;
          yield { type: 'text-delta', delta };
        }
        if (choice?.finish_reason) finishReason = mapFinishReason(choice.finish_reason);
      }
    } catch (error) {
      if (!isAbort(error, options.abortSignal)) throw error;
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

/** The `data:` payloads of a server-sent event stream, one per event. */
export async function* serverSentEvents(body: ReadableStream<Uint8Array>): AsyncIterable<string> {
  const decoder = new TextDecoder();
  let buffer = '';
  let data: string[] = [];
  const reader = body.getReader();
  try {
    while (true) {
      const { value, done } = await reader.read();
      buffer += done ? decoder.decode() : decoder.decode(value, { stream: true });
      let newline = buffer.search(/\r\n|\n|\r/);
      while (newline >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(
          buffer[newline] === '\r' && buffer[newline + 1] === '\n' ? newline + 2 : newline + 1,
        );
        if (line === '') {
          if (data.length) yield data.join('\n');
          data = [];
        } else if (line.startsWith('data:')) {
          data.push(line.slice(line[5] === ' ' ? 6 : 5));
        }
        newline = buffer.search(/\r\n|\n|\r/);
      }
      if (done) break;
    }
    if (buffer.startsWith('data:')) data.push(buffer.slice(buffer[5] === ' ' ? 6 : 5));
    if (data.length) yield data.join('\n');
  } finally {
    // Stops the download when the consumer leaves early (abort, break).
    await reader.cancel().catch(() => undefined);
  }
}

export class OpenAICompatibleEmbeddingModel implements EmbeddingModel {
  readonly specificationVersion = 'v1' as const;
  readonly provider: string;
  readonly modelId: string;
  readonly maxInputTokens: number;
  readonly maxEmbeddingsPerCall: number;
  readonly #client: OpenAIClient;
  #dimensions: number | undefined;

  constructor(client: OpenAIClient, modelId: string, options: OpenAICompatibleEmbeddingOptions) {
    this.#client = client;
    this.provider = client.name;
    this.modelId = modelId;
    this.maxInputTokens = options.maxInputTokens ?? 512;
    this.maxEmbeddingsPerCall = options.maxEmbeddingsPerCall ?? 2048;
    this.#dimensions = options.dimensions;
  }

  /** 0 until declared or seen in a response. */
  get dimensions(): number {
    return this.#dimensions ?? 0;
  }

  async doEmbed(options: { values: string[]; abortSignal?: AbortSignal }): Promise<EmbedResult> {
    const embeddings: number[][] = [];
    let tokens = 0;
    for (let start = 0; start < options.values.length; start += this.maxEmbeddingsPerCall) {
      const batch = options.values.slice(start, start + this.maxEmbeddingsPerCall);
      const result = await this.#embedBatch(batch, options.abortSignal);
      embeddings.push(...result.embeddings);
      tokens += result.usage.tokens;
    }
    return { embeddings, usage: { tokens } };
  }

  async #embedBatch(values: string[], signal: AbortSignal | undefined): Promise<EmbedResult> {
    const url = `${this.#client.baseURL}/embeddings`;
    const response = await this.#client.post(
      '/embeddings',
      { model: this.modelId, input: values, encoding_format: 'float' },
      signal,
    );
    const json = (await response.json()) as {
      data?: { index?: number; embedding?: unknown }[];
      usage?: { prompt_tokens?: number; total_tokens?: number };
    };
    const data = json.data ?? [];
    if (data.length !== values.length) {
      throw new AttuneError(`${url} returned ${data.length} embeddings for ${values.length} inputs.`);
    }
    const embeddings: number[][] = new Array(values.length);
    data.forEach((item, position) => {
      if (!Array.isArray(item.embedding)) {
        throw new AttuneError(
          `${url} returned a non-float embedding; the server must support encoding_format "float".`,
        );
      }
      const vector = item.embedding as number[];
      this.#dimensions ??= vector.length;
      if (vector.length !== this.#dimensions) {
        throw new AttuneError(
          `${url} returned a ${vector.length}-dimensional embedding; ${this.modelId} is ${this.#dimensions}-dimensional.`,
        );
      }
      embeddings[item.index ?? position] = normalize(vector);
    });
    return { embeddings, usage: { tokens: json.usage?.prompt_tokens ?? json.usage?.total_tokens ?? 0 } };
  }
}

/** Unit length, as the local provider returns, so stores can compare vectors from either by dot product. */
function normalize(vector: readonly number[]): number[] {
  let norm = 0;
  for (const x of vector) norm += x * x;
  norm = Math.sqrt(norm) || 1;
  return vector.map((x) => x / norm);
}
