import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startOpenAITestServer } from '../../test-support/openai-test-server.ts';
import {
  embed,
  embedMany,
  generateObject,
  generateText,
  NoObjectGeneratedError,
  schemaViolation,
  streamText,
} from './generate.ts';
import { AttuneError, SchemaNotSupportedError } from './model-error.ts';
import type { ChatModel, EmbeddingModel, Tokenizer } from './model-spec.ts';
import type { Models } from './models.ts';
import { createOpenAICompatible } from './openai-compatible-provider.ts';
import { SMALL_CHAT_MODEL, testModels } from './testing.ts';
import { cosineSimilarity } from './vector-math.ts';

describe('generate wrappers with real local models', () => {
  let models: Models;
  let chat: ChatModel;
  let embedder: EmbeddingModel;
  let tokenizer: Tokenizer;

  before(async () => {
    models = await testModels({ chat: SMALL_CHAT_MODEL });
    chat = await models.chat();
    embedder = await models.embedding();
    tokenizer = await models.tokenizer(models.defaultChatName);
  });

  after(async () => {
    await models?.dispose();
  });

  it('generateText returns text, with a system prompt placed first', async () => {
    const result = await generateText({
      model: chat,
      system: 'You are a helpful assistant.',
      prompt: 'What is the capital of France?',
      maxTokens: 24,
    });
    assert.ok(result.text.trim().length > 0);
    assert.ok(['stop', 'length'].includes(result.finishReason));
    assert.ok(result.usage.inputTokens > 0 && result.usage.outputTokens > 0);
    assert.ok(result.timeToFirstTokenMs! > 0);
  });

  it('streamText yields several deltas that add up to the final text', async () => {
    const { textStream, result } = streamText({
      model: chat,
      messages: [{ role: 'user', content: 'Describe the sea in one sentence.' }],
      maxTokens: 32,
    });
    const deltas: string[] = [];
    for await (const delta of textStream) deltas.push(delta);
    const final = await result;
    assert.ok(deltas.filter(Boolean).length > 3, `only ${deltas.length} deltas`);
    assert.equal(deltas.join(''), final.text);
  });

  it('streamText result settles without reading textStream', async () => {
    const { result } = streamText({ model: chat, prompt: 'Say hello.', maxTokens: 8 });
    const final = await result;
    assert.ok(final.text.length > 0);
  });

  it('maxTokens limits the output and reports finish reason length; usage counts the model tokens', async () => {
    const result = await generateText({
      model: chat,
      prompt: 'Count from one to fifty in words.',
      maxTokens: 6,
    });
    assert.equal(result.finishReason, 'length');
    assert.equal(result.usage.outputTokens, 6);
    assert.equal(tokenizer.countTokens(result.text), tokenizer.encode(result.text).length);
    assert.equal(tokenizer.countTokens(result.text), result.usage.outputTokens);
    assert.equal(tokenizer.decode(tokenizer.encode(result.text)), result.text);
  });

  it('generateObject parses JSON that matches the schema', async () => {
    const schema = {
      type: 'object',
      properties: { name: { type: 'string' }, age: { type: 'integer' } },
      required: ['name', 'age'],
    };
    const result = await generateObject<{ name: string; age: number }>({
      model: chat,
      schema,
      prompt: 'Alice is 30 years old. Give her name and age as JSON.',
      maxTokens: 48,
    });
    assert.deepEqual(result.object, { name: 'Alice', age: 30 });
    assert.deepEqual(result.object, JSON.parse(result.text));
  });

  it('generateObject refuses a schema keyword the grammar cannot enforce', async () => {
    const schema = { type: 'object', properties: { code: { type: 'string', pattern: '^[A-Z]{3}$' } } };
    await assert.rejects(
      generateObject({ model: chat, schema, prompt: 'Give a code.', maxTokens: 16 }),
      (error: unknown) => error instanceof SchemaNotSupportedError && /pattern/.test(error.message),
    );
  });

  it('generateObject explains output cut off by maxTokens', async () => {
    const schema = {
      type: 'object',
      properties: { story: { type: 'string' } },
      required: ['story'],
    };
    await assert.rejects(
      generateObject({ model: chat, schema, prompt: 'Tell a long story as JSON.', maxTokens: 4 }),
      (error: unknown) =>
        error instanceof NoObjectGeneratedError &&
        /not JSON/.test(error.message) &&
        /maxTokens/.test(error.hint!),
    );
  });

  it('embeddings put paraphrases closer than unrelated sentences', async () => {
    const pairs = [
      ['How do I reset my password?', 'I forgot my password and need to change it.'],
      ['The refund arrives within fourteen days.', 'You will get your money back in two weeks.'],
      ['The office is closed on public holidays.', 'On bank holidays the workplace does not open.'],
      ['Our CEO announced record quarterly profits.', 'The company chief reported its best quarter ever.'],
      ['Cats sleep for most of the day.', 'Felines spend the majority of their time asleep.'],
    ] as const;
    const { embeddings } = await embedMany({ model: embedder, values: pairs.flat() });
    assert.equal(embeddings.length, 10);
    for (let i = 0; i < pairs.length; i++) {
      const paraphrase = cosineSimilarity(embeddings[2 * i]!, embeddings[2 * i + 1]!);
      for (let j = 0; j < pairs.length; j++) {
        if (j === i) continue;
        const unrelated = cosineSimilarity(embeddings[2 * i]!, embeddings[2 * j + 1]!);
        assert.ok(
          paraphrase > unrelated,
          `pair ${i}: paraphrase ${paraphrase} <= unrelated ${unrelated} (${j})`,
        );
      }
    }
    const single = await embed({ model: embedder, value: pairs[0][0] });
    assert.equal(single.embedding.length, 384);
    assert.ok(cosineSimilarity(single.embedding, embeddings[0]!) > 0.9999);
    assert.ok(single.usage.tokens > 0);
  });

  it('embedMany batches by maxEmbeddingsPerCall and reports progress', async () => {
    const batches: number[] = [];
    const limited: EmbeddingModel = {
      specificationVersion: 'v1',
      provider: embedder.provider,
      modelId: embedder.modelId,
      dimensions: embedder.dimensions,
      maxInputTokens: embedder.maxInputTokens,
      maxEmbeddingsPerCall: 2,
      doEmbed: (options) => {
        batches.push(options.values.length);
        return embedder.doEmbed(options);
      },
    };
    const progress: string[] = [];
    const values = ['one', 'two', 'three', 'four', 'five'];
    const result = await embedMany({
      model: limited,
      values,
      onProgress: ({ done, total }) => progress.push(`${done}/${total}`),
    });
    assert.deepEqual(batches, [2, 2, 1]);
    assert.deepEqual(progress, ['2/5', '4/5', '5/5']);
    assert.equal(result.embeddings.length, 5);
    assert.deepEqual((await embedMany({ model: limited, values: [] })).embeddings, []);
  });

  it('rejects bad arguments before calling the model', async () => {
    const user = [{ role: 'user' as const, content: 'hi' }];
    const cases: [string, () => unknown, RegExp][] = [
      ['empty messages', () => generateText({ model: chat, messages: [] }), /non-empty/],
      ['no input', () => generateText({ model: chat } as never), /prompt or messages/],
      ['both inputs', () => generateText({ model: chat, prompt: 'a', messages: user } as never), /not both/],
      ['blank prompt', () => generateText({ model: chat, prompt: '  ' }), /non-empty/],
      [
        'last not user',
        () => generateText({ model: chat, messages: [{ role: 'assistant', content: 'x' }] }),
        /user/,
      ],
      [
        'bad role',
        () => generateText({ model: chat, messages: [{ role: 'tool', content: 'x' }] as never }),
        /role/,
      ],
      ['maxTokens 0', () => generateText({ model: chat, messages: user, maxTokens: 0 }), /maxTokens/],
      ['maxTokens -1', () => generateText({ model: chat, messages: user, maxTokens: -1 }), /maxTokens/],
      ['maxTokens 1.5', () => generateText({ model: chat, messages: user, maxTokens: 1.5 }), /maxTokens/],
      ['maxTokens > context', () => generateText({ model: chat, messages: user, maxTokens: 1e6 }), /context/],
      ['temperature', () => generateText({ model: chat, messages: user, temperature: -1 }), /temperature/],
      ['topP', () => generateText({ model: chat, messages: user, topP: 0 }), /topP/],
      ['stop', () => generateText({ model: chat, messages: user, stop: [''] }), /stop/],
      ['schema', () => generateObject({ model: chat, messages: user, schema: [] as never }), /schema/],
      ['embed value', () => embed({ model: embedder, value: 3 as never }), /value/],
      ['embed values', () => embedMany({ model: embedder, values: 'abc' as never }), /values/],
    ];
    for (const [name, call, pattern] of cases) {
      await assert.rejects(
        async () => call(),
        (error: unknown) => AttuneError.isInstance(error) && pattern.test(error.message),
        name,
      );
    }
    assert.throws(() => streamText({ model: chat, messages: [] }), /non-empty/);
  });

  it('refuses adapters on a model that cannot apply them', async () => {
    const remote = createOpenAICompatible({ baseURL: 'http://127.0.0.1:9/v1' }).chatModel('m');
    await assert.rejects(
      generateText({ model: remote, prompt: 'hi', adapter: { path: 'a.gguf' } }),
      /cannot apply adapters/,
    );
  });

  it('streamText surfaces a failing provider on both textStream and result', async () => {
    const server = await startOpenAITestServer({ chatModel: chat });
    await server.close();
    const remote = createOpenAICompatible({ baseURL: server.baseURL }).chatModel('m');
    const { textStream, result } = streamText({ model: remote, prompt: 'hi', maxTokens: 8 });
    await assert.rejects(async () => {
      for await (const _ of textStream) {
        // The error is what matters.
      }
    }, /Cannot reach the model server/);
    await assert.rejects(result, /Cannot reach the model server/);
  });
});

