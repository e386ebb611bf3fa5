import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type OpenAITestServer, startOpenAITestServer } from '../../test-support/openai-test-server.ts';
import { runEmbeddingModelConformance } from './conformance.ts';
import { AttuneError } from './model-error.ts';
import type { ChatModel, ChatResult, EmbeddingModel } from './model-spec.ts';
import type { Models } from './models.ts';
import { createOpenAICompatible, ModelServerError, serverSentEvents } from './openai-compatible-provider.ts';
import { SMALL_CHAT_MODEL, testModels } from './testing.ts';
import { cosineSimilarity } from './vector-math.ts';

const question = [{ role: 'user' as const, content: 'Name one colour of the sky.' }];

describe('OpenAI-compatible provider against a local server backed by real models', () => {
  let models: Models;
  let chat: ChatModel;
  let embedder: EmbeddingModel;
  let server: OpenAITestServer;

  before(async () => {
    models = await testModels({ chat: SMALL_CHAT_MODEL });
    chat = await models.chat();
    embedder = await models.embedding();
    server = await startOpenAITestServer({
      chatModel: chat,
      embeddingModel: embedder,
      intercept: (request) =>
        (request.body as { model?: string } | undefined)?.model === 'broken'
          ? { status: 500, body: { error: { message: 'the GPU caught fire', type: 'server_error' } } }
          : undefined,
    });
  });

  after(async () => {
    await server?.close();
    await models?.dispose();
  });

  it('generates without streaming, with the same text as the model itself', async () => {
    const provider = createOpenAICompatible({ baseURL: server.baseURL, apiKey: 'sk-test' });
    const remote = provider.chatModel('smollm2');
    const direct = await chat.doGenerate({ messages: question, maxTokens: 24 });
    const result = await remote.doGenerate({ messages: question, maxTokens: 24, seed: 1, stop: ['\n\n'] });
    assert.equal(result.text, direct.text);
    assert.ok(result.text.length > 0);
    assert.deepEqual(result.usage, direct.usage);
    assert.ok(result.timeToFirstTokenMs! > 0);

    const request = server.requests.at(-1)!;
    assert.equal(request.path, '/v1/chat/completions');
    assert.equal(request.headers.authorization, 'Bearer sk-test');
    assert.deepEqual(request.body, {
      model: 'smollm2',
      messages: question,
      max_tokens: 24,
      temperature: 0,
      seed: 1,
      stop: ['\n\n'],
    });
  });

  it('streams several deltas whose concatenation is the final text, with usage from the last chunk', async () => {
    const remote = createOpenAICompatible({ baseURL: server.baseURL }).chatModel('smollm2');
    const deltas: string[] = [];
    let result: ChatResult | undefined;
    for await (const part of remote.doStream({ messages: question, maxTokens: 24 })) {
      if (part.type === 'text-delta') deltas.push(part.delta);
      else result = part.result;
    }
    assert.ok(result);
    assert.ok(deltas.length > 3, `only ${deltas.length} deltas`);
    assert.equal(deltas.join(''), result.text);
    assert.ok(result.usage.inputTokens > 0 && result.usage.outputTokens > 0);
    assert.ok(result.timeToFirstTokenMs! > 0);
    const body = server.requests.at(-1)!.body as Record<string, unknown>;
    assert.equal(body.stream, true);
    assert.deepEqual(body.stream_options, { include_usage: true });
  });

  it('reports finish reason length when maxTokens cuts the answer', async () => {
    const remote = createOpenAICompatible({ baseURL: server.baseURL }).chatModel('smollm2');
    const prompt = [{ role: 'user' as const, content: 'Count from one to fifty in words.' }];
    const result = await remote.doGenerate({ messages: prompt, maxTokens: 5 });
    assert.equal(result.finishReason, 'length');
    assert.equal(result.usage.outputTokens, 5);
    let streamed: ChatResult | undefined;
    for await (const part of remote.doStream({ messages: prompt, maxTokens: 5 })) {
      if (part.type === 'finish') streamed = part.result;
    }
    assert.equal(streamed?.finishReason, 'length');
  });

  it('constrains output with response_format json_schema', async () => {
    const remote = createOpenAICompatible({ baseURL: server.baseURL }).chatModel('smollm2');
    const schema = {
      type: 'object',
      properties: { colour: { type: 'string', enum: ['blue', 'grey'] } },
      required: ['colour'],
    };
    const result = await remote.doGenerate({ messages: question, maxTokens: 24, jsonSchema: schema });
    const parsed = JSON.parse(result.text) as { colour: string };
    assert.ok(['blue', 'grey'].includes(parsed.colour));
    assert.deepEqual((server.requests.at(-1)!.body as Record<string, unknown>).response_format, {
      type: 'json_schema',
      json_schema: { name: 'output', schema, strict: true },
    });
  });

  it('embeds in batches, matching the model run directly', async () => {
    const values = [
      'The cat sat on the mat.',
      'Quarterly revenue grew by ten percent.',
      'Refunds take 14 days.',
    ];
    const remote = createOpenAICompatible({ baseURL: server.baseURL }).embeddingModel('minilm', {
      maxEmbeddingsPerCall: 2,
    });
    assert.equal(remote.dimensions, 0);
    const before = server.requests.length;
    const result = await remote.doEmbed({ values });
    const direct = await embedder.doEmbed({ values });
    assert.equal(server.requests.length - before, 2);
    assert.equal(remote.dimensions, 384);
    assert.equal(result.embeddings.length, 3);
    for (const [i, vector] of result.embeddings.entries())
      assert.ok(cosineSimilarity(vector, direct.embeddings[i]!) > 0.999);
    assert.equal(result.usage.tokens, direct.usage.tokens);
  });

  it('aborting a stream ends it with finish reason abort', async () => {
    const remote = createOpenAICompatible({ baseURL: server.baseURL }).chatModel('smollm2');
    const controller = new AbortController();
    let result: ChatResult | undefined;
    let deltas = 0;
    for await (const part of remote.doStream({
      messages: [{ role: 'user', content: 'Tell me a long story.' }],
      maxTokens: 48,
      abortSignal: controller.signal,
    })) {
      if (part.type === 'text-delta' && ++deltas === 2) controller.abort();
      if (part.type === 'finish') result = part.result;
    }
    assert.equal(result?.finishReason, 'abort');
    assert.ok(deltas >= 2 && deltas < 48);
  });

  it('turns an HTTP error into an AttuneError with the status, the server message and the URL', async () => {
    const remote = createOpenAICompatible({ baseURL: `${server.baseURL}/` }).chatModel('broken');
    for (const call of [
      () => remote.doGenerate({ messages: question }),
      () => drain(remote.doStream({ messages: question })),
    ]) {
      await assert.rejects(call, (error: unknown) => {
        assert.ok(error instanceof ModelServerError && AttuneError.isInstance(error));
        assert.equal(error.status, 500);
        assert.equal(error.url, `${server.baseURL}/chat/completions`);
        assert.match(error.message, /HTTP 500/);
        assert.match(error.message, /the GPU caught fire/);
        assert.match(error.message, new RegExp(`${server.baseURL}/chat/completions`));
        return true;
      });
    }
    const missing = createOpenAICompatible({
      baseURL: server.baseURL.replace('/v1', '/nope'),
    }).embeddingModel('x');
    await assert.rejects(missing.doEmbed({ values: ['a'] }), (error: unknown) => {
      assert.ok(error instanceof ModelServerError);
      assert.equal(error.status, 404);
      assert.match(error.hint ?? '', /base URL/);
      return true;
    });
  });

  it('names the base URL when the server cannot be reached', async () => {
    // fetch refuses port 1 itself (a "bad port" in the Fetch standard), before any connection.
    const badPort = createOpenAICompatible({ baseURL: 'http://127.0.0.1:1/v1' });
    await assert.rejects(badPort.chatModel('m').doGenerate({ messages: question }), (error: unknown) => {
      assert.ok(AttuneError.isInstance(error));
      assert.match(error.message, /http:\/\/127\.0\.0\.1:1\/v1/);
      return true;
    });
    await assert.rejects(badPort.embeddingModel('m').doEmbed({ values: ['a'] }), /127\.0\.0\.1:1/);

    // A port that was listening a moment ago gives a real connection refusal.
    const gone = await startOpenAITestServer({});
    await gone.close();
    const refused = createOpenAICompatible({ baseURL: gone.baseURL });
    await assert.rejects(drain(refused.chatModel('m').doStream({ messages: question })), (error: unknown) => {
      assert.ok(AttuneError.isInstance(error));
      assert.match(error.message, new RegExp(gone.baseURL.replaceAll('.', '\\.')));
      assert.match(error.message, /ECONNREFUSED/);
      assert.match(error.hint ?? '', /server is running/);
      return true;
    });
  });

  it('refuses per-call adapters with a clear error', async () => {
    const remote = createOpenAICompatible({ baseURL: server.baseURL }).chatModel('smollm2');
    assert.equal(remote.supportsAdapters, false);
    await assert.rejects(
      remote.doGenerate({ messages: question, adapter: { path: 'support.lora.gguf' } }),
      /cannot apply the adapter support\.lora\.gguf/,
    );
  });
});

