// Chooses the default chat model and its prompt by measurement, through the whole answer path
// (retrieval, the answerer, its checks), on three knowledge bases:
//   - two-file: the returns/shipping pair from issue #16 (a stitched claim is the trap);
//   - handbook: the demo's questions on examples/handbook, as the demo's readers;
//   - squad2-dev (SQuAD 2.0 dev, CC BY-SA 4.0): the answer benchmark's knowledge base (articles
//     1-12) and a seeded slice of its questions from articles 7-12, half unanswerable.
//
//   npx tsx bench/chat-models.ts [--squad 24] [--configs qwen05,qwen05-k3,...]
//
// Each configuration: a model, a system prompt (its family's, or SmolLM2's old one) and k.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  Answerer,
  type AnswerResult,
  DEFAULT_SYSTEM_PROMPT,
  PLAIN_SYSTEM_PROMPT,
  SHORT_ANSWER_PROMPT,
} from '../src/answer/index.ts';
import { loadConfig } from '../src/config/index.ts';
import { articleOf, readCorpus, readQuestions, withArticles } from '../src/eval/qa-data.ts';
import { tokenF1 } from '../src/eval/squad-metrics.ts';
import { KnowledgeBase } from '../src/knowledge/index.ts';
import { Models } from '../src/models/models.ts';
import { Retriever } from '../src/retrieve/index.ts';
import type { Principal } from '../src/store/index.ts';
import {
  argValue,
  loadAverage,
  machineDescription,
  percentile,
  seededShuffle,
  writeResult,
} from './bench-env.ts';

type Probe = {
  set: string;
  question: string;
  principal: Principal;
  /** Gold answers; empty when the reader's knowledge base does not say. */
  answers: string[];
  /** Document ids (prefixes) that hold the answer. */
  gold: string[];
};

const args = process.argv.slice(2);
const squadCount = argValue('--squad') ?? 24;
const configArg = args[args.indexOf('--configs') + 1];
const SHORT_PROMPT = SHORT_ANSWER_PROMPT;
type BenchConfig = { model: string; prompt: string; k: number; sentences: number; premise?: boolean };
const allConfigs: Record<string, BenchConfig> = {
  'smollm2-old': { model: 'smollm2-135m-instruct', prompt: DEFAULT_SYSTEM_PROMPT, k: 5, sentences: 0 },
  'smollm2-sent': { model: 'smollm2-135m-instruct', prompt: PLAIN_SYSTEM_PROMPT, k: 5, sentences: 4 },
  'qwen05-sent': { model: 'qwen2.5-coder-0.5b-instruct', prompt: PLAIN_SYSTEM_PROMPT, k: 5, sentences: 4 },
  'qwen05-chunks': { model: 'qwen2.5-coder-0.5b-instruct', prompt: PLAIN_SYSTEM_PROMPT, k: 5, sentences: 0 },
  'qwen15-sent': { model: 'qwen2.5-coder-1.5b-instruct', prompt: PLAIN_SYSTEM_PROMPT, k: 5, sentences: 4 },
  'qwen15-short': { model: 'qwen2.5-coder-1.5b-instruct', prompt: SHORT_PROMPT, k: 5, sentences: 4 },
  'qwen15-nopremise': {
    model: 'qwen2.5-coder-1.5b-instruct',
    prompt: PLAIN_SYSTEM_PROMPT,
    k: 5,
    sentences: 4,
    premise: false,
  },
  'qwen15-sent6': { model: 'qwen2.5-coder-1.5b-instruct', prompt: PLAIN_SYSTEM_PROMPT, k: 5, sentences: 6 },
  'qwen15-chunks': { model: 'qwen2.5-coder-1.5b-instruct', prompt: PLAIN_SYSTEM_PROMPT, k: 5, sentences: 0 },
};
type ConfigName = string;
const configs = (
  args.includes('--configs') && configArg ? configArg.split(',') : Object.keys(allConfigs)
) as ConfigName[];

const work = join(import.meta.dirname, '.work', 'chat-models');
rmSync(work, { recursive: true, force: true });
const anyone: Principal = { user: 'reader', groups: [] };

function twoFileKb(dir: string): Probe[] {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'returns.md'),
    'Annual plans can be refunded within 45 days of purchase. Monthly plans are not refundable.\n',
  );
  writeFileSync(join(dir, 'shipping.md'), 'Orders ship from the Leeds warehouse within 2 business days.\n');
  const p = (question: string, answers: string[], gold: string[]): Probe => ({
    set: 'two-file',
    question,
    principal: anyone,
    answers,
    gold,
  });
  return [
    p('Where do orders ship from?', ['Leeds warehouse', 'Leeds'], ['two-file/shipping.md']),
    p('How soon do orders ship?', ['within 2 business days', '2 business days'], ['two-file/shipping.md']),
    p('Can I get a refund on a monthly plan?', ['No', 'not refundable'], ['two-file/returns.md']),
    p(
      'How long do I have to get a refund on an annual plan?',
      ['45 days', 'within 45 days of purchase'],
      ['two-file/returns.md'],
    ),
    p('Who is the chief executive of the company?', [], []),
    p('Do you offer gift cards?', [], []),
  ];
}

