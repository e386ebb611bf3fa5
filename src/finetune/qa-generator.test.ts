import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../config/index.ts';
import { readCorpus } from '../eval/qa-data.ts';
import { KnowledgeBase } from '../knowledge/index.ts';
import type { ChatModel } from '../models/model-spec.ts';
import type { Models } from '../models/models.ts';
import { SMALL_CHAT_MODEL, testModels } from '../models/testing.ts';
import { Retriever } from '../retrieve/index.ts';
import { anonymous } from '../store/index.ts';
import { type SourceChunk, sampleChunks } from './dataset-chunks.ts';
import { contentWords, groundingSupport, judgePair, type QaPair } from './qa-generator.ts';
import { BEGIN_QUOTE, END_QUOTE, generateRaftDataset } from './raft.ts';

const corpus = readCorpus('squad2-dev');
const paragraph = (id: string) => corpus.find((d) => d.id === id)!;

describe('grounding filter on crafted pairs', () => {
  const chunk = paragraph('Normans#0').text;

  it('keeps an answer copied from the chunk', () => {
    const judged = judgePair({ question: 'In what country is Normandy located?', answer: 'France' }, chunk);
    assert.deepEqual(judged, { keep: true, support: 1 });
  });

  it('drops an answer whose words are not in the chunk', () => {
    const judged = judgePair(
      { question: 'In what country is Normandy located?', answer: 'Germany, near Berlin' },
      chunk,
    );
    assert.deepEqual(judged, { keep: false, reason: 'ungrounded', support: 0 });
  });

  it('uses the threshold on the share of answer content words found (stop words ignored)', () => {
    // "the", "of", "in" are ignored; 3 of 4 content words (normans, 10th, 11th) are in the chunk, "12th" is not.
    assert.equal(groundingSupport('the Normans of the 10th, 11th and 12th', chunk), 0.75);
    const question = 'When did the Normans give their name to Normandy?';
    assert.equal(judgePair({ question, answer: 'in the 10th and 11th centuries' }, chunk, 0.8).keep, true);
    assert.deepEqual(judgePair({ question, answer: 'the 10th, 11th and 12th centuries' }, chunk, 0.8), {
      keep: false,
      reason: 'ungrounded',
      support: 0.75,
    });
    assert.equal(judgePair({ question, answer: 'the 10th, 11th and 12th centuries' }, chunk, 0.7).keep, true);
  });

  it('drops malformed and trivial pairs', () => {
    assert.deepEqual(judgePair({ question: 'Normandy?', answer: 'France' }, chunk), {
      keep: false,
      reason: 'malformed',
      support: 0,
    });
    assert.equal(judgePair({ question: 'Where is Normandy?', answer: 'the' }, chunk).keep, false);
    assert.equal(
      (judgePair({ question: 'Who were the Normans?', answer: 'the Normans' }, chunk) as { reason: string })
        .reason,
      'trivial',
    );
  });
});