describe('serverSentEvents', () => {
  it('splits events across chunk boundaries and line-ending styles', async () => {
    const text = 'data: {"a":1}\r\n\r\n: comment\ndata: {"b":\ndata: 2}\n\nevent: x\rdata: [DONE]';
    const bytes = new TextEncoder().encode(text);
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < bytes.length; i += 3) controller.enqueue(bytes.slice(i, i + 3));
        controller.close();
      },
    });
    const events: string[] = [];
    for await (const data of serverSentEvents(stream)) events.push(data);
    assert.deepEqual(events, ['{"a":1}', '{"b":\n2}', '[DONE]']);
  });
});

async function drain(stream: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of stream) {
    // Only the error matters.
  }
}

{
  let models: Models | undefined;
  let server: OpenAITestServer | undefined;
  runEmbeddingModelConformance(
    'OpenAI-compatible /v1/embeddings (local server, real all-minilm-l6-v2)',
    async () => {
      models = await testModels({ chat: SMALL_CHAT_MODEL });
      server = await startOpenAITestServer({
        chatModel: await models.chat(),
        embeddingModel: await models.embedding(),
      });
      return createOpenAICompatible({ baseURL: server.baseURL }).embeddingModel('all-minilm-l6-v2');
    },
    async () => {
      await server?.close();
      await models?.dispose();
    },
  );
}
