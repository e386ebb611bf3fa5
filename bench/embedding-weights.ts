// Embedding-model weights and runtimes: all-MiniLM-L6-v2 as F32 (the default) and as Q8_0
// (all-minilm-l6-v2-q8), each on llama.cpp and on ONNX Runtime (where Q8_0 runs as int8 products),
// on this machine. Measures what a query pays (latency of one short question, p50/p95), what
// ingest pays one text at a time (tokens/s; bench/ingest.ts measures the batched sync), and what
// each costs in quality (cosine of each variant's vector to llama.cpp F32's for the same text,
// and dense recall@1/5 of gold paragraphs, brute force, the same questions).
// Runs rotate between the variants item by item, so drift in machine load hits all alike.
// Run: npx tsx bench/embedding-weights.ts [--paragraphs 300] [--questions 300]
import { loadConfig } from '../src/config/index.ts';
import { readCorpus, readQuestions } from '../src/eval/qa-data.ts';
import type { EmbeddingModel } from '../src/models/model-spec.ts';
import { Models } from '../src/models/models.ts';
import { argValue, loadAverage, percentile, seededShuffle, writeResult } from './bench-env.ts';

const paragraphCount = argValue('--paragraphs') ?? 300;
const questionCount = argValue('--questions') ?? 300;
const loadAtStart = loadAverage();

const config = loadConfig({ env: process.env });
const on = (encoderRuntime: 'llama.cpp' | 'onnx') =>
  new Models({ ...config, models: { ...config.models, encoderRuntime } });
const llama = on('llama.cpp');
const onnx = on('onnx');
for (const name of ['all-minilm-l6-v2', 'all-minilm-l6-v2-q8']) await llama.cache.pull(name);
const variants: { name: string; model: EmbeddingModel }[] = [
  { name: 'llama.cpp-f32', model: await llama.embedding('all-minilm-l6-v2') },
  { name: 'llama.cpp-q8_0', model: await llama.embedding('all-minilm-l6-v2-q8') },
  { name: 'onnx-f32', model: await onnx.embedding('all-minilm-l6-v2') },
  { name: 'onnx-q8_0-int8', model: await onnx.embedding('all-minilm-l6-v2-q8') },
];

// squad2-dev (SQuAD 2.0 dev, CC BY-SA 4.0): a seeded set of paragraphs and the answerable questions on them.
const paragraphs = seededShuffle(readCorpus('squad2-dev'), 11).slice(0, paragraphCount);
const inSlice = new Set(paragraphs.map((p) => p.id));
const questions = seededShuffle(
  readQuestions('squad2-dev').filter((q) => q.answerable && inSlice.has(q.gold_doc_ids[0]!)),
  12,
).slice(0, questionCount);

const embedOne = async (model: EmbeddingModel, text: string) => {
  const started = performance.now();
  const { embeddings, usage } = await model.doEmbed({ values: [text] });
  return { vector: embeddings[0]!, ms: performance.now() - started, tokens: usage?.tokens ?? 0 };
};

for (const v of variants) for (const q of questions.slice(0, 5)) await embedOne(v.model, q.question);

type Tally = { ms: number[]; tokens: number; seconds: number; vectors: number[][] };
const tally = (): Tally => ({ ms: [], tokens: 0, seconds: 0, vectors: [] });
const docs = variants.map(tally);
const queries = variants.map(tally);
for (const p of paragraphs) {
  for (const [i, v] of variants.entries()) {
    const r = await embedOne(v.model, `${p.title}\n${p.text}`);
    docs[i]!.tokens += r.tokens;
    docs[i]!.seconds += r.ms / 1000;
    docs[i]!.vectors.push(r.vector);
  }
}
for (const [n, q] of questions.entries()) {
  // Rotate which model goes first so none always finds the caches warm.
  for (const i of variants.map((_v, j) => (j + n) % variants.length)) {
    const r = await embedOne(variants[i]!.model, q.question);
    queries[i]!.ms.push(r.ms);
    queries[i]!.vectors.push(r.vector);
  }
}

const dot = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * b[i]!, 0);
const recall = (variant: number, k: number) => {
  let hits = 0;
  for (const [qi, q] of questions.entries()) {
    const query = queries[variant]!.vectors[qi]!;
    const scores = docs[variant]!.vectors.map((d) => dot(d, query));
    const gold = paragraphs.findIndex((p) => p.id === q.gold_doc_ids[0]);
    const better = scores.filter((s) => s > scores[gold]!).length;
    if (better < k) hits++;
  }
  return round(hits / questions.length, 3);
};
const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;

const cosinesTo = (i: number) => docs[0]!.vectors.map((v, j) => dot(v, docs[i]!.vectors[j]!));
const results = Object.fromEntries(
  variants.map((v, i) => [
    v.name,
    {
      queryLatencyMs: {
        p50: round(percentile(queries[i]!.ms, 50), 2),
        p95: round(percentile(queries[i]!.ms, 95), 2),
        mean: round(queries[i]!.ms.reduce((a, b) => a + b, 0) / queries[i]!.ms.length, 2),
      },
      ingestTokensPerSecond: round(docs[i]!.tokens / docs[i]!.seconds, 0),
      denseRecallAt1: recall(i, 1),
      denseRecallAt5: recall(i, 5),
      documentVectorCosineToLlamaCppF32: {
        mean: round(cosinesTo(i).reduce((a, b) => a + b, 0) / paragraphs.length, 5),
        min: round(Math.min(...cosinesTo(i)), 5),
      },
    },
  ]),
);
const path = writeResult('embedding-weights', {
  command: `npx tsx bench/embedding-weights.ts --paragraphs ${paragraphCount} --questions ${questionCount}`,
  data: 'squad2-dev (SQuAD 2.0 dev, CC BY-SA 4.0): seeded paragraphs and answerable questions on them',
  paragraphs: paragraphs.length,
  questions: questions.length,
  runtime: 'CPU; llama.cpp (node-llama-cpp) and ONNX Runtime (onnxruntime-node), one text per call',
  loadAverageAtStart: loadAtStart,
  loadAverageAtEnd: loadAverage(),
  results,
  // Each variant against llama.cpp F32, the runtime and weights Attune shipped first.
  versusLlamaCppF32: Object.fromEntries(
    variants.slice(1).map((v) => [
      v.name,
      {
        queryLatencyP50Ratio: round(
          results[v.name]!.queryLatencyMs.p50 / results['llama.cpp-f32']!.queryLatencyMs.p50,
          2,
        ),
        ingestThroughputRatio: round(
          results[v.name]!.ingestTokensPerSecond / results['llama.cpp-f32']!.ingestTokensPerSecond,
          2,
        ),
      },
    ]),
  ),
});
console.log(JSON.stringify(results, null, 2));
console.log(`wrote ${path}`);
await llama.dispose();
await onnx.dispose();
