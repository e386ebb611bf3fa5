import { loadConfig } from '../config/index.ts';
import { Models } from './models.ts';

/**
 * Real default models for tests in any module: pulls them into ATTUNE_HOME on first use (the test
 * runner does this once up front), then loads them. Call `dispose()` in an `after` hook.
 */
export async function testModels(): Promise<Models> {
  const models = new Models(loadConfig({ env: process.env }));
  for (const name of [models.defaultChatName, models.defaultEmbeddingName]) await models.cache.pull(name);
  return models;
}