function handbookProbes(): Probe[] {
  return [
    {
      set: 'handbook',
      question: 'Can I get a refund on an annual plan?',
      principal: { user: 'customer-success', groups: ['support'] },
      answers: ['in full within 30 days of purchase', 'within 30 days', 'yes, within 30 days'],
      gold: ['handbook/customer-policies.md'],
    },
    {
      set: 'handbook',
      question: 'How many weeks of parental leave do employees get?',
      principal: { user: 'bob', groups: ['engineering'] },
      answers: [],
      gold: [],
    },
    {
      set: 'handbook',
      question: 'How many weeks of parental leave do employees get?',
      principal: { user: 'ann', groups: ['hr'] },
      answers: ['16 weeks', '16'],
      gold: ['handbook/hr/leave-policy.md'],
    },
  ];
}

function squadProbes(dir: string): Probe[] {
  const corpus = readCorpus('squad2-dev');
  const articles = [...new Set(corpus.map((p) => articleOf(p.id)))].slice(0, 12);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'paragraphs.jsonl'),
    `${corpus
      .filter((p) => articles.includes(articleOf(p.id)))
      .map((p) => JSON.stringify(p))
      .join('\n')}\n`,
  );
  const pool = withArticles(readQuestions('squad2-dev')).filter((q) => articles.slice(6).includes(q.article));
  const answerable = seededShuffle(
    pool.filter((q) => q.answerable),
    7,
  ).slice(0, squadCount / 2);
  const unanswerable = seededShuffle(
    pool.filter((q) => !q.answerable),
    7,
  ).slice(0, squadCount / 2);
  return [...answerable, ...unanswerable].map((q) => ({
    set: 'squad2-dev',
    question: q.question,
    principal: anyone,
    answers: q.answers,
    gold: q.answerable ? q.gold_doc_ids.map((id) => `squad/paragraphs.jsonl#${id}`) : [],
  }));
}

const config = loadConfig({ cwd: work, env: { ...process.env, ATTUNE_DIR: join(work, 'kb-two-file') } });
const models = new Models(config);
for (const name of new Set([config.models.embedding, ...configs.map((c) => allConfigs[c]!.model)]))
  await models.cache.pull(name);
const sources = join(work, 'sources');
const probes = [
  ...twoFileKb(join(sources, 'two-file')),
  ...handbookProbes(),
  ...squadProbes(join(sources, 'squad')),
];
// One knowledge base per set: the two-file returns page and the handbook disagree on purpose.
const handbook = join(import.meta.dirname, '..', 'examples', 'handbook');
const embedder = await models.embedding();
const kbs = new Map<string, { kb: KnowledgeBase; retriever: Retriever }>();
let syncedChunks = 0;
for (const [set, folder] of [
  ['two-file', join(sources, 'two-file')],
  ['handbook', handbook],
  ['squad2-dev', join(sources, 'squad')],
] as const) {
  const kb = await KnowledgeBase.open({ ...config, dir: join(work, `kb-${set}`) }, models);
  const sync = await kb.sync([folder]);
  if (sync.failed) throw new Error(`sync of ${set} failed: ${JSON.stringify(sync.failures)}`);
  syncedChunks += sync.chunksEmbedded;
  kbs.set(set, { kb, retriever: new Retriever({ store: kb.store, embedder }) });
}

const isGold = (probe: Probe, docId: string) =>
  probe.gold.some((g) => docId === g || docId.startsWith(`${g}`));
