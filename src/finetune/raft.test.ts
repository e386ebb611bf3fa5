import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../config/index.ts';
import { readCorpus, readQuestions } from '../eval/qa-data.ts';
import { KnowledgeBase } from '../knowledge/index.ts';
import type { Models } from '../models/models.ts';
import { SMALL_CHAT_MODEL, testModels } from '../models/testing.ts';
import { Retriever } from '../retrieve/index.ts';
import { anonymous } from '../store/index.ts';
import {
  ANSWER_PREFIX,
  BEGIN_QUOTE,
  bestQuote,
  buildRaftExamples,
  END_QUOTE,
  type RaftItem,
  raftAnswer,
} from './raft.ts';

describe('RAFT examples from a squad2-dev slice (real retriever: MiniLM embeddings + BM25 in LanceDB)', () => {
  let models: Models;
  let kb: KnowledgeBase;
  let retriever: Retriever;
  const items: RaftItem[] = [];
  const work = mkdtempSync(join(tmpdir(), 'attune-raft-'));
  // 31 paragraphs: enough neighbours for hard negatives, few enough to embed quickly.
  const corpus = readCorpus('squad2-dev').filter(
    (d) => d.id.startsWith('Amazon_rainforest#') || /^Black_Death#\d$/.test(d.id),
  );

  before(async () => {
    models = await testModels({ chat: SMALL_CHAT_MODEL });
    const dir = join(work, 'squad');
    mkdirSync(dir);
    writeFileSync(join(dir, 'paragraphs.jsonl'), corpus.map((d) => JSON.stringify(d)).join('\n'));
    const config = loadConfig({ cwd: work, env: { ...process.env, ATTUNE_DIR: join(work, '.attune') } });
    kb = await KnowledgeBase.open(config, models);
    assert.equal((await kb.sync([dir])).failed, 0);
    retriever = new Retriever({ store: kb.store, embedder: await models.embedding() });
    // Real questions with their gold answers; the oracle is the gold paragraph's chunk holding the answer.
    const questions = readQuestions('squad2-dev').filter(
      (q) => q.answerable && corpus.some((d) => d.id === q.gold_doc_ids[0]),
    );
    for (const q of questions.filter((_, i) => i % 3 === 0).slice(0, 40)) {
      const docId = `squad/paragraphs.jsonl#${q.gold_doc_ids[0]}`;
      const document = await kb.store.getDocument(docId, anonymous);
      const chunk = (await kb.store.getChunks(docId, anonymous)).find((c) => c.text.includes(q.answers[0]!));
      if (!document || !chunk) continue;
      items.push({ question: q.question, answer: q.answers[0]!, oracle: { chunk, document } });
    }
    assert.ok(items.length >= 35, `${items.length} items`);
  });
  after(async () => {
    await kb.close();
    await models.dispose();
    rmSync(work, { recursive: true, force: true });
  });

  it('puts the oracle in the configured share of examples', async () => {
    for (const share of [0.8, 0.5]) {
      const { examples } = await buildRaftExamples(items, { retriever, oracleShare: share, seed: 7 });
      const present = examples.filter((e) => e.meta?.oraclePresent === true).length;
      assert.ok(
        Math.abs(present / examples.length - share) <= 1 / examples.length,
        `${present}/${examples.length} at ${share}`,
      );
      for (const e of examples) {
        const oracleText = items.find((i) => i.oracle.chunk.id === e.meta?.oracleChunkId)!.oracle.chunk.text;
        assert.equal(
          e.messages[0]!.content.includes(`<DOCUMENT>${oracleText}</DOCUMENT>`),
          e.meta?.oraclePresent,
        );
      }
    }
  });

  it('takes distractors from the retriever, never the oracle or its document, in a shuffled order', async () => {
    const k = 3;
    const { examples, warnings } = await buildRaftExamples(items, { retriever, distractors: k, seed: 1 });
    assert.deepEqual(warnings, []);
    const oraclePositions = new Set<number>();
    for (const [i, e] of examples.entries()) {
      const meta = e.meta as {
        oraclePresent: boolean;
        oracleChunkId: string;
        oracleDocId: string;
        distractorChunkIds: string[];
        distractorDocIds: string[];
        documentOrder: string[];
      };
      assert.equal(meta.oracleChunkId, items[i]!.oracle.chunk.id);
      assert.equal(meta.distractorChunkIds.length, meta.oraclePresent ? k : k + 1);
      assert.ok(!meta.distractorChunkIds.includes(meta.oracleChunkId));
      assert.ok(!meta.distractorDocIds.includes(meta.oracleDocId));
      // Hard negatives: each distractor is among the retriever's own top results for this question.
      const { evidence } = await retriever.retrieve(items[i]!.question, {
        principal: anonymous,
        k: k + 9,
        rerank: false,
      });
      const retrieved = new Set(evidence.map((x) => x.chunk.id));
      for (const id of meta.distractorChunkIds) assert.ok(retrieved.has(id), `${id} was not retrieved`);
      assert.equal(e.messages[0]!.content.match(/<DOCUMENT>/g)?.length, k + 1);
      if (meta.oraclePresent) oraclePositions.add(meta.documentOrder.indexOf(meta.oracleChunkId));
    }
    assert.ok(oraclePositions.size >= 3, `the oracle moves around: positions ${[...oraclePositions]}`);
  });

  it('answers with reasoning that quotes the oracle between markers and ends with <ANSWER>:', async () => {
    const { examples } = await buildRaftExamples(items, { retriever, seed: 3 });
    for (const [i, e] of examples.entries()) {
      const answer = e.messages.at(-1)!;
      assert.equal(answer.role, 'assistant');
      const quote = answer.content.match(/##begin_quote##([\s\S]*?)##end_quote##/)?.[1];
      assert.ok(quote && quote.length > 0, answer.content);
      assert.ok(items[i]!.oracle.chunk.text.includes(quote), `quote is a substring of the oracle: ${quote}`);
      assert.equal(quote, e.meta?.quote);
      assert.ok(answer.content.endsWith(`${ANSWER_PREFIX} ${items[i]!.answer}`));
      assert.ok(e.messages[0]!.content.endsWith(`Question: ${items[i]!.question}`));
    }
    // The quote is the sentence holding the gold answer in nearly every case (squad answers are spans).
    const holding = examples.filter((e, i) => String(e.meta?.quote).includes(items[i]!.answer)).length;
    assert.ok(holding / examples.length >= 0.9, `${holding}/${examples.length}`);
  });

  it('is deterministic for a seed', async () => {
    const a = await buildRaftExamples(items.slice(0, 10), { retriever, seed: 5 });
    const b = await buildRaftExamples(items.slice(0, 10), { retriever, seed: 5 });
    const c = await buildRaftExamples(items.slice(0, 10), { retriever, seed: 6 });
    assert.deepEqual(a, b);
    assert.notDeepEqual(
      a.examples.map((e) => e.meta?.documentOrder),
      c.examples.map((e) => e.meta?.documentOrder),
    );
  });
});

describe('RAFT answer format', () => {
  const oracle =
    'The Black Death is estimated to have killed 30–60% of Europe’s population. In total, the plague reduced the world population from about 450 million to 350–375 million in the 14th century.';

  it('picks the sentence holding the answer and quotes it verbatim', () => {
    const { text, quote } = raftAnswer(
      'What was the world population before the plague?',
      'about 450 million',
      oracle,
    );
    assert.equal(
      quote,
      'In total, the plague reduced the world population from about 450 million to 350–375 million in the 14th century.',
    );
    assert.equal(
      text,
      [
        'Reasoning: The question asks: What was the world population before the plague?',
        `The document that answers it says: ${BEGIN_QUOTE}${quote}${END_QUOTE}`,
        'From this passage, the answer is about 450 million.',
        '<ANSWER>: about 450 million',
      ].join('\n'),
    );
  });

  it('falls back to word overlap when the answer is not verbatim in the oracle', () => {
    assert.equal(
      bestQuote('How much of Europe died?', '30 to 60 percent of Europe', oracle),
      'The Black Death is estimated to have killed 30–60% of Europe’s population.',
    );
  });
});
