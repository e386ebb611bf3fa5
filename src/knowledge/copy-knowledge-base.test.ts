import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type AuditRecord, LanceAuditLog, PostgresAuditLog } from '../audit/index.ts';
import { type KnowledgeStore, openKnowledgeStore, type Principal, storeChecksum } from '../store/index.ts';
import { crashDocument, crashEmbedding } from '../store/testing/crash-documents.ts';
import { type PgServer, startPgServer } from '../store/testing/pg-server.ts';
import { copyKnowledgeBase } from './copy-knowledge-base.ts';
import { indexDirName, writePointer } from './knowledge-base.ts';

const admin: Principal = { user: 'test', groups: [], admin: true };
const ann: Principal = { user: 'ann', groups: [] };

function auditRecord(id: string, time: string, user: string): AuditRecord {
  return {
    id,
    time,
    status: 'answered',
    principal: { user, groups: [] },
    question: `question ${id}`,
    kbVersion: 2,
    mode: 'rag',
    model: { id: 'm' },
    parameters: { k: 5, rerank: false, temperature: 0, maxTokens: 64 },
    evidence: [],
    prompt: { tokens: 1, contextSize: 2, reservedAnswerTokens: 3 },
    answer: `answer ${id}`,
    citations: [],
    invalidCitations: [],
    groundedness: { score: 1, sentences: [] },
    retrievalConfidence: 0.5,
    abstained: false,
    timings: { embedMs: 1, searchMs: 1, rerankMs: 0, firstTokenMs: 1, generateMs: 1, totalMs: 3 },
    usage: { inputTokens: 1, outputTokens: 1 },
    cacheKey: `key-${id}`,
    warnings: [],
  };
}

/** A knowledge-base directory as `attune sync` leaves it: pointer, index, audit trail. */
async function makeLanceKb(dir: string): Promise<void> {
  const index = indexDirName(crashEmbedding.modelId);
  const store = await openKnowledgeStore(
    { kind: 'lancedb', dir: join(dir, index) },
    { embedding: crashEmbedding },
  );
  const v1 = await store.beginWrite();
  await store.upsertDocuments(
    Array.from({ length: 30 }, (_, i) => crashDocument(i, 1)),
    v1,
  );
  await store.commitVersion({ added: 30, changed: 0, removed: 0, failed: 0, chunksEmbedded: 90 }, 'first');
  const v2 = await store.beginWrite();
  const changed = Array.from({ length: 5 }, (_, i) => crashDocument(i, 2));
  changed[0]!.document.acl = { public: false, users: ['ann'], groups: [] };
  changed[1]!.document.metadata = { dept: 'hr', year: 2024, draft: true };
  await store.upsertDocuments(changed, v2);
  await store.deleteDocuments(['doc-29'], v2);
  await store.commitVersion({ added: 0, changed: 5, removed: 1, failed: 0, chunksEmbedded: 12 });
  await store.commitVersion({ added: 0, changed: 0, removed: 0, failed: 0, chunksEmbedded: 0 }, 'empty');
  await store.close();
  await writePointer(dir, { index, embeddingModel: crashEmbedding.modelId });
  const audit = await LanceAuditLog.open(join(dir, 'audit'));
  await audit.append(auditRecord('a1', '2026-01-01T00:00:00.000Z', 'ann'));
  await audit.append(auditRecord('a2', '2026-01-02T00:00:00.000Z', 'bob'));
  await audit.close();
}

async function snapshot(store: KnowledgeStore) {
  const vector = crashDocument(3, 1).chunks[0]!.vector;
  return {
    versions: (await store.listVersions()).map((v) => [v.number, v.summary, v.note]),
    documents: (await store.listDocuments(admin)).map((d) => [
      d.id,
      d.version,
      d.chunkCount,
      d.metadata,
      d.acl,
    ]),
    annSees: (await store.listDocuments(ann)).length,
    // The test vectors repeat, so ties make the order of equal scores backend-specific.
    dense: (await store.denseSearch(vector, { k: 40, principal: admin })).map((h) => h.score.toFixed(5)),
    filtered: (await store.textSearch('payload', { k: 50, principal: admin, filter: { dept: 'hr' } })).map(
      (h) => h.chunk.id,
    ),
  };
}

