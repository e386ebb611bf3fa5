import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type OpenAITestServer, startOpenAITestServer } from '../../test-support/openai-test-server.ts';
import { Attune } from '../attune.ts';
import { AttuneError } from './model-error.ts';
import type { ChatModel, EmbeddingModel } from './model-spec.ts';
import type { Models } from './models.ts';
import { estimatingTokenizer, parseRemoteModelName } from './remote-model.ts';
import { testModels } from './testing.ts';

describe('remote model names', () => {
  it('parses openai-compatible:<base URL>#<model>, and names the form when it is wrong', () => {
    assert.deepEqual(parseRemoteModelName('openai-compatible:http://127.0.0.1:11434/v1/#qwen2.5:7b'), {
      kind: 'openai-compatible',
      baseURL: 'http://127.0.0.1:11434/v1',
      modelId: 'qwen2.5:7b',
    });
    for (const bad of [
      'openai-compatible:qwen',
      'openai-compatible:ftp://x/v1#m',
      'openai-compatible:http://x/v1#',
    ])
      assert.throws(
        () => parseRemoteModelName(bad),
        (e: unknown) => AttuneError.isInstance(e) && /form/.test((e as Error).message),
      );
  });
  it('over-estimates token counts so a prompt never overflows the server', () => {
    const t = estimatingTokenizer('m');
    assert.ok(t.countTokens('Annual plans can be refunded within 30 days.') >= 10);
  });
});

describe('a chat model on an OpenAI-compatible server, chosen by configuration alone', () => {
  let models: Models;
  let chat: ChatModel;
  let embedder: EmbeddingModel;
  let server: OpenAITestServer;
  const work = mkdtempSync(join(tmpdir(), 'attune-remote-'));

  before(async () => {
    models = await testModels();
    chat = await models.chat();
    embedder = await models.embedding();
    // A real local model behind the OpenAI wire protocol, as Ollama or llama.cpp server would serve it.
    server = await startOpenAITestServer({ chatModel: chat, embeddingModel: embedder });
    writeFileSync(
      join(work, 'shipping.md'),
      'Orders ship from the Leeds warehouse within 2 business days.\n',
    );
  });
  after(async () => {
    await server?.close();
    await models?.dispose();
    rmSync(work, { recursive: true, force: true });
  });

  it('answers through ATTUNE_CHAT_MODEL=openai-compatible:... with the same text the model gives locally', async () => {
    const env = { ...process.env, ATTUNE_DIR: join(work, '.attune') };
    const local = await Attune.open({ cwd: work, env });
    await local.sync([join(work, 'shipping.md')]);
    const ask = (a: Attune) =>
      a.ask('Where do orders ship from?', { principal: { user: 'ann', groups: [] }, cache: false });
    const expected = await ask(local);
    await local.close();

    const remote = await Attune.open({
      cwd: work,
      env: {
        ...env,
        ATTUNE_CHAT_MODEL: `openai-compatible:${server.baseURL}#${models.defaultChatName}`,
        OPENAI_API_KEY: 'sk-test',
      },
    });
    const got = await ask(remote);
    await remote.close();
    const calls = server.requests.filter((r) => r.path === '/v1/chat/completions');
    assert.ok(calls.length >= 1, 'the server was asked');
    assert.equal((calls.at(-1)!.body as { model: string }).model, models.defaultChatName);
    assert.equal(calls.at(-1)!.headers.authorization, 'Bearer sk-test', 'the API key from the environment');
    // The local model generated the remote answer: same evidence, same prompt (chosen by the model's
    // family, named the same), same draft, same verdict.
    assert.equal(got.abstained, expected.abstained);
    assert.equal(got.answer, expected.answer);
  });
});
