import assert from 'node:assert/strict';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { convertBertToGguf } from './bert-gguf.ts';
import { runtimeFile } from './catalog.ts';
import { float32ToFloat16, quantizeQ8_0 } from './gguf-writer.ts';
import { sha256File } from './model-cache.ts';
import type { Models } from './models.ts';
import { testModels } from './testing.ts';

describe('BERT safetensors → GGUF', () => {
  let models: Models;
  before(async () => {
    models = await testModels();
  });
  after(() => models.dispose());

  it('is deterministic: converting the cached source again gives the catalog checksum', async () => {
    const dir = models.cache.modelDir('all-minilm-l6-v2');
    const output = join(mkdtempSync(join(tmpdir(), 'attune-gguf-')), 'out.gguf');
    await convertBertToGguf({
      safetensors: join(dir, 'model.safetensors'),
      tokenizer: join(dir, 'tokenizer.json'),
      config: join(dir, 'config.json'),
      output,
      name: 'all-minilm-l6-v2',
    });
    assert.equal(await sha256File(output), runtimeFile(models.catalog.get('all-minilm-l6-v2')).sha256);
  });

  it('the converted model tokenizes like BERT WordPiece (uncased, ## continuations)', async () => {
    const tokenizer = await models.tokenizer('all-minilm-l6-v2');
    // Ids from the original vocab.txt: hello=7592, world=2088, ref=25416, ##unds=26698, !=999.
    assert.deepEqual(tokenizer.encode('Hello world, refunds!'), [7592, 2088, 1010, 25416, 26698, 999]);
  });

  it('rounds float32 to float16 like IEEE 754', () => {
    const half = float32ToFloat16(Float32Array.of(1, -2, 65504, 1e6, 2 ** -24, 0, 0.1));
    assert.deepEqual([...half], [0x3c00, 0xc000, 0x7bff, 0x7c00, 0x0001, 0x0000, 0x2e66]);
  });

  it('quantises to Q8_0 like ggml: F16 scale max|x|/127, then 32 bytes rounded half away from zero', () => {
    const values = new Float32Array(64);
    for (let i = 0; i < 32; i++) values[i] = (i - 16) / 16; // max |x| = 1
    values[32 + 3] = 127; // second block: scale exactly 1
    values[32 + 4] = -1.5; // half away from zero: -2, where Math.round would give -1
    values[32 + 5] = 2.5;
    const q = quantizeQ8_0(values, 32);
    assert.equal(q.length, 2 * 34);
    const view = new DataView(q.buffer);
    assert.equal(view.getUint16(0, true), float32ToFloat16(Float32Array.of(1 / 127))[0]);
    assert.equal(view.getInt8(2), -127); // -1
    assert.equal(view.getInt8(2 + 16), 0);
    assert.equal(view.getInt8(2 + 31), Math.round((15 / 16) * 127));
    assert.equal(view.getUint16(34, true), 0x3c00); // 1.0
    assert.equal(view.getInt8(34 + 2 + 3), 127);
    assert.equal(view.getInt8(34 + 2 + 4), -2);
    assert.equal(view.getInt8(34 + 2 + 5), 3);
    assert.equal(view.getInt8(34 + 2 + 6), 0);
    assert.throws(() => quantizeQ8_0(new Float32Array(48), 48), /multiple of 32/);
  });

  it('a Q8_0 conversion loads in llama.cpp and embeds like the F32 model (cosine > 0.99)', async () => {
    const dir = models.cache.modelDir('all-minilm-l6-v2');
    const output = join(mkdtempSync(join(tmpdir(), 'attune-gguf-')), 'q8.gguf');
    await convertBertToGguf({
      safetensors: join(dir, 'model.safetensors'),
      tokenizer: join(dir, 'tokenizer.json'),
      config: join(dir, 'config.json'),
      output,
      name: 'all-minilm-l6-v2-q8',
      weights: 'q8_0',
    });
    // The catalog's Q8_0 entry is this conversion, byte for byte.
    assert.equal(await sha256File(output), runtimeFile(models.catalog.get('all-minilm-l6-v2-q8')).sha256);
    // A quarter of the F32 file, give or take the F32 norms and position embeddings.
    assert.ok(statSync(output).size < runtimeFile(models.catalog.get('all-minilm-l6-v2')).size / 3);
    const texts = ['Where is Normandy?', 'The Normans gave their name to Normandy, a region in France.'];
    const f32 = await (await models.embedding()).doEmbed({ values: texts });
    const q8Model = await models.runtime.embeddingModel(output, { modelId: 'q8', maxInputTokens: 256 });
    const q8 = await q8Model.doEmbed({ values: texts });
    for (const [i, v] of f32.embeddings.entries()) {
      const cosine = v.reduce((s, x, j) => s + x * q8.embeddings[i]![j]!, 0);
      assert.ok(cosine > 0.99, `cosine ${cosine}`);
    }
  });
});
