import { loadConfig } from '../config/index.ts';
import { Models } from './models.ts';
import { isRemoteModelName } from './remote-model.ts';

/**
 * The small chat model for tests of mechanics (training, generation plumbing, datasets), where the
 * default model's answer quality is not what is tested and its size would only cost minutes.
 */
export const SMALL_CHAT_MODEL = 'smollm2-135m-instruct';

/**
 * Real default models for tests in any module: pulls them into ATTUNE_HOME on first use (the test
 * runner does this once up front), then loads them. `chat` overrides the configured chat model.
 * Call `dispose()` in an `after` hook.
 */
export async function testModels(options: { chat?: string; threads?: number } = {}): Promise<Models> {
  const config = loadConfig({ env: process.env });
  if (options.chat) config.models.chat = options.chat;
  if (options.threads !== undefined) config.models.threads = options.threads;
  const models = new Models(config);
  for (const name of [models.defaultChatName, models.defaultEmbeddingName])
    if (!isRemoteModelName(name)) await models.cache.pull(name);
  return models;
}