const results = [];
for (const name of configs) {
  const c = allConfigs[name];
  if (!c) throw new Error(`unknown configuration ${name}: ${Object.keys(allConfigs).join(', ')}`);
  const chat = await models.chat(c.model);
  const tokenizer = await models.tokenizer(c.model);
  const answerers = new Map(
    [...kbs].map(([set, { kb, retriever }]) => [
      set,
      new Answerer({
        chat,
        tokenizer,
        embedder,
        retriever,
        store: kb.store,
        systemPrompt: c.prompt,
        evidenceSentences: c.sentences,
        checkPremise: c.premise ?? true,
      }),
    ]),
  );
  type Row = {
    set: string;
    answerable: boolean;
    right: boolean;
    abstained: boolean;
    f1: number;
    citesGold: boolean;
    ttftMs: number | undefined;
    totalMs: number;
    promptTokens: number;
    [more: string]: unknown;
  };
  const rows: Row[] = [];
  const rss0 = process.memoryUsage().rss;
  let peakRss = rss0;
  for (const probe of probes) {
    const r: AnswerResult = await answerers.get(probe.set)!.answer(probe.question, {
      principal: probe.principal,
      k: c.k,
      cache: false,
    });
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
    const answerable = probe.answers.length > 0;
    const f1 = answerable && !r.abstained ? tokenF1(r.answer.replace(/\[\d+\]/g, ''), probe.answers) : 0;
    const draft = r.warnings.find((w) => w.startsWith('Withheld'))?.slice(0, 160);
    rows.push({
      set: probe.set,
      question: probe.question,
      principal: probe.principal.user,
      answerable,
      answer: r.answer,
      abstained: r.abstained,
      abstainReason: r.abstainReason,
      f1,
      // Right: the gold answer's words are in it (F1 >= 0.5, or the gold span contained).
      right:
        answerable &&
        !r.abstained &&
        (f1 >= 0.5 ||
          probe.answers.some((a) => r.answer.toLowerCase().includes(a.toLowerCase().replace(/\.$/, '')))),
      citesGold: !r.abstained && r.citations.some((x) => isGold(probe, x.docId)),
      ttftMs: r.timings.firstTokenMs,
      totalMs: r.timings.totalMs,
      promptTokens: r.usage.inputTokens,
      ...(draft ? { withheldDraft: draft } : {}),
    });
    process.stderr.write(
      `${name} [${probe.set}] ${probe.question.slice(0, 50)} → ${r.abstained ? `(${r.abstainReason}) ${draft ?? ''}` : r.answer.slice(0, 100)}\n`,
    );
  }
  const answerableRows = rows.filter((r) => r.answerable);
  const unanswerable = rows.filter((r) => !r.answerable);
  const abstainedRows = rows.filter((r) => r.abstained);
  const answered = rows.filter((r) => !r.abstained);
  const ttfts = rows.map((r) => r.ttftMs).filter((t): t is number => t !== undefined);
  const bySet = Object.fromEntries(
    [...new Set(rows.map((r) => r.set))].map((set) => {
      const s = rows.filter((r) => r.set === set);
      return [
        set,
        {
          answerableRight: `${s.filter((r) => r.right).length}/${s.filter((r) => r.answerable).length}`,
          unanswerableWithheld: `${s.filter((r) => !r.answerable && r.abstained).length}/${s.filter((r) => !r.answerable).length}`,
        },
      ];
    }),
  );
  results.push({
    config: name,
    ...c,
    prompt:
      c.prompt === DEFAULT_SYSTEM_PROMPT
        ? 'smollm2 (old default)'
        : c.prompt === SHORT_PROMPT
          ? 'short'
          : 'plain',
    questions: rows.length,
    bySet,
    f1Answerable: answerableRows.reduce((a, r) => a + r.f1, 0) / answerableRows.length,
    rightAnswerable: answerableRows.filter((r) => r.right).length / answerableRows.length,
    abstentionPrecision: abstainedRows.length
      ? abstainedRows.filter((r) => !r.answerable).length / abstainedRows.length
      : 0,
    abstentionRecall: unanswerable.filter((r) => r.abstained).length / unanswerable.length,
    hallucinationRate: rows.filter((r) => !r.abstained && !r.right).length / rows.length,
    answeredCiteGold: answered.filter((r) => r.answerable).length
      ? answered.filter((r) => r.answerable && r.citesGold).length /
        answered.filter((r) => r.answerable).length
      : 0,
    ttftP50Ms: percentile(ttfts, 50),
    ttftP95Ms: percentile(ttfts, 95),
    totalP50Ms: percentile(
      rows.map((r) => r.totalMs),
      50,
    ),
    promptTokensP50: percentile(
      rows.map((r) => r.promptTokens).filter((t) => t > 0),
      50,
    ),
    peakRssMiB: Math.round(peakRss / 2 ** 20),
    rows,
  });
}
const summary = results.map(({ rows: _rows, ...r }) => r);
console.log(JSON.stringify(summary, null, 2));
writeResult(`chat-models${args.includes('--out') ? `-${args[args.indexOf('--out') + 1]}` : ''}`, {
  machine: machineDescription(),
  loadAverage: loadAverage(),
  command: `npx tsx bench/chat-models.ts ${args.join(' ')}`.trim(),
  data: 'two-file KB (issue #16), examples/handbook, squad2-dev (SQuAD 2.0 dev, CC BY-SA 4.0) articles 1-12 as KB, questions from 7-12',
  syncedChunks,
  results,
});
for (const { kb } of kbs.values()) await kb.close();
await models.dispose();
