import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { convertBertToGguf } from './bert-gguf.ts';
import { runtimeFile } from './catalog.ts';
import { float32ToFloat16 } from './gguf-writer.ts';
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
});
