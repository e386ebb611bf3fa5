import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../config/index.ts';
import { readCorpus } from '../eval/index.ts';
import { bertGgufToOnnx, bertPooling } from './bert-onnx.ts';
import { runEmbeddingModelConformance } from './conformance.ts';
import { Models } from './models.ts';
import { SMALL_CHAT_MODEL } from './testing.ts';
import { cosineSimilarity } from './vector-math.ts';

// Real models on both runtimes: the default embedder, the shipped reranker and verifier (Q8_0).
const RERANKER = 'attune-reranker-minilm-l6-squad';
const VERIFIER = 'attune-verifier-minilm-l6-squad2';
const modelsOn = (encoderRuntime: 'onnx' | 'llama.cpp' | 'auto') => {
  const config = loadConfig({ env: process.env });
  return new Models({ ...config, models: { ...config.models, encoderRuntime } });
};
/** SQuAD 2.0 dev paragraphs (CC BY-SA 4.0), from ../shared/data. */
const paragraphs = readCorpus('squad2-dev')
  .slice(0, 24)
  .map((d) => d.text);

const onnxModels = modelsOn('onnx');
runEmbeddingModelConformance(
  'ONNX Runtime (all-minilm-l6-v2)',
  () => onnxModels.embedding(),
  () => onnxModels.dispose(),
);
runEmbeddingModelConformance(
  'ONNX Runtime, int8 (all-minilm-l6-v2-q8)',
  async () => {
    await onnxModels.cache.pull('all-minilm-l6-v2-q8');
    return onnxModels.embedding('all-minilm-l6-v2-q8');
  },
  async () => undefined,
);
const llamaModels = modelsOn('llama.cpp');
runEmbeddingModelConformance(
  'llama.cpp (all-minilm-l6-v2)',
  () => llamaModels.embedding(),
  () => llamaModels.dispose(),
);

describe('ONNX Runtime against llama.cpp on the same GGUF', () => {
  let onnx: Models;
  let llama: Models;
  before(async () => {
    onnx = modelsOn('onnx');
    llama = modelsOn('llama.cpp');
    for (const name of [RERANKER, VERIFIER]) await onnx.cache.pull(name);
  });
  after(async () => {
    await onnx.dispose();
    await llama.dispose();
  });

  it('embeds SQuAD paragraphs to llama.cpp’s vectors, so either runtime searches the other’s store', async () => {
    const [a, b] = await Promise.all([onnx.embedding(), llama.embedding()]);
    assert.equal(a.provider, 'onnxruntime');
    assert.equal(b.provider, 'llama.cpp');
    const [x, y] = [
      (await a.doEmbed({ values: paragraphs })).embeddings,
      (await b.doEmbed({ values: paragraphs })).embeddings,
    ];
    const agreement = Math.min(...x.map((v, i) => cosineSimilarity(v, y[i]!)));
    assert.ok(agreement > 0.99999, `least agreement ${agreement}`);
  });

  it('scores pairs with the shipped cross-encoders as llama.cpp does, to its 8-bit rounding, in the same order', async () => {
    const question = 'When did the 1973 oil crisis begin?';
    for (const name of [RERANKER, VERIFIER]) {
      const [a, b] = await Promise.all([onnx.reranker(name), llama.reranker(name)]);
      assert.equal(a!.provider, 'onnxruntime');
      const [x, y] = [await a!.rerank(question, paragraphs), await b!.rerank(question, paragraphs)];
      const gap = Math.max(...x.map((s, i) => Math.abs(s - y[i]!)));
      // Measured 0.04 (reranker) and 0.02 (verifier): llama.cpp rounds activations for Q8_0 weights.
      assert.ok(gap < 0.06, `${name}: scores differ by up to ${gap}`);
      const best = (s: number[]) => s.indexOf(Math.max(...s));
      assert.equal(best(x), best(y), `${name}: a different best paragraph`);
      assert.equal(best(x), 0, `${name}: the oil-crisis paragraph is first in the slice`);
    }
  });

  it('runs a Q8_0 embedder as int8 products, close enough to llama.cpp’s vectors that each paragraph still finds itself', async () => {
    const name = 'all-minilm-l6-v2-q8';
    await onnx.cache.pull(name);
    const path = onnx.cache.resolve(name);
    const ops = (model: Uint8Array) =>
      Buffer.from(model).toString('latin1').includes('DynamicQuantizeMatMul');
    assert.ok(ops((await bertGgufToOnnx(path)).model), 'the default graph of a Q8_0 file has int8 products');
    assert.ok(!ops((await bertGgufToOnnx(path, { q8: 'f32' })).model), 'q8: f32 dequantises');
    assert.ok(!ops((await bertGgufToOnnx(onnx.cache.resolve('all-minilm-l6-v2'))).model), 'F32 stays F32');
    assert.ok(
      !ops((await bertGgufToOnnx(onnx.cache.resolve(VERIFIER))).model),
      'a Q8_0 cross-encoder stays F32',
    );
    const [a, b] = [await onnx.embedding(name), await llama.embedding(name)];
    const [x, y] = [
      (await a.doEmbed({ values: paragraphs })).embeddings,
      (await b.doEmbed({ values: paragraphs })).embeddings,
    ];
    const cosines = x.map((v, i) => cosineSimilarity(v, y[i]!));
    // Measured 0.991 at the least on 300 paragraphs (bench/results/embedding-weights.json), where
    // dense recall@1/5 stayed at llama.cpp F32's; the products round activations to 8 bits per call.
    assert.ok(Math.min(...cosines) > 0.985, `least agreement ${Math.min(...cosines)}`);
    assert.ok(
      Math.min(...cosines) < 0.9999,
      'int8 products differ from llama.cpp’s, or the test tests nothing',
    );
    for (const [i, v] of x.entries()) {
      const nearest = y
        .map((w) => cosineSimilarity(v, w))
        .reduce((best, c, j, all) => (c > all[best]! ? j : best), 0);
      assert.equal(nearest, i, `paragraph ${i}'s int8 vector is nearest llama.cpp's paragraph ${nearest}`);
    }
  });

  it('reads the pooling from the file and refuses a model that is not BERT, naming it', async () => {
    assert.equal(await bertPooling(onnx.cache.resolve('all-minilm-l6-v2')), 'mean');
    assert.equal(await bertPooling(onnx.cache.resolve(VERIFIER)), 'rank');
    await onnx.cache.pull(SMALL_CHAT_MODEL);
    const chat = onnx.cache.resolve(SMALL_CHAT_MODEL);
    assert.equal(await bertPooling(chat), undefined);
    await assert.rejects(
      bertGgufToOnnx(chat),
      (e: Error) => e.message.includes(chat) && /not bert/.test(e.message),
    );
  });

  it('auto runs the embedder on ONNX Runtime and leaves the cross-encoders on llama.cpp, whose scores their thresholds were fitted on', async () => {
    const auto = modelsOn('auto');
    try {
      assert.equal((await auto.embedding()).provider, 'onnxruntime');
      assert.equal((await auto.reranker(VERIFIER))!.provider, 'llama.cpp');
    } finally {
      await auto.dispose();
    }
  });
});
