import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../config/index.ts';
import { type EvalQuestion, readCorpus, readQuestions } from '../eval/qa-data.ts';
import { KnowledgeBase } from '../knowledge/index.ts';
import type { Models } from '../models/models.ts';
import { testModels } from '../models/testing.ts';
import type { SearchHit, StoredChunk } from '../store/index.ts';
import { fuse, Retriever, removeNearDuplicates } from './retriever.ts';

describe('Retriever on a squad2-dev slice (real embeddings, LanceDB)', () => {
  let models: Models;
  let kb: KnowledgeBase;
  let retriever: Retriever;
  const work = mkdtempSync(join(tmpdir(), 'attune-retrieve-'));
  // Three whole articles: enough neighbours that retrieval has to discriminate.
  const articles = ['Normans', 'Amazon_rainforest', 'Oxygen'];
  const corpus = readCorpus('squad2-dev').filter((d) => articles.some((a) => d.id.startsWith(`${a}#`)));
  const questions = readQuestions('squad2-dev')
    .filter((q) => q.answerable && corpus.some((d) => d.id === q.gold_doc_ids[0]))
    .filter((_, i) => i % 7 === 0)
    .slice(0, 30);

  before(async () => {
    models = await testModels();
    const dir = join(work, 'squad');
    mkdirSync(dir);
    writeFileSync(join(dir, 'paragraphs.jsonl'), corpus.map((d) => JSON.stringify(d)).join('\n'));
    // One restricted document that would otherwise answer the probe question best.
    writeFileSync(
      join(dir, 'secret.md'),
      '# Board minutes\n\nThe Normans secret budget for 2027 is 4.2 million euros.\n',
    );
    writeFileSync(join(dir, 'secret.md.acl.json'), JSON.stringify({ public: false, groups: ['board'] }));
    const config = loadConfig({ cwd: work, env: { ...process.env, ATTUNE_DIR: join(work, '.attune') } });
    kb = await KnowledgeBase.open(config, models);
    const summary = await kb.sync([dir]);
    assert.equal(summary.failed, 0);
    retriever = new Retriever({ store: kb.store, embedder: await models.embedding() });
  });
  after(async () => {
    await kb.close();
    await models.dispose();
    rmSync(work, { recursive: true, force: true });
  });

  const goldId = (q: EvalQuestion) => `squad/paragraphs.jsonl#${q.gold_doc_ids[0]}`;

  it('finds the gold paragraph in the top 5 for most questions, with every stage recorded', async () => {
    let hits = 0;
    for (const q of questions) {
      const result = await retriever.retrieve(q.question, { principal: { user: 'u', groups: [] }, k: 5 });
      assert.ok(result.evidence.length <= 5);
      if (result.evidence.some((e) => e.document.id === goldId(q))) hits++;
      for (const e of result.evidence) {
        assert.ok(e.stages.dense || e.stages.text, 'each piece of evidence came from a search');
        assert.equal(e.stages.fused.rank, e.rank);
        assert.ok(e.chunk.version >= 1);
      }
    }
    const recall = hits / questions.length;
    console.log(`recall@5 on ${questions.length} squad2-dev questions: ${recall.toFixed(2)}`);
    assert.ok(recall >= 0.7, `recall@5 ${recall}`);
  });

  it('never returns evidence the principal may not read', async () => {
    const q = 'What is the Normans secret budget for 2027?';
    const outsider = await retriever.retrieve(q, { principal: { user: 'u', groups: ['staff'] }, k: 10 });
    assert.ok(outsider.evidence.every((e) => e.document.id !== 'squad/secret.md'));
    const board = await retriever.retrieve(q, { principal: { user: 'b', groups: ['board'] }, k: 3 });
    assert.equal(board.evidence[0]!.document.id, 'squad/secret.md');
  });

  it('runs one search alone when asked, and hybrid recalls at least as much as either', async () => {
    const principal = { user: 'u', groups: [] };
    const recall = { hybrid: 0, dense: 0, text: 0 };
    for (const q of questions) {
      for (const mode of ['hybrid', 'dense', 'text'] as const) {
        const result = await retriever.retrieve(q.question, { principal, k: 5, mode });
        if (mode === 'text') assert.equal(result.timings.embedMs < 1, true, 'text mode embeds nothing');
        for (const e of result.evidence) {
          if (mode === 'dense') assert.ok(e.stages.dense && !e.stages.text);
          if (mode === 'text') assert.ok(e.stages.text && !e.stages.dense);
        }
        if (result.evidence.some((e) => e.document.id === goldId(q))) recall[mode]++;
      }
    }
    console.log(
      `recall@5 hybrid/dense/text: ${recall.hybrid}/${recall.dense}/${recall.text} of ${questions.length}`,
    );
    assert.ok(recall.hybrid >= Math.max(recall.dense, recall.text) - 1, JSON.stringify(recall));
  });

  it('the cross-encoder reorders the pool by its scores and puts the gold paragraph first more often', async () => {
    // Attune's reranker was trained on squad2-dev articles 23-35; these three are 2, 21 and 22.
    await models.cache.pull('attune-reranker-minilm-l6-squad');
    const reranker = await models.reranker('attune-reranker-minilm-l6-squad');
    assert.ok(reranker);
    const reranking = new Retriever({ store: kb.store, embedder: await models.embedding(), reranker });
    const principal = { user: 'u', groups: [] };
    const first = { hybrid: 0, reranked: 0 };
    for (const q of questions) {
      const plain = await retriever.retrieve(q.question, { principal, k: 5 });
      const result = await reranking.retrieve(q.question, { principal, k: 5, rerankCandidates: 10 });
      const scores = result.evidence.map((e) => e.stages.rerank!.score);
      assert.deepEqual(
        scores,
        [...scores].sort((a, b) => b - a),
        'evidence in reranker order',
      );
      assert.ok(scores.every((x) => x > 0 && x < 1));
      assert.ok(result.timings.rerankMs > 0);
      if (plain.evidence[0]?.document.id === goldId(q)) first.hybrid++;
      if (result.evidence[0]?.document.id === goldId(q)) first.reranked++;
    }
    console.log(`recall@1 hybrid ${first.hybrid}, hybrid + rerank ${first.reranked} of ${questions.length}`);
    assert.ok(first.reranked > first.hybrid, JSON.stringify(first));
    const skipped = await reranking.retrieve('Who ruled the Normans?', { principal, rerank: false });
    assert.ok(skipped.evidence.every((e) => e.stages.rerank === undefined) && skipped.timings.rerankMs === 0);
  });

  it('caches query embeddings', async () => {
    const embedder = await models.embedding();
    let calls = 0;
    const counting = new Retriever({
      store: kb.store,
      embedder: {
        ...embedder,
        doEmbed: (o) => {
          calls += 1;
          return embedder.doEmbed(o);
        },
      } as typeof embedder,
    });
    await counting.retrieve('Who ruled the Normans?', { principal: { user: 'u', groups: [] } });
    await counting.retrieve('Who ruled the Normans?', { principal: { user: 'u', groups: [] } });
    assert.equal(calls, 1);
  });
});

