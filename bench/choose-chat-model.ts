// Picks the default chat model by measurement: reading comprehension on a fixed squad2-dev slice
// (gold paragraph given, answerable questions) against speed on this machine.
// Run: npx tsx bench/choose-chat-model.ts [n=60] [models...]
import { loadConfig } from '../src/config/index.ts';
import { readCorpus, readQuestions } from '../src/eval/qa-data.ts';
import { exactMatch, tokenF1 } from '../src/eval/squad-metrics.ts';
import { Models } from '../src/models/models.ts';
import { machineDescription, seededShuffle, writeResult } from './bench-env.ts';

const n = Number(process.argv[2] ?? 60);
const candidates = process.argv.slice(3).length
  ? process.argv.slice(3)
  : ['smollm2-135m-instruct', 'gemma3-270m'];

const corpus = new Map(readCorpus('squad2-dev').map((d) => [d.id, d.text]));
const questions = seededShuffle(
  readQuestions('squad2-dev').filter((q) => q.answerable),
  42,
).slice(0, n);

const models = new Models(loadConfig({ env: process.env }));
const results = [];
for (const name of candidates) {
  await models.cache.pull(name);
  const chat = await models.chat(name);
  let em = 0;
  let f1 = 0;
  let outTokens = 0;
  let genMs = 0;
  const ttfts: number[] = [];
  for (const q of questions) {
    const context = corpus.get(q.gold_doc_ids[0]!) ?? '';
    const started = performance.now();
    const r = await chat.doGenerate({
      messages: [
        {
          role: 'system',
          content:
            'Answer the question using only the context. Reply with the shortest exact phrase from the context, no sentence.',
        },
        { role: 'user', content: `Context: ${context}\n\nQuestion: ${q.question}\nAnswer:` },
      ],
      maxTokens: 24,
      temperature: 0,
    });
    genMs += performance.now() - started;
    outTokens += r.usage.outputTokens;
    if (r.timeToFirstTokenMs !== undefined) ttfts.push(r.timeToFirstTokenMs);
    const answer = r.text.trim().split('\n')[0] ?? '';
    em += exactMatch(answer, q.answers);
    f1 += tokenF1(answer, q.answers);
  }
  ttfts.sort((a, b) => a - b);
  const row = {
    model: name,
    questions: questions.length,
    exactMatch: em / questions.length,
    f1: f1 / questions.length,
    medianTimeToFirstTokenMs: ttfts[Math.floor(ttfts.length / 2)],
    secondsPerAnswer: genMs / 1000 / questions.length,
    outputTokensPerSecond: outTokens / (genMs / 1000),
  };
  console.log(row);
  results.push(row);
}
await models.dispose();
const path = writeResult('chat-model-choice', {
  benchmark: 'squad2-dev answerable slice, gold paragraph in context, seed 42',
  machine: machineDescription(),
  results,
});
console.log(`written ${path}`);
