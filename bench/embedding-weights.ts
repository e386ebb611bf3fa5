// Embedding-model weights: F32 (the default) against Q8_0 for all-MiniLM-L6-v2 in llama.cpp, on
// this machine. Measures what a query pays (latency of one short question, p50/p95), what ingest
// pays (tokens/s over paragraphs), and what Q8_0 costs in quality (cosine between the two vectors
// of the same text, and dense recall@1/5 of gold paragraphs, brute force, the same questions).
// Runs alternate between the two models item by item, so drift in machine load hits both alike.
// Run: npx tsx bench/embedding-weights.ts [--paragraphs 300] [--questions 300]
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../src/config/index.ts';
import { readCorpus, readQuestions } from '../src/eval/qa-data.ts';
import { bertModelFiles, convertBertToGguf } from '../src/models/bert-gguf.ts';
import type { EmbeddingModel } from '../src/models/model-spec.ts';
import { Models } from '../src/models/models.ts';
import { argValue, loadAverage, percentile, seededShuffle, writeResult } from './bench-env.ts';

const paragraphCount = argValue('--paragraphs') ?? 300;
const questionCount = argValue('--questions') ?? 300;
const loadAtStart = loadAverage();

const models = new Models(loadConfig({ env: process.env }));
await models.cache.pull('all-minilm-l6-v2');
const source = models.cache.modelDir('all-minilm-l6-v2');
const work = join(import.meta.dirname, '.work', 'embedding-weights');
mkdirSync(work, { recursive: true });
const q8Path = join(work, 'all-MiniLM-L6-v2.q8_0.gguf');
await convertBertToGguf({
  ...bertModelFiles(source),
  output: q8Path,
  name: 'all-minilm-l6-v2',
  weights: 'q8_0',
});
const variants: { name: string; model: EmbeddingModel }[] = [
  { name: 'f32', model: await models.embedding('all-minilm-l6-v2') },
  {
    name: 'q8_0',
    // The catalog's input limit for this model (256 positions), as the F32 entry gets it.
    model: await models.runtime.embeddingModel(q8Path, {
      modelId: 'all-minilm-l6-v2-q8_0',
      maxInputTokens: 256,
    }),
  },
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
  // Alternate which model goes first so neither always finds the caches warm.
  const order = n % 2 ? [1, 0] : [0, 1];
  for (const i of order) {
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

const cosines = docs[0]!.vectors.map((v, i) => dot(v, docs[1]!.vectors[i]!));
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
    },
  ]),
);
const path = writeResult('embedding-weights', {
  command: `npx tsx bench/embedding-weights.ts --paragraphs ${paragraphCount} --questions ${questionCount}`,
  data: 'squad2-dev (SQuAD 2.0 dev, CC BY-SA 4.0): seeded paragraphs and answerable questions on them',
  paragraphs: paragraphs.length,
  questions: questions.length,
  runtime: `node-llama-cpp, CPU, ${variants[0]!.model.provider}`,
  loadAverageAtStart: loadAtStart,
  loadAverageAtEnd: loadAverage(),
  results,
  q8VersusF32: {
    queryLatencyP50Ratio: round(results.q8_0!.queryLatencyMs.p50 / results.f32!.queryLatencyMs.p50, 2),
    ingestThroughputRatio: round(results.q8_0!.ingestTokensPerSecond / results.f32!.ingestTokensPerSecond, 2),
    documentVectorCosine: {
      mean: round(cosines.reduce((a, b) => a + b, 0) / cosines.length, 5),
      min: round(Math.min(...cosines), 5),
    },
  },
});
console.log(JSON.stringify(results, null, 2));
console.log(`wrote ${path}`);
await models.dispose();