describe('fusion and de-duplication', () => {
  const chunk = (id: string, text = id): StoredChunk => ({
    id,
    docId: id,
    ordinal: 0,
    text,
    headingPath: [],
    tokenCount: 1,
    version: 1,
    contentHash: id,
  });
  const hit = (id: string, rank: number, text?: string): SearchHit => ({
    chunk: chunk(id, text),
    document: { id, source: id, title: id, metadata: {}, version: 1 },
    score: 1 / rank,
    rank,
  });

  it('ranks a chunk found by both searches above ones found by one', () => {
    const fused = fuse([hit('a', 1), hit('b', 2)], [hit('b', 1), hit('c', 2)], 60, {});
    assert.deepEqual(
      fused.map((e) => e.chunk.id),
      ['b', 'a', 'c'],
    );
    assert.equal(fused[0]!.stages.dense!.rank, 2);
    assert.equal(fused[0]!.stages.text!.rank, 1);
    const textHeavy = fuse([hit('a', 1)], [hit('c', 1)], 60, { text: 2 });
    assert.equal(textHeavy[0]!.chunk.id, 'c');
  });

  it('reranks only the pool, best first, and keeps the rest in fused order behind it', async () => {
    const hits = ['a', 'b', 'c', 'd', 'e', 'f'].map((id, i) => hit(id, i + 1, `text ${id} ${'x'.repeat(i)}`));
    const seen: string[][] = [];
    const retriever = new Retriever({
      store: { denseSearch: async () => hits, textSearch: async () => [] } as never,
      embedder: { doEmbed: async () => ({ embeddings: [[1]], usage: { tokens: 1 } }) } as never,
      // Scripted: scores each text by its position reversed, so the pool comes back upside down.
      reranker: {
        modelId: 'scripted',
        rerank: async (_q, texts) => {
          seen.push(texts);
          return texts.map((_, i) => i);
        },
      },
    });
    const result = await retriever.retrieve('q', {
      principal: { user: 'u', groups: [] },
      k: 5,
      rerankCandidates: 3,
    });
    assert.equal(seen[0]!.length, 3);
    assert.deepEqual(
      result.evidence.map((e) => e.chunk.id),
      ['c', 'b', 'a', 'd', 'e'],
    );
    assert.deepEqual(
      result.evidence.map((e) => e.stages.rerank?.rank),
      [1, 2, 3, undefined, undefined],
    );
  });

  it('drops a near-copy of a better-ranked chunk', () => {
    const fused = fuse(
      [
        hit('a', 1, 'The refund window is 30 days for annual plans.'),
        hit('b', 2, 'the refund window is 30 days for annual plans'),
      ],
      [hit('c', 1, 'Support hours are weekdays.')],
      60,
      {},
    );
    const kept = removeNearDuplicates(fused, 0.9).map((e) => e.chunk.id);
    assert.ok(kept.includes('a') && kept.includes('c') && !kept.includes('b'));
  });

  it('stops once it has kept enough, with the same prefix as the full pass', () => {
    const texts = ['alpha beta', 'alpha beta', 'gamma delta', 'alpha beta', 'epsilon zeta', 'eta theta'];
    const fused = fuse(
      texts.map((t, i) => hit(`c${i}`, i + 1, t)),
      [],
      60,
      {},
    );
    const full = removeNearDuplicates(fused, 0.9).map((e) => e.chunk.id);
    assert.deepEqual(full, ['c0', 'c2', 'c4', 'c5']);
    for (let limit = 0; limit <= 5; limit++) {
      assert.deepEqual(
        removeNearDuplicates(fused, 0.9, limit).map((e) => e.chunk.id),
        full.slice(0, limit),
      );
    }
  });
});
