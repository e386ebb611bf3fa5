import assert from 'node:assert/strict';
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readGgufFileInfo } from 'node-llama-cpp';
import { bertModelFiles, convertBertToGguf } from './bert-gguf.ts';
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
      ...bertModelFiles(dir),
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
      ...bertModelFiles(dir),
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

  it('converts a cross-encoder (F16 shards, a tensor split by rows) into a rank-pooling GGUF llama.cpp scores with', async () => {
    // A tiny random BertForSequenceClassification with the real vocabulary: the layout, not the
    // weights, is under test (llama-cpp-provider.test.ts checks trained scores against PyTorch).
    const dir = mkdtempSync(join(tmpdir(), 'attune-xenc-'));
    const hidden = 32;
    const config = {
      model_type: 'bert',
      architectures: ['BertForSequenceClassification'],
      vocab_size: 30522,
      hidden_size: hidden,
      intermediate_size: 64,
      num_hidden_layers: 1,
      num_attention_heads: 2,
      max_position_embeddings: 64,
      type_vocab_size: 2,
      layer_norm_eps: 1e-12,
    };
    writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
    let seed = 1;
    const random = (n: number, scale = 0.05) =>
      Float32Array.from({ length: n }, () => {
        seed = (seed * 16807) % 2147483647;
        return ((seed / 2147483647) * 2 - 1) * scale;
      });
    const ones = (n: number) => new Float32Array(n).fill(1);
    const tensors: Record<string, [number[], Float32Array]> = {
      'bert.embeddings.word_embeddings.weight': [[30522, hidden], random(30522 * hidden)],
      'bert.embeddings.position_embeddings.weight': [[64, hidden], random(64 * hidden)],
      'bert.embeddings.token_type_embeddings.weight': [[2, hidden], random(2 * hidden)],
      'bert.embeddings.LayerNorm.weight': [[hidden], ones(hidden)],
      'bert.embeddings.LayerNorm.bias': [[hidden], new Float32Array(hidden)],
      'bert.pooler.dense.weight': [[hidden, hidden], random(hidden * hidden)],
      'bert.pooler.dense.bias': [[hidden], new Float32Array(hidden)],
      'classifier.weight': [[1, hidden], random(hidden, 1)],
      'classifier.bias': [[1], Float32Array.of(0.5)],
    };
    const layer = (name: string, shape: number[]) => {
      const n = shape.reduce((a, b) => a * b, 1);
      tensors[`bert.encoder.layer.0.${name}`] = [
        shape,
        name.includes('LayerNorm.weight') ? ones(n) : random(n),
      ];
    };
    for (const part of [
      'attention.self.query',
      'attention.self.key',
      'attention.self.value',
      'attention.output.dense',
    ]) {
      layer(`${part}.weight`, [hidden, hidden]);
      layer(`${part}.bias`, [hidden]);
    }
    layer('intermediate.dense.weight', [64, hidden]);
    layer('intermediate.dense.bias', [64]);
    layer('output.dense.weight', [hidden, 64]);
    layer('output.dense.bias', [hidden]);
    for (const norm of ['attention.output.LayerNorm', 'output.LayerNorm']) {
      layer(`${norm}.weight`, [hidden]);
      layer(`${norm}.bias`, [hidden]);
    }
    // Word embeddings in two row pieces, in a second shard, the way the GPU trainer ships them.
    const [wordShape, word] = tensors['bert.embeddings.word_embeddings.weight']!;
    delete tensors['bert.embeddings.word_embeddings.weight'];
    const half = 15000 * hidden;
    writeSafetensorsF16(join(dir, 'model-00001.safetensors'), tensors);
    writeSafetensorsF16(join(dir, 'model-00002.safetensors'), {
      'bert.embeddings.word_embeddings.weight.part0': [[15000, hidden], word.slice(0, half)],
      'bert.embeddings.word_embeddings.weight.part1': [[wordShape[0]! - 15000, hidden], word.slice(half)],
    });

    const output = join(dir, 'xenc.gguf');
    await convertBertToGguf({
      safetensors: [join(dir, 'model-00001.safetensors'), join(dir, 'model-00002.safetensors')],
      tokenizer: join(models.cache.modelDir('all-minilm-l6-v2'), 'tokenizer.json'),
      config: join(dir, 'config.json'),
      output,
      name: 'tiny-cross-encoder',
    });
    const info = await readGgufFileInfo(output, { readTensorInfo: true });
    const names = new Map(info.tensorInfo!.map((t) => [t.name, t.dimensions.map(Number)]));
    assert.deepEqual(names.get('cls.weight'), [hidden, hidden]);
    assert.deepEqual(names.get('cls.output.weight'), [hidden, 1]);
    assert.deepEqual(names.get('token_embd.weight'), [hidden, 30522], 'row pieces joined');
    assert.equal((info.metadata as { bert: { pooling_type: number } }).bert.pooling_type, 4);

    const reranker = await models.runtime.rerankingModel(output, { modelId: 'tiny', maxInputTokens: 64 });
    const scores = await reranker.rerank('where is normandy?', [
      'normandy is in france.',
      'oxygen is an element.',
    ]);
    assert.equal(scores.length, 2);
    assert.ok(scores.every((x) => x > 0 && x < 1));
    assert.notEqual(scores[0], scores[1]);
    // An embedding model is refused as a reranker, with the reason.
    await assert.rejects(
      models.runtime.rerankingModel(models.cache.resolve('all-minilm-l6-v2'), { modelId: 'minilm' }),
      /cannot rerank/,
    );
  });
});

/** A safetensors file of F16 tensors (header: JSON of dtype, shape, offsets; then the data). */
function writeSafetensorsF16(path: string, tensors: Record<string, [number[], Float32Array]>) {
  const header: Record<string, unknown> = {};
  const parts: Uint8Array[] = [];
  let offset = 0;
  for (const [name, [shape, values]] of Object.entries(tensors)) {
    const data = new Uint8Array(float32ToFloat16(values).buffer);
    header[name] = { dtype: 'F16', shape, data_offsets: [offset, offset + data.byteLength] };
    parts.push(data);
    offset += data.byteLength;
  }
  const json = Buffer.from(JSON.stringify(header));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  writeFileSync(path, Buffer.concat([length, json, ...parts]));
}
