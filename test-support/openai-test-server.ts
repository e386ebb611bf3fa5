import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AttuneError } from '../src/models/model-error.ts';
import type { ChatCallOptions, ChatMessage, ChatModel, ChatResult, EmbeddingModel } from '../src/models/model-spec.ts';

export type RecordedRequest = {
  method: string;
  /** Path without the query, e.g. `/v1/chat/completions`. */
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
};

export type CannedResponse = { status: number; body: unknown };

export type OpenAITestServerOptions = {
  chatModel?: ChatModel;
  embeddingModel?: EmbeddingModel;
  /** Answers a request instead of the models when it returns a response: error paths, odd servers. */
  intercept?: (request: RecordedRequest) => CannedResponse | undefined;
};

export type OpenAITestServer = {
  /** Includes `/v1`, ready for an OpenAI client's base URL. */
  baseURL: string;
  /** Every request received, in order. */
  requests: RecordedRequest[];
  close(): Promise<void>;
};

/**
 * A real HTTP server on 127.0.0.1 speaking the OpenAI chat-completions and embeddings protocol,
 * backed by Attune models, so HTTP clients are tested against real generations rather than
 * scripted replies.
 */
export async function startOpenAITestServer(options: OpenAITestServerOptions): Promise<OpenAITestServer> {
  const requests: RecordedRequest[] = [];
  const server = createServer((req, res) => {
    handle(req, res, options, requests).catch((error: unknown) => {
      if (!res.headersSent) sendJson(res, 500, errorBody(error));
      res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    baseURL: `http://127.0.0.1:${port}/v1`,
    requests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  options: OpenAITestServerOptions,
  requests: RecordedRequest[],
): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const raw = Buffer.concat(chunks).toString('utf8');
  let body: unknown;
  try {
    body = raw ? JSON.parse(raw) : undefined;
  } catch {
    return sendJson(res, 400, {
      error: { message: 'Request body is not JSON.', type: 'invalid_request_error' },
    });
  }
  const path = (req.url ?? '/').split('?')[0]!;
  const request: RecordedRequest = { method: req.method ?? 'GET', path, headers: req.headers, body };
  requests.push(request);

  const canned = options.intercept?.(request);
  if (canned) return sendJson(res, canned.status, canned.body);

  if (request.method === 'GET' && path === '/v1/models') {
    const ids = [options.chatModel?.modelId, options.embeddingModel?.modelId].filter(Boolean);
    return sendJson(res, 200, {
      object: 'list',
      data: ids.map((id) => ({ id, object: 'model', owned_by: 'attune' })),
    });
  }
  if (request.method === 'POST' && path === '/v1/chat/completions' && options.chatModel) {
    return chatCompletions(res, options.chatModel, body as ChatCompletionRequest);
  }
  if (request.method === 'POST' && path === '/v1/embeddings' && options.embeddingModel) {
    return embeddings(res, options.embeddingModel, body as EmbeddingRequest);
  }
  sendJson(res, 404, { error: { message: `No route for ${request.method} ${path}.`, type: 'not_found' } });
}

type ChatCompletionRequest = {
  model?: string;
  messages?: { role: string; content: string | { type: string; text?: string }[] | null }[];
  max_tokens?: number;
  max_completion_tokens?: number;
  temperature?: number;
  top_p?: number;
  seed?: number;
  stop?: string | string[];
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
  response_format?: { type: string; json_schema?: { schema?: Record<string, unknown> } };
};

function toCallOptions(body: ChatCompletionRequest, abortSignal: AbortSignal): ChatCallOptions {
  if (!Array.isArray(body?.messages) || body.messages.length === 0) {
    throw new AttuneError('messages must be a non-empty array.');
  }
  const messages: ChatMessage[] = body.messages.map((m) => {
    if (m.role !== 'system' && m.role !== 'user' && m.role !== 'assistant') {
      // Clients send developer messages where older servers expect system ones.
      if (m.role !== 'developer') throw new AttuneError(`Unsupported message role "${m.role}".`);
    }
    const content =
      typeof m.content === 'string'
        ? m.content
        : (m.content ?? []).map((part) => (part.type === 'text' ? (part.text ?? '') : '')).join('');
    return { role: m.role === 'developer' ? 'system' : (m.role as ChatMessage['role']), content };
  });
  const maxTokens = body.max_completion_tokens ?? body.max_tokens;
  const schema =
    body.response_format?.type === 'json_schema' ? body.response_format.json_schema?.schema : undefined;
  return {
    messages,
    abortSignal,
    ...(maxTokens !== undefined ? { maxTokens } : {}),
    ...(body.temperature !== undefined ? { temperature: body.temperature } : {}),
    ...(body.top_p !== undefined ? { topP: body.top_p } : {}),
    ...(body.seed !== undefined ? { seed: body.seed } : {}),
    ...(body.stop !== undefined ? { stop: Array.isArray(body.stop) ? body.stop : [body.stop] } : {}),
    ...(schema ? { jsonSchema: schema } : {}),
  };
}

function finishReason(result: ChatResult): string {
  return result.finishReason === 'length' ? 'length' : 'stop';
}

function usage(result: ChatResult) {
  return {
    prompt_tokens: result.usage.inputTokens,
    completion_tokens: result.usage.outputTokens,
    total_tokens: result.usage.inputTokens + result.usage.outputTokens,
  };
}

async function chatCompletions(
  res: ServerResponse,
  model: ChatModel,
  body: ChatCompletionRequest,
): Promise<void> {
  // Stop generating when the client goes away, as real servers do.
  const abort = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) abort.abort();
  });
  let call: ChatCallOptions;
  try {
    call = toCallOptions(body, abort.signal);
  } catch (error) {
    return sendJson(res, 400, errorBody(error));
  }
  const id = `chatcmpl-${Date.now().toString(36)}`;
  const created = Math.floor(Date.now() / 1000);
  const modelId = body.model ?? model.modelId;

  if (!body.stream) {
    let result: ChatResult;
    try {
      result = await model.doGenerate(call);
    } catch (error) {
      return sendJson(res, AttuneError.isInstance(error) ? 400 : 500, errorBody(error));
    }
    return sendJson(res, 200, {
      id,
      object: 'chat.completion',
      created,
      model: modelId,
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: result.text },
          finish_reason: finishReason(result),
        },
      ],
      usage: usage(result),
    });
  }

  const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) =>
    `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model: modelId, choices, ...extra })}\n\n`;
  const stream = model.doStream(call)[Symbol.asyncIterator]();
  // The first part decides the status: argument errors are still a plain 400, as real servers answer.
  let first: IteratorResult<unknown>;
  try {
    first = await stream.next();
  } catch (error) {
    return sendJson(res, AttuneError.isInstance(error) ? 400 : 500, errorBody(error));
  }
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
  });
  res.write(chunk([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }]));
  try {
    let next = first as IteratorResult<Awaited<ReturnType<typeof stream.next>>['value']>;
    while (!next.done) {
      const part = next.value;
      if (part.type === 'text-delta') {
        res.write(chunk([{ index: 0, delta: { content: part.delta }, finish_reason: null }]));
      } else {
        res.write(chunk([{ index: 0, delta: {}, finish_reason: finishReason(part.result) }]));
        if (body.stream_options?.include_usage) res.write(chunk([], { usage: usage(part.result) }));
      }
      next = await stream.next();
    }
    res.write('data: [DONE]\n\n');
  } catch (error) {
    res.write(`data: ${JSON.stringify(errorBody(error))}\n\n`);
  }
  res.end();
}

