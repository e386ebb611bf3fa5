// How ONNX Runtime's embedder should batch: squad2-dev paragraphs through the ONNX graph Attune
// builds from the default embedder's GGUF, grouped as Attune's sync hands them over (32 texts per
// doEmbed call, sorted by length inside the call) and run N sequences at a time, against one
// global sort (the best case, which a streaming sync cannot have). The same texts and tokens for
// every setting; each setting gets a fresh session and one untimed warm-up run. Picks
// TOKENS_PER_CALL in src/models/onnx-provider.ts.
// Run: npx tsx bench/embedding-batching.ts [--paragraphs 300]   (writes bench/results/embedding-batching.json)
import { availableParallelism } from 'node:os';
import * as ort from 'onnxruntime-node';
import { loadConfig } from '../src/config/index.ts';
import { readCorpus } from '../src/eval/qa-data.ts';
import { bertGgufToOnnx } from '../src/models/bert-onnx.ts';
import { Models } from '../src/models/models.ts';
import { argValue, loadAverage, writeResult } from './bench-env.ts';

const count = argValue('--paragraphs') ?? 300;
const config = loadConfig({ env: process.env });
const models = new Models(config);
const path = models.cache.resolve(config.models.embedding);
const vocabulary = await models.runtime.loadModel(path);
const texts = readCorpus('squad2-dev')
  .slice(0, count)
  .map((d) => d.text);
const cls = vocabulary.tokens.bos!;
const sep = vocabulary.tokens.sep!;
const sequences = texts.map((t) => [cls, ...[...vocabulary.tokenize(t)].slice(0, 254), sep].map(Number));
const tokens = sequences.reduce((n, s) => n + s.length - 2, 0);
const graph = await bertGgufToOnnx(path);
// As the provider sets it: one thread per available core unless configured.
const threads = config.models.threads || availableParallelism();
const loadAtStart = loadAverage();

async function measure(group: number, run: number): Promise<number> {
  const session = await ort.InferenceSession.create(graph.model, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const once = async (batch: number[]) => {
    const length = Math.max(...batch.map((i) => sequences[i]!.length));
    const ids = new BigInt64Array(batch.length * length);
    const mask = new BigInt64Array(batch.length * length);
    for (const [row, i] of batch.entries()) {
      for (const [j, token] of sequences[i]!.entries()) {
        ids[row * length + j] = BigInt(token);
        mask[row * length + j] = 1n;
      }
    }
    const dims = [batch.length, length];
    await session.run({
      input_ids: new ort.Tensor('int64', ids, dims),
      attention_mask: new ort.Tensor('int64', mask, dims),
    });
  };
  await once([0, 1]);
  const all = sequences.map((_s, i) => i);
  const started = performance.now();
  for (let g = 0; g < all.length; g += group) {
    const sorted = all.slice(g, g + group).sort((a, b) => sequences[a]!.length - sequences[b]!.length);
    for (let s = 0; s < sorted.length; s += run) await once(sorted.slice(s, s + run));
  }
  const seconds = (performance.now() - started) / 1000;
  await session.release();
  return Math.round(tokens / seconds);
}

const results: { group: number | 'all'; sequencesPerRun: number; tokensPerSecond: number }[] = [];
for (const group of [32, sequences.length]) {
  for (const run of [1, 2, 4, 8, 16, 32]) {
    const tokensPerSecond = await measure(group, run);
    results.push({
      group: group === sequences.length ? 'all' : group,
      sequencesPerRun: run,
      tokensPerSecond,
    });
    console.log(`group ${group}, ${run} per run: ${tokensPerSecond} tokens/s`);
  }
}
await models.dispose();
const out = writeResult('embedding-batching', {
  command: `npx tsx bench/embedding-batching.ts ${process.argv.slice(2).join(' ')}`.trim(),
  data: `squad2-dev (SQuAD 2.0 dev, CC BY-SA 4.0): the first ${count} paragraphs, cut to 254 tokens`,
  model: `${config.models.embedding}: ONNX graph built from its GGUF (src/models/bert-onnx.ts)`,
  onnxruntime: ort.env.versions.node ?? ort.env.versions.common,
  threads,
  paragraphs: count,
  tokens,
  meanTokens: Math.round(tokens / count),
  loadAverageAtStart: loadAtStart,
  loadAverageAtEnd: loadAverage(),
  results,
});
console.log(`wrote ${out}`);
