import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Models } from './models.ts';
import { SMALL_CHAT_MODEL, testModels } from './testing.ts';

describe('the shipped reranker (attune-reranker-minilm-l6-squad) in llama.cpp', () => {
  let models: Models;
  before(async () => {
    models = await testModels({ chat: SMALL_CHAT_MODEL });
    await models.cache.pull('attune-reranker-minilm-l6-squad');
  });
  after(() => models.dispose());

  it('scores what PyTorch scored for the trained weights (the GGUF export keeps the head and the input layout)', async () => {
    const reranker = await models.reranker('attune-reranker-minilm-l6-squad');
    assert.ok(reranker);
    const scores = await reranker.rerank('In what country is Normandy located?', [
      'The Normans were the people who in the 10th and 11th centuries gave their name to Normandy, a region in France.',
      'Oxygen is a chemical element with symbol O and atomic number 8.',
      'The Norman dynasty had a major political, cultural and military impact on medieval Europe.',
    ]);
    // sigmoid(logit) from the trained F16 weights in transformers, [CLS] query [SEP] text, token
    // types 0 (models/README.md); the shipped file is Q8_0, hence the tolerance.
    const pytorch = [0.6242, 0.0186, 0.037];
    for (const [i, expected] of pytorch.entries()) {
      assert.ok(Math.abs(scores[i]! - expected) < 0.03, `pair ${i}: ${scores[i]} vs ${expected}`);
    }
  });

  it('cuts a text longer than its window instead of failing, and stops on abort', async () => {
    const reranker = (await models.reranker('attune-reranker-minilm-l6-squad'))!;
    const [score] = await reranker.rerank('Where is Normandy?', ['Normandy is in France. '.repeat(200)]);
    assert.ok(score! > 0 && score! < 1);
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(reranker.rerank('q', ['a', 'b'], controller.signal), /abort/i);
  });

  it('is off unless configured, and a chat model is refused as a reranker', async () => {
    assert.equal(await models.reranker(), undefined);
    await assert.rejects(models.reranker('smollm2-135m-instruct'), /not a reranker/);
  });
});
