import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultPrices, parsePriceTable, priceOf, trainingPricePerHour } from './prices.ts';

describe('price tables', () => {
  it("reads Attune's own shape, hosted and local entries alike", () => {
    const table = parsePriceTable(
      {
        models: { hosted: { inputPerMillion: 0.5, outputPerMillion: 1.5 }, gpu: { hardwarePerHour: 2 } },
        embeddingPerMillion: 0.02,
        storagePerGbMonth: 0.1,
      },
      'prices.json',
    );
    assert.deepEqual(priceOf(table, 'hosted'), { inputPerMillion: 0.5, outputPerMillion: 1.5 });
    assert.deepEqual(priceOf(table, 'gpu'), { hardwarePerHour: 2 });
    assert.equal(table.embeddingPerMillion, 0.02);
    assert.equal(trainingPricePerHour(table, 'gpu'), 2);
    assert.throws(
      () => parsePriceTable({ models: { m: { inputPerMillion: -1, outputPerMillion: 1 } } }, 'prices.json'),
      /prices\.json: models\.m/,
    );
  });
  it("reads LiteLLM's table: per-token prices become per-million, sample_spec and non-token models are skipped", () => {
    const table = parsePriceTable(
      {
        sample_spec: { input_cost_per_token: 0, output_cost_per_token: 0, litellm_provider: 'x' },
        'gpt-4o-mini': {
          input_cost_per_token: 1.5e-7,
          output_cost_per_token: 6e-7,
          litellm_provider: 'openai',
          mode: 'chat',
        },
        'text-embedding-3-small': { input_cost_per_token: 2e-8, mode: 'embedding' },
        'dall-e-3': { input_cost_per_pixel: 1e-8, mode: 'image_generation' },
      },
      'model_prices_and_context_window.json',
    );
    // 1.5e-7 USD per token × 1,000,000 = 0.15 USD per million; 6e-7 → 0.60.
    assert.deepEqual(priceOf(table, 'gpt-4o-mini'), { inputPerMillion: 0.15, outputPerMillion: 0.6 });
    assert.deepEqual(priceOf(table, 'text-embedding-3-small'), {
      inputPerMillion: 0.02,
      outputPerMillion: 0,
    });
    assert.deepEqual(Object.keys(table.models).sort(), ['gpt-4o-mini', 'text-embedding-3-small']);
  });
  it('a model missing from the table is an error naming the model and the file', () => {
    const table = parsePriceTable({ models: { a: { hardwarePerHour: 1 } } }, 'mine.json');
    assert.throws(() => priceOf(table, 'llama-70b'), /No price for model "llama-70b" in mine\.json/);
    assert.throws(() => trainingPricePerHour(table, 'h100'), /training hardware "h100" in mine\.json/);
    assert.throws(() => priceOf(defaultPrices, 'toString'), /No price for model "toString"/);
  });
  it('the defaults price the default local models by the hour', () => {
    assert.ok('hardwarePerHour' in priceOf(defaultPrices, 'qwen2.5-coder-1.5b-instruct'));
    assert.ok('inputPerMillion' in priceOf(defaultPrices, 'gpt-4o-mini'));
  });
});
