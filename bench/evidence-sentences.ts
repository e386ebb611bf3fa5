// How often the gold answer is inside the evidence the model is given, by evidence form: the top n
// sentences of the retrieved chunks (ranked as the answerer ranks them, src/answer/passage.ts, with
// and without the cross-encoder) against the whole top-5 chunks. squad2-dev (SQuAD 2.0 dev,
// CC BY-SA 4.0): knowledge base of articles 1-12, answerable questions of articles 7-12.
//
//   npx tsx bench/evidence-sentences.ts [--questions 80]
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { rankSentences } from '../src/answer/index.ts';
import { loadConfig } from '../src/config/index.ts';
import { articleOf, readCorpus, readQuestions, withArticles } from '../src/eval/qa-data.ts';
import { KnowledgeBase } from '../src/knowledge/index.ts';
import { Models } from '../src/models/models.ts';
import { Retriever } from '../src/retrieve/index.ts';
import { argValue, loadAverage, machineDescription, seededShuffle, writeResult } from './bench-env.ts';

const count = argValue('--questions') ?? 80;
const work = join(import.meta.dirname, '.work', 'evidence-sentences');
const corpus = readCorpus('squad2-dev');
const articles = [...new Set(corpus.map((p) => articleOf(p.id)))].slice(0, 12);
mkdirSync(join(work, 'squad'), { recursive: true });
writeFileSync(
  join(work, 'squad', 'paragraphs.jsonl'),
  corpus
    .filter((p) => articles.includes(articleOf(p.id)))
    .map((p) => JSON.stringify(p))
    .join('\n'),
);
const config = loadConfig({ cwd: work, env: { ...process.env, ATTUNE_DIR: join(work, 'kb') } });
const models = new Models(config);
const reranker = await models.reranker('attune-reranker-minilm-l6-squad');
const kb = await KnowledgeBase.open(config, models);
await kb.sync([join(work, 'squad')]);
const embedder = await models.embedding();
const retriever = new Retriever({ store: kb.store, embedder });
const questions = seededShuffle(
  withArticles(readQuestions('squad2-dev')).filter(
    (q) => q.answerable && articles.slice(6).includes(q.article),
  ),
  3,
).slice(0, count);
const depths = [1, 2, 3, 4, 5, 6];
const hits = { embeddings: depths.map(() => 0), reranker: depths.map(() => 0) };
let inChunks = 0;
for (const q of questions) {
  const r = await retriever.retrieve(q.question, { principal: { user: 'b', groups: [], admin: true }, k: 5 });
  const texts = r.evidence.map((e) => e.chunk.text);
  const holds = (t: string) => q.answers.some((a) => t.includes(a));
  if (texts.some(holds)) inChunks++;
  for (const [name, scorer] of [
    ['embeddings', { embedder }],
    ['reranker', { embedder, reranker }],
  ] as const) {
    const ranked = await rankSentences(q.question, texts, scorer);
    depths.forEach((n, i) => {
      if (ranked.slice(0, n).some((s) => holds(s.text))) hits[name][i]!++;
    });
  }
}
const share = (n: number) => Math.round((n / questions.length) * 1000) / 1000;
const result = {
  machine: machineDescription(),
  loadAverage: loadAverage(),
  command: `npx tsx bench/evidence-sentences.ts --questions ${count}`,
  questions: questions.length,
  goldInTop5Chunks: share(inChunks),
  goldInTopSentences: Object.fromEntries(
    Object.entries(hits).map(([name, h]) => [
      name,
      Object.fromEntries(depths.map((n, i) => [n, share(h[i]!)])),
    ]),
  ),
};
console.log(JSON.stringify(result, null, 2));
writeResult('evidence-sentences', result);
await kb.close();
await models.dispose();
