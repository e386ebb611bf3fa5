import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { APICallError } from 'ai';
import { convertArrayToReadableStream, MockEmbeddingModelV3, MockLanguageModelV3 } from 'ai/test';
import { type OpenAITestServer, startOpenAITestServer } from '../../test-support/openai-test-server.ts';
import {
  type AISDKLanguageModel,
  fromAISDKEmbeddingModel,
  fromAISDKLanguageModel,
} from './ai-sdk-adapter.ts';
import { AttuneError } from './model-error.ts';
import type { ChatModel, ChatResult, ChatStreamPart, EmbeddingModel } from './model-spec.ts';
import type { Models } from './models.ts';
import { SMALL_CHAT_MODEL, testModels } from './testing.ts';

const usage = (input: number, output: number) => ({
  inputTokens: { total: input, noCache: input, cacheRead: undefined, cacheWrite: undefined },
  outputTokens: { total: output, text: output, reasoning: undefined },
});

async function collect(
  stream: AsyncIterable<ChatStreamPart>,
): Promise<{ deltas: string[]; result: ChatResult }> {
  const deltas: string[] = [];
  let result: ChatResult | undefined;
  for await (const part of stream) {
    if (part.type === 'text-delta') deltas.push(part.delta);
    else result = part.result;
  }
  assert.ok(result, 'the stream ended without a finish part');
  return { deltas, result };
}

// Scripted models check only the mapping between the two specs; the real path is tested below.
describe('AI SDK adapter: mapping (scripted AI SDK mocks)', () => {
  it('maps messages and options into the call and the result back', async () => {
    const mock = new MockLanguageModelV3({
      provider: 'mock',
      modelId: 'm1',
      doGenerate: {
        content: [
          { type: 'reasoning', text: 'hidden' },
          { type: 'text', text: 'Hello ' },
          { type: 'text', text: 'there' },
        ],
        finishReason: { unified: 'length', raw: 'max_tokens' },
        usage: usage(11, 7),
        warnings: [],
      },
    });
    const model = fromAISDKLanguageModel(mock, { contextSize: 8192 });
    assert.equal(model.provider, 'mock');
    assert.equal(model.modelId, 'm1');
    assert.equal(model.contextSize, 8192);
    const result = await model.doGenerate({
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: 'Hello.' },
        { role: 'user', content: 'Again' },
      ],
      maxTokens: 9,
      topP: 0.5,
      seed: 3,
      stop: ['END'],
      jsonSchema: { type: 'object' },
    });
    assert.equal(result.text, 'Hello there');
    assert.equal(result.finishReason, 'length');
    assert.deepEqual(result.usage, { inputTokens: 11, outputTokens: 7 });
    const call = mock.doGenerateCalls[0]!;
    assert.deepEqual(call.prompt, [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: [{ type: 'text', text: 'Hi' }] },
      { role: 'assistant', content: [{ type: 'text', text: 'Hello.' }] },
      { role: 'user', content: [{ type: 'text', text: 'Again' }] },
    ]);
    assert.equal(call.maxOutputTokens, 9);
    assert.equal(call.temperature, 0);
    assert.equal(call.topP, 0.5);
    assert.equal(call.seed, 3);
    assert.deepEqual(call.stopSequences, ['END']);
    assert.deepEqual(call.responseFormat, { type: 'json', name: 'output', schema: { type: 'object' } });
  });

  it('maps stream parts, finish reasons and usage; an error part becomes an AttuneError', async () => {
    const script = (finish: { unified: 'stop' | 'content-filter' | 'tool-calls'; raw: string }) =>
      new MockLanguageModelV3({
        doStream: {
          stream: convertArrayToReadableStream([
            { type: 'stream-start', warnings: [] },
            { type: 'text-start', id: 't' },
            { type: 'reasoning-delta', id: 'r', delta: 'thinking' },
            { type: 'text-delta', id: 't', delta: 'a' },
            { type: 'text-delta', id: 't', delta: 'b' },
            { type: 'text-end', id: 't' },
            { type: 'finish', finishReason: finish, usage: usage(3, 2) },
          ]),
        },
      });
    const { deltas, result } = await collect(
      fromAISDKLanguageModel(script({ unified: 'stop', raw: 'stop' })).doStream({
        messages: [{ role: 'user', content: 'x' }],
      }),
    );
    assert.deepEqual(deltas, ['a', 'b']);
    assert.equal(result.text, 'ab');
    assert.equal(result.finishReason, 'stop');
    assert.deepEqual(result.usage, { inputTokens: 3, outputTokens: 2 });
    assert.ok(result.timeToFirstTokenMs! >= 0);
    const filtered = await collect(
      fromAISDKLanguageModel(script({ unified: 'content-filter', raw: 'x' })).doStream({
        messages: [{ role: 'user', content: 'x' }],
      }),
    );
    assert.equal(filtered.result.finishReason, 'error');

    const failing = new MockLanguageModelV3({
      provider: 'mock',
      modelId: 'bad',
      doStream: {
        stream: convertArrayToReadableStream([
          { type: 'text-delta', id: 't', delta: 'a' },
          { type: 'error', error: new Error('overloaded') },
        ]),
      },
    });
    await assert.rejects(
      collect(fromAISDKLanguageModel(failing).doStream({ messages: [{ role: 'user', content: 'x' }] })),
      (error: unknown) => AttuneError.isInstance(error) && /mock bad failed: overloaded/.test(error.message),
    );
  });

  it('wraps API call errors with status and URL, and refuses adapters and non-v3 models', async () => {
    const mock = new MockLanguageModelV3({
      doGenerate: async () => {
        throw new APICallError({
          message: 'Rate limit reached',
          url: 'https://api.example.com/v1/chat/completions',
          requestBodyValues: {},
          statusCode: 429,
        });
      },
    });
    const model = fromAISDKLanguageModel(mock);
    await assert.rejects(
      model.doGenerate({ messages: [{ role: 'user', content: 'x' }] }),
      (error: unknown) => {
        assert.ok(AttuneError.isInstance(error));
        assert.match(
          error.message,
          /api\.example\.com\/v1\/chat\/completions failed with HTTP 429: Rate limit reached/,
        );
        assert.match(error.hint ?? '', /retryable/);
        return true;
      },
    );
    await assert.rejects(
      model.doGenerate({ messages: [{ role: 'user', content: 'x' }], adapter: { path: 'a.gguf' } }),
      /cannot apply the adapter a\.gguf/,
    );
    assert.throws(
      () => fromAISDKLanguageModel('openai/gpt-4o' as unknown as AISDKLanguageModel),
      /specification v3/,
    );
  });

  it('embeds in batches of the provider limit and normalises vectors', async () => {
    const mock = new MockEmbeddingModelV3({
      maxEmbeddingsPerCall: Promise.resolve(2),
      doEmbed: async ({ values }) => ({
        embeddings: values.map((v) => [v.length, 0, 0]),
        usage: { tokens: values.length },
        warnings: [],
      }),
    });
    const model = fromAISDKEmbeddingModel(mock);
    assert.equal(model.dimensions, 0);
    const result = await model.doEmbed({ values: ['a', 'bb', 'ccc', 'dddd', 'eeeee'] });
    assert.deepEqual(
      mock.doEmbedCalls.map((c) => c.values),
      [['a', 'bb'], ['ccc', 'dddd'], ['eeeee']],
    );
    assert.deepEqual(result.embeddings[2], [1, 0, 0]);
    assert.equal(result.usage.tokens, 5);
    assert.equal(model.dimensions, 3);
  });
});