describe('schemaViolation', () => {
  const schema = {
    type: 'object',
    properties: {
      name: { type: 'string' },
      age: { type: 'integer' },
      tags: { type: 'array', items: { enum: ['a', 'b'] } },
    },
    required: ['name', 'age'],
    additionalProperties: false,
  };

  it('accepts matching values and names the first mismatch', () => {
    assert.equal(schemaViolation(schema, { name: 'Al', age: 3, tags: ['a'] }), undefined);
    assert.match(schemaViolation(schema, { name: 'Al' })!, /missing required property "age"/);
    assert.match(schemaViolation(schema, { name: 'Al', age: 3.5 })!, /\$\.age should be integer, got number/);
    assert.match(
      schemaViolation(schema, { name: 'Al', age: 3, tags: ['c'] })!,
      /\$\.tags\[0\] should be one of/,
    );
    assert.match(schemaViolation(schema, { name: 'Al', age: 3, x: 1 })!, /unexpected property "x"/);
    assert.match(schemaViolation(schema, [])!, /should be object, got array/);
    assert.equal(schemaViolation({ type: 'number' }, 3), undefined);
    assert.equal(schemaViolation({ anyOf: [{ type: 'string' }, { type: 'null' }] }, null), undefined);
    assert.match(schemaViolation({ anyOf: [{ type: 'string' }, { type: 'null' }] }, 1)!, /anyOf/);
  });
});