type EmbeddingRequest = { model?: string; input?: string | string[]; encoding_format?: string };

async function embeddings(res: ServerResponse, model: EmbeddingModel, body: EmbeddingRequest): Promise<void> {
  const input = typeof body?.input === 'string' ? [body.input] : body?.input;
  if (!Array.isArray(input) || input.some((v) => typeof v !== 'string')) {
    return sendJson(res, 400, {
      error: { message: 'input must be a string or an array of strings.', type: 'invalid_request_error' },
    });
  }
  if (body.encoding_format && body.encoding_format !== 'float') {
    return sendJson(res, 400, {
      error: { message: 'Only encoding_format "float" is served here.', type: 'invalid_request_error' },
    });
  }
  const vectors: number[][] = [];
  let tokens = 0;
  for (let start = 0; start < input.length; start += model.maxEmbeddingsPerCall) {
    const result = await model.doEmbed({ values: input.slice(start, start + model.maxEmbeddingsPerCall) });
    vectors.push(...result.embeddings);
    tokens += result.usage.tokens;
  }
  sendJson(res, 200, {
    object: 'list',
    model: body.model ?? model.modelId,
    data: vectors.map((embedding, index) => ({ object: 'embedding', index, embedding })),
    usage: { prompt_tokens: tokens, total_tokens: tokens },
  });
}

function errorBody(error: unknown) {
  const message = error instanceof Error ? error.message : String(error);
  const type = AttuneError.isInstance(error) ? 'invalid_request_error' : 'server_error';
  return { error: { message, type } };
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