describe('copying a knowledge base between LanceDB and PostgreSQL', () => {
  let server: PgServer;
  const work = mkdtempSync(join(tmpdir(), 'attune-copy-'));
  before(async () => {
    server = await startPgServer();
  });
  after(async () => {
    await server?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('round-trips documents, chunks, vectors, versions and audit records, verified by checksum', async () => {
    const lanceDir = join(work, 'kb');
    const backDir = join(work, 'kb-back');
    await makeLanceKb(lanceDir);
    const url = await server.createDatabase('copy_target');

    const there = await copyKnowledgeBase(lanceDir, url);
    assert.deepEqual(there.counts, { documents: 29, chunks: there.counts.chunks, versions: 3 });
    assert.ok(there.counts.chunks > 29);
    assert.equal(there.auditRecords, 2);
    const back = await copyKnowledgeBase(url, backDir);
    assert.equal(back.checksum, there.checksum, 'the same content after two copies');

    const original = await openKnowledgeStore({
      kind: 'lancedb',
      dir: join(lanceDir, indexDirName(crashEmbedding.modelId)),
    });
    const postgres = await openKnowledgeStore({ kind: 'postgres', url });
    const returned = await openKnowledgeStore({
      kind: 'lancedb',
      dir: join(backDir, indexDirName(crashEmbedding.modelId)),
    });
    try {
      const expected = await snapshot(original);
      assert.equal(expected.annSees, 29);
      assert.equal(
        expected.filtered.length,
        crashDocument(1, 2).chunks.length,
        'the chunks of doc-1, round 2',
      );
      assert.deepEqual(await snapshot(postgres), expected);
      assert.deepEqual(await snapshot(returned), expected);
      assert.equal((await storeChecksum(postgres)).checksum, there.checksum);
      // Documents keep the version of their current state.
      assert.equal((await postgres.getDocument('doc-7', admin))?.version, 1);
      assert.equal((await postgres.getDocument('doc-2', admin))?.version, 2);
      assert.deepEqual(
        (await postgres.documentAt('doc-2', 2, admin))?.chunks.map((c) => c.text),
        (await original.documentAt('doc-2', 2, admin))?.chunks.map((c) => c.text),
      );
    } finally {
      await Promise.all([original.close(), postgres.close(), returned.close()]);
    }
    const audit = await PostgresAuditLog.open({ url });
    assert.deepEqual(
      (await audit.list(admin)).map((r) => r.id),
      ['a2', 'a1'],
    );
    assert.deepEqual(
      (await audit.list(ann)).map((r) => r.id),
      ['a1'],
    );
    assert.equal((await audit.findByCacheKey('key-a2'))?.answer, 'answer a2');
    await audit.assertWritable();
    await audit.close();
    const backAudit = await LanceAuditLog.open(join(backDir, 'audit'));
    assert.deepEqual(
      (await backAudit.list(admin)).map((r) => r.id),
      ['a2', 'a1'],
    );
    await backAudit.close();
  });

  it('refuses a target that is not empty, and the checksum sees a changed vector', async () => {
    const lanceDir = join(work, 'kb2');
    await makeLanceKb(lanceDir);
    const url = await server.createDatabase('copy_twice');
    await copyKnowledgeBase(lanceDir, url);
    await assert.rejects(copyKnowledgeBase(lanceDir, url), /not empty/);
    await assert.rejects(copyKnowledgeBase(url, lanceDir), /already holds a knowledge base/);
    const postgres = await openKnowledgeStore({ kind: 'postgres', url });
    const before = await storeChecksum(postgres);
    const { document, chunks } = crashDocument(8, 1);
    chunks[0]!.vector = chunks[0]!.vector.map((x, i) => (i === 0 ? x + 1e-3 : x));
    // Same text and chunk ids, one vector nudged: only the vector bytes tell them apart.
    document.contentHash = `${document.contentHash}-nudged`;
    await postgres.upsertDocument(document, chunks, await postgres.beginWrite());
    await postgres.endWrite();
    const after = await storeChecksum(postgres);
    assert.equal(after.counts.documents, before.counts.documents);
    assert.notEqual(after.checksum, before.checksum);
    await postgres.close();
  });
});