describe('AI SDK adapter: @ai-sdk/openai-compatible against a local server backed by real models', () => {
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
          ? { status: 503, body: { error: { message: 'model is loading', type: 'server_error' } } }
          : undefined,
    });
  });

  after(async () => {
    await server?.close();
    await models?.dispose();
  });

  const provider = () =>
    createOpenAICompatible({
      name: 'local',
      baseURL: server.baseURL,
      includeUsage: true,
      supportsStructuredOutputs: true,
    });
  const question = [{ role: 'user' as const, content: 'What is the capital of France?' }];

  it('generates the same text as the model run directly', async () => {
    const model = fromAISDKLanguageModel(provider().chatModel('smollm2'));
    const direct = await chat.doGenerate({ messages: question, maxTokens: 24 });
    const result = await model.doGenerate({ messages: question, maxTokens: 24 });
    assert.ok(result.text.length > 0);
    assert.equal(result.text, direct.text);
    assert.deepEqual(result.usage, direct.usage);
    assert.equal(result.finishReason, direct.finishReason);
    const body = server.requests.at(-1)!.body as Record<string, unknown>;
    assert.equal(body.max_tokens, 24);
    assert.equal(body.temperature, 0);
  });

  it('streams deltas that add up to the final text, with usage', async () => {
    const model = fromAISDKLanguageModel(provider().chatModel('smollm2'));
    const { deltas, result } = await collect(model.doStream({ messages: question, maxTokens: 24 }));
    assert.ok(deltas.length > 3, `only ${deltas.length} deltas`);
    assert.equal(deltas.join(''), result.text);
    assert.ok(result.usage.inputTokens > 0 && result.usage.outputTokens > 0);
    assert.ok(result.timeToFirstTokenMs! > 0);
  });

  it('passes a JSON schema through as response_format and gets matching JSON', async () => {
    const model = fromAISDKLanguageModel(provider().chatModel('smollm2'));
    const schema = {
      type: 'object',
      properties: { city: { type: 'string', enum: ['Paris', 'Lyon'] } },
      required: ['city'],
    };
    const result = await model.doGenerate({ messages: question, maxTokens: 24, jsonSchema: schema });
    assert.ok(['Paris', 'Lyon'].includes((JSON.parse(result.text) as { city: string }).city));
    const body = server.requests.at(-1)!.body as { response_format?: { type: string } };
    assert.equal(body.response_format?.type, 'json_schema');
  });

  it('embeds like the model run directly', async () => {
    const model = fromAISDKEmbeddingModel(provider().embeddingModel('minilm'));
    const values = ['Refunds are issued within 14 days.', 'The office is closed on Sundays.'];
    const [remote, direct] = [await model.doEmbed({ values }), await embedder.doEmbed({ values })];
    assert.equal(model.dimensions, 384);
    for (const [i, vector] of remote.embeddings.entries()) {
      let dot = 0;
      for (let j = 0; j < vector.length; j++) dot += vector[j]! * direct.embeddings[i]![j]!;
      assert.ok(dot > 0.999, `cosine ${dot}`);
    }
  });

  it('reports an HTTP error from the server as an AttuneError with status and message', async () => {
    const model = fromAISDKLanguageModel(provider().chatModel('broken'));
    await assert.rejects(model.doGenerate({ messages: question, maxTokens: 8 }), (error: unknown) => {
      assert.ok(AttuneError.isInstance(error));
      assert.match(error.message, /HTTP 503/);
      assert.match(error.message, /model is loading/);
      assert.match(error.message, /\/v1\/chat\/completions/);
      return true;
    });
  });
});
