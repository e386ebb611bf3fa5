// Attune's overhead over the raw runtime: time to first token and tokens/s for the default chat
// model, embeddings/s for the default embedding model, each through Attune and through
// node-llama-cpp directly, interleaved in the same run. Target: ratio (Attune/raw) ≥ 0.95.
// Run: npm run bench:models   (writes bench/results/models.json)
import { availableParallelism } from 'node:os';
import { LlamaChatSession } from 'node-llama-cpp';
import { loadConfig } from '../src/config/index.ts';
import { Models } from '../src/models/models.ts';
import { writeResult } from './bench-env.ts';

const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
const prompts = [
  'Explain in three sentences why a company would keep its documents in a search index.',
  'Write a short, friendly reply to a customer asking how to reset a password.',
  'List four things a new engineer should do in their first week.',
];
const sentences = Array.from(
  { length: 64 },
  (_, i) => `Sentence ${i}: the refund window for annual plans is thirty days after purchase, policy ${i}.`,
);

const config = loadConfig({ env: process.env });
const models = new Models(config);
await models.cache.pull(config.models.chat);
await models.cache.pull(config.models.embedding);
const chat = await models.chat();
const embedder = await models.embedding();

// The raw runtime, loaded the same way but used without any Attune code in between.
// The same runtime instance Attune uses: a second instance would bring a second thread pool.
const llama = await models.runtime.llama();
const rawModel = await llama.loadModel({ modelPath: models.cache.resolve(config.models.chat) });
const rawContext = await rawModel.createContext({
  contextSize: chat.contextSize,
  sequences: 1,
  threads: availableParallelism(),
});
const rawEmbModel = await llama.loadModel({ modelPath: models.cache.resolve(config.models.embedding) });
const rawEmb = await rawEmbModel.createEmbeddingContext({
  contextSize: embedder.maxInputTokens,
  batchSize: embedder.maxInputTokens,
});

const maxTokens = 64;
async function attuneChat(prompt: string) {
  const t0 = performance.now();
  let first: number | undefined;
  let tokens = 0;
  for await (const part of chat.doStream({
    messages: [{ role: 'user', content: prompt }],
    maxTokens,
    temperature: 0,
  })) {
    if (part.type === 'text-delta') first ??= performance.now();
    else tokens = part.result.usage.outputTokens;
  }
  const t1 = performance.now();
  return { ttft: (first ?? t1) - t0, tokensPerSecond: tokens / ((t1 - (first ?? t0)) / 1000 || 1), tokens };
}
// The raw path holds one session, as node-llama-cpp's docs do, and resets its history per prompt.
const rawSession = new LlamaChatSession({
  contextSequence: rawContext.getSequence(),
  autoDisposeSequence: false,
});
async function rawChat(prompt: string) {
  const sequence = rawSession.sequence;
  rawSession.setChatHistory([]);
  const before = sequence.tokenMeter.getState();
  const t0 = performance.now();
  let first: number | undefined;
  await rawSession.prompt(prompt, {
    maxTokens,
    temperature: 0,
    onTextChunk: () => {
      first ??= performance.now();
    },
  });
  const t1 = performance.now();
  const tokens = sequence.tokenMeter.getState().usedOutputTokens - before.usedOutputTokens;
  return { ttft: (first ?? t1) - t0, tokensPerSecond: tokens / ((t1 - (first ?? t0)) / 1000 || 1), tokens };
}
async function attuneEmbed() {
  const t0 = performance.now();
  await embedder.doEmbed({ values: sentences });
  return sentences.length / ((performance.now() - t0) / 1000);
}
async function rawEmbed() {
  const t0 = performance.now();
  for (const s of sentences) await rawEmb.getEmbeddingFor(rawEmbModel.tokenize(s));
  return sentences.length / ((performance.now() - t0) / 1000);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const a = { ttft: [] as number[], tps: [] as number[], eps: [] as number[] };
const r = { ttft: [] as number[], tps: [] as number[], eps: [] as number[] };
console.error('warming up');
await attuneChat(prompts[0]!); // warm-up both paths
await rawChat(prompts[0]!);
console.error('warm');
for (let i = 0; i < rounds; i++) {
  for (const p of prompts) {
    // Alternate which goes first so drift in machine speed hits both sides alike.
    const order = (i + prompts.indexOf(p)) % 2 === 0;
    const x = order ? await attuneChat(p) : await rawChat(p);
    const y = order ? await rawChat(p) : await attuneChat(p);
    const [att, raw] = order ? [x, y] : [y, x];
    console.error(
      `round ${i + 1} prompt ${prompts.indexOf(p) + 1}: attune ${att.tokensPerSecond.toFixed(1)} tok/s, raw ${raw.tokensPerSecond.toFixed(1)} tok/s`,
    );
    a.ttft.push(att.ttft);
    a.tps.push(att.tokensPerSecond);
    r.ttft.push(raw.ttft);
    r.tps.push(raw.tokensPerSecond);
  }
  const order = i % 2 === 0;
  const e1 = order ? await attuneEmbed() : await rawEmbed();
  const e2 = order ? await rawEmbed() : await attuneEmbed();
  a.eps.push(order ? e1 : e2);
  r.eps.push(order ? e2 : e1);
}
const result = {
  benchmark: 'models: Attune vs raw node-llama-cpp, same process, interleaved',
  chatModel: config.models.chat,
  embeddingModel: config.models.embedding,
  rounds,
  attune: {
    medianTimeToFirstTokenMs: median(a.ttft),
    medianTokensPerSecond: median(a.tps),
    medianEmbeddingsPerSecond: median(a.eps),
  },
  raw: {
    medianTimeToFirstTokenMs: median(r.ttft),
    medianTokensPerSecond: median(r.tps),
    medianEmbeddingsPerSecond: median(r.eps),
  },
  ratios: {
    // Higher is better for Attune in all three: ≥ 0.95 meets the target.
    timeToFirstToken: median(r.ttft) / median(a.ttft),
    tokensPerSecond: median(a.tps) / median(r.tps),
    embeddingsPerSecond: median(a.eps) / median(r.eps),
  },
};
console.log(JSON.stringify(result, null, 2));
console.log(`written ${writeResult('models', result)}`);
await models.dispose();