describe('synthetic QA and RAFT with the real local chat model on squad2-dev chunks', () => {
  let models: Models;
  let kb: KnowledgeBase;
  let chat: ChatModel;
  const work = mkdtempSync(join(tmpdir(), 'attune-qa-'));
  const ids = [
    'Normans#0',
    'Normans#1',
    'Oxygen#0',
    'Oxygen#1',
    'Amazon_rainforest#0',
    'Amazon_rainforest#1',
  ];
  /** The first chunk of a paragraph's document. */
  const firstChunk = async (id: string): Promise<SourceChunk> => {
    const document = (await kb.store.getDocument(`squad/paragraphs.jsonl#${id}`, anonymous))!;
    return { chunk: (await kb.store.getChunks(document.id, anonymous))[0]!, document };
  };

  before(async () => {
    // One thread: greedy decoding is then the same on every machine (llama.cpp's sums, and so its
    // argmax, change with the thread count; with two threads SmolLM2 proposes different pairs here).
    models = await testModels({ chat: SMALL_CHAT_MODEL, threads: 1 });
    chat = await models.chat();
    const dir = join(work, 'squad');
    mkdirSync(dir);
    writeFileSync(join(dir, 'paragraphs.jsonl'), ids.map((id) => JSON.stringify(paragraph(id))).join('\n'));
    const config = loadConfig({ cwd: work, env: { ...process.env, ATTUNE_DIR: join(work, '.attune') } });
    kb = await KnowledgeBase.open(config, models);
    assert.equal((await kb.sync([dir])).failed, 0);
  });
  after(async () => {
    await kb.close();
    await models.dispose();
    rmSync(work, { recursive: true, force: true });
  });

  it('samples chunks deterministically, public documents only by default', async () => {
    const take = async (seed: number) => {
      const out: string[] = [];
      for await (const s of sampleChunks(kb.store, { seed })) out.push(s.chunk.id);
      return out;
    };
    const a = await take(1);
    // Every chunk of at least 30 words, once each.
    const expected: string[] = [];
    for (const d of await kb.store.listDocuments(anonymous)) {
      for (const c of await kb.store.getChunks(d.id, anonymous))
        if ((c.text.match(/[\p{L}\p{N}]+/gu)?.length ?? 0) >= 30) expected.push(c.id);
    }
    assert.deepEqual([...a].sort(), expected.sort());
    assert.deepEqual(await take(1), a);
    assert.notDeepEqual(await take(2), a);
  });

  it('generates from two chunks (2 model calls): keeps only grounded pairs, builds RAFT examples from them', async () => {
    const retriever = new Retriever({ store: kb.store, embedder: await models.embedding() });
    const progress: number[] = [];
    const { qa, examples } = await generateRaftDataset({
      model: chat,
      store: kb.store,
      retriever,
      // Two paragraphs on which greedy decoding was seen to copy spans (SmolLM2-135M often writes its
      // own sentences instead); the assertions below hold for any output.
      chunks: [await firstChunk('Oxygen#0'), await firstChunk('Amazon_rainforest#0')],
      temperature: 0,
      count: 10,
      pairsPerChunk: 2,
      distractors: 3,
      oracleShare: 1,
      seed: 1,
      onProgress: (p) => progress.push(p.chunks),
    });
    console.log(
      `QA from 2 chunks: ${qa.generated} proposed, ${qa.kept} kept, dropped ${JSON.stringify(qa.droppedByReason)}`,
    );
    for (const p of qa.pairs)
      console.log(`  kept (support ${p.support.toFixed(2)}): ${p.question} -> ${p.answer}`);
    for (const d of qa.dropped)
      console.log(`  dropped ${d.reason} (${d.support?.toFixed(2)}): ${d.question} -> ${d.answer}`);
    assert.equal(qa.chunksUsed, 2);
    assert.deepEqual(progress, [1, 2]);
    const failed = qa.droppedByReason['generation-failed'];
    assert.equal(
      qa.kept + qa.dropped.length - failed,
      qa.generated,
      'every proposed pair is kept or dropped',
    );
    assert.equal(qa.examples.length, qa.kept);

    // Kept pairs meet the rule, checked independently: >= 80% of the answer's content words are in the chunk.
    for (const [i, p] of qa.pairs.entries()) {
      const chunkWords = new Set(contentWords(p.source.chunk.text));
      const answerWords = [...new Set(contentWords(p.answer))];
      assert.ok(answerWords.filter((w) => chunkWords.has(w)).length / answerWords.length >= 0.8, p.answer);
      assert.deepEqual(qa.examples[i]!.messages, [
        { role: 'user', content: p.question },
        { role: 'assistant', content: p.answer },
      ]);
      assert.deepEqual(qa.examples[i]!.meta?.chunkIds, [p.source.chunk.id]);
      assert.deepEqual(qa.examples[i]!.meta?.docIds, [p.source.document.id]);
    }
    for (const d of qa.dropped.filter((x) => x.reason === 'ungrounded')) assert.ok(d.support! < 0.8);

    // The filter on the model's own output, whatever its quality: each proposed answer is dropped when
    // judged against an unrelated paragraph, and kept (unless malformed or trivial) against a text that
    // contains it.
    const proposed = [...qa.pairs, ...qa.dropped.filter((d) => d.question && d.answer)] as QaPair[];
    assert.ok(proposed.length > 0, 'the model proposed something');
    const unrelated = paragraph('Black_Death#0').text;
    let droppedThere = 0;
    for (const p of proposed) {
      if (groundingSupport(p.answer, unrelated) >= 0.8) continue;
      assert.equal(judgePair(p, unrelated).keep, false, `${p.answer} is not in the unrelated paragraph`);
      droppedThere++;
    }
    assert.ok(droppedThere > 0);
    for (const p of proposed) {
      const judged = judgePair(p, `${unrelated} ${p.answer}`);
      assert.ok(
        judged.keep || judged.reason === 'malformed' || judged.reason === 'trivial',
        JSON.stringify(judged),
      );
    }

    // Each kept pair became a RAFT example with its chunk as the oracle. (A smoke check that the
    // model produced at least one grounded pair from these two paragraphs, so this part is exercised.)
    assert.ok(qa.kept >= 1, 'at least one grounded pair');
    assert.equal(examples.length, qa.kept);
    for (const e of examples) {
      const meta = e.meta as {
        oracleChunkId: string;
        oracleDocId: string;
        distractorDocIds: string[];
        quote: string;
      };
      const oracle = (await kb.store.getChunks(meta.oracleDocId, anonymous)).find(
        (c) => c.id === meta.oracleChunkId,
      )!;
      assert.ok(e.messages[0]!.content.includes(oracle.text));
      assert.equal(meta.distractorDocIds.length, 3);
      assert.ok(!meta.distractorDocIds.includes(meta.oracleDocId));
      assert.ok(e.messages[1]!.content.includes(`${BEGIN_QUOTE}${meta.quote}${END_QUOTE}`));
      assert.ok(oracle.text.includes(meta.quote));
      assert.match(e.messages[1]!.content, /\n<ANSWER>: .+$/);
    }
  });
});
