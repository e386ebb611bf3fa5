import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { runKnowledgeStoreConformance } from './conformance.ts';
import type { KnowledgeStore } from './knowledge-store.ts';
import { migratePostgresStore, openPostgresStore } from './postgres-store.ts';
import type { Principal } from './principal.ts';
import { EmbeddingMismatchError, StoreLockedError, StoreNotFoundError } from './store-error.ts';
import { crashDocument, crashEmbedding, crashRound } from './testing/crash-documents.ts';
import { type PgServer, startPgServer } from './testing/pg-server.ts';

const admin: Principal = { user: 'test', groups: [], admin: true };
const writerScript = fileURLToPath(new URL('./testing/pg-crash-writer.ts', import.meta.url));

let server: PgServer;
let url: string;
let schemas = 0;
const nextSchema = (prefix: string) => `${prefix}_${++schemas}`;

before(async () => {
  server = await startPgServer();
  url = await server.createDatabase('store_tests');
});
after(async () => {
  await server?.stop();
});

// One schema per store: each case starts empty, and the server is started once.
runKnowledgeStoreConformance(
  'PostgreSQL + pgvector',
  async (embedding) => openPostgresStore({ url, schema: nextSchema('conformance'), embedding }),
  { annThresholdRows: 5000 },
);

function startWriter(schema: string, mode: string, docCount: number): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', writerScript, url, schema, mode, String(docCount)], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

function waitForLine(
  child: ChildProcess,
  test: (line: string) => boolean,
  timeoutMs = 30_000,
): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    let stderr = '';
    const timer = setTimeout(
      () => reject(new Error(`writer printed nothing expected; stderr:\n${stderr}`)),
      timeoutMs,
    );
    child.stderr?.on('data', (data: Buffer) => {
      stderr += data.toString();
    });
    child.stdout?.on('data', (data: Buffer) => {
      buffer += data.toString();
      const lines = buffer.split('\n');
      buffer = lines.pop() ?? '';
      const found = lines.find(test);
      if (found !== undefined) {
        clearTimeout(timer);
        resolve(found);
      }
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`writer exited (${code ?? signal}) before the expected line; stderr:\n${stderr}`));
    });
  });
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
}

/** Every document wholly in one state: its row, chunk count, chunk texts and search hits agree. */
async function assertWholeDocuments(store: KnowledgeStore, docCount: number): Promise<void> {
  const documents = await store.listDocuments(admin);
  assert.equal(documents.length, docCount);
  for (const document of documents) {
    const chunks = await store.getChunks(document.id, admin);
    assert.equal(chunks.length, document.chunkCount, `${document.id}: chunk count`);
    const expected = crashDocument(Number(document.id.slice(4)), crashRound(document.title)).chunks;
    assert.deepEqual(
      chunks.map((c) => [c.ordinal, c.text]),
      expected.map((c) => [c.ordinal, c.text]),
      `${document.id}: chunks of ${document.title}`,
    );
  }
  const text = await store.textSearch('payload', { k: 500, principal: admin });
  assert.equal(
    text.length,
    documents.reduce((sum, d) => sum + d.chunkCount, 0),
  );
  for (const hit of text) assert.ok(hit.chunk.text.startsWith(`${hit.document.title} chunk`), hit.chunk.text);
  const versions = (await store.listVersions()).map((v) => v.number);
  assert.deepEqual(
    versions,
    versions.map((_, i) => i + 1),
  );
}

async function sql<T extends pg.QueryResultRow = Record<string, unknown>>(
  text: string,
  values: unknown[] = [],
) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end();
  }
}

describe('PostgreSQL store: crashes, dropped connections, locks, migrations', () => {
  it('keeps every document whole across kill -9 of the writer at arbitrary moments', async (t) => {
    const schema = nextSchema('killed');
    const docCount = 12;
    for (let cycle = 0; cycle < 4; cycle++) {
      const child = startWriter(schema, 'loop', docCount);
      const target = docCount + 5 + cycle * 7;
      await waitForLine(child, (line) => line.startsWith('upserts ') && Number(line.split(' ')[1]) >= target);
      await new Promise((resolve) => setTimeout(resolve, 5 * cycle));
      child.kill('SIGKILL');
      assert.equal((await exited(child)).signal, 'SIGKILL');
      const store = await openPostgresStore({ url, schema });
      await assertWholeDocuments(store, docCount);
      t.diagnostic(`cycle ${cycle}: versions ${(await store.listVersions()).length}`);
      await store.close();
    }
    // The killed writer's lock died with its connection: a new writer gets it at once.
    const store = await openPostgresStore({ url, schema, lockTimeoutMs: 2000 });
    const version = await store.beginWrite();
    for (let i = 0; i < docCount; i++) {
      const { document, chunks } = crashDocument(i, 1000);
      await store.upsertDocument(document, chunks, version);
    }
    assert.equal(
      (await store.commitVersion({ added: 0, changed: docCount, removed: 0, failed: 0, chunksEmbedded: 0 }))
        .number,
      version,
    );
    await store.endWrite();
    await assertWholeDocuments(store, docCount);
    assert.ok((await store.listDocuments(admin)).every((d) => d.title.endsWith('round 1000')));
    await store.close();
  });

  it('leaves the old state when the writer is killed inside a transaction, and records the committed part', async () => {
    const schema = nextSchema('crash_on_doc');
    const docCount = 10;
    assert.equal((await exited(startWriter(schema, 'once', docCount))).code, 0);
    const crashing = startWriter(schema, 'crash-on-doc', docCount);
    assert.equal((await exited(crashing)).signal, 'SIGKILL');
    const store = await openPostgresStore({ url, schema });
    await assertWholeDocuments(store, docCount);
    const titles = new Map((await store.listDocuments(admin)).map((d) => [d.id, d.title]));
    assert.equal(titles.get('doc-4'), 'doc-4 round 2', 'committed before the crash');
    assert.equal(titles.get('doc-5'), 'doc-5 round 1', 'the killed transaction left no trace');
    assert.equal(titles.get('doc-6'), 'doc-6 round 1');
    assert.equal(
      (await sql(`SELECT count(*)::int AS n FROM ${schema}.chunk_history WHERE doc_id = 'doc-5'`))[0]?.n,
      0,
    );
    // The committed part is live, so it is listed at once (the conformance contract), not yet recorded.
    const listed = await store.listVersions();
    assert.deepEqual(
      listed.map((v) => v.number),
      [1, 2],
    );
    assert.match(listed[1]!.note ?? '', /not recorded yet/);
    assert.equal(await store.beginWrite(), 3);
    await store.endWrite();
    const recovered = (await store.listVersions()).at(-1)!;
    assert.equal(recovered.number, 2);
    assert.match(recovered.note ?? '', /recovered/);
    assert.equal(recovered.summary.changed, 5);
    await store.close();
  });

  it('leaves no partial document when the connection drops mid-transaction, and writes again after', async () => {
    const schema = nextSchema('dropped');
    let terminate = false;
    const store = await openPostgresStore({
      url,
      schema,
      embedding: crashEmbedding,
      afterRowsWritten: async () => {
        if (!terminate) return;
        // The writer's own backend, seen from another connection: idle in its open transaction.
        const killed = await sql<{ ok: boolean }>(
          `SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity
            WHERE application_name LIKE 'attune:%' AND state = 'idle in transaction'`,
        );
        assert.equal(killed.length, 1);
      },
    });
    const version = await store.beginWrite();
    const batch = (round: number) => Array.from({ length: 6 }, (_, i) => crashDocument(i, round));
    await store.upsertDocuments(batch(1), version);
    terminate = true;
    await assert.rejects(store.upsertDocuments(batch(2), version));
    terminate = false;
    const reader = await openPostgresStore({ url, schema });
    await assertWholeDocuments(reader, 6);
    assert.ok((await reader.listDocuments(admin)).every((d) => crashRound(d.title) === 1));
    const counts = await sql<{ states: number; history: number }>(
      `SELECT (SELECT count(*)::int FROM ${schema}.document_states) AS states,
              (SELECT count(*)::int FROM ${schema}.chunk_history) AS history`,
    );
    assert.deepEqual(counts[0], { states: 6, history: 0 });
    // The same store reconnects and takes the lock again.
    const results = await store.upsertDocuments(batch(2), version);
    assert.ok(results.every((r) => r.status === 'changed'));
    await assertWholeDocuments(reader, 6);
    assert.ok((await reader.listDocuments(admin)).every((d) => crashRound(d.title) === 2));
    await reader.close();
    await store.close();
  });

  it('lets a second writer wait for the lock, and refuses it clearly after the timeout', async () => {
    const schema = nextSchema('locked');
    const holder = startWriter(schema, 'hold', 1);
    await waitForLine(holder, (line) => line === 'holding');
    const impatient = await openPostgresStore({ url, schema, lockTimeoutMs: 300 });
    const { document, chunks } = crashDocument(1, 1);
    const started = Date.now();
    await assert.rejects(impatient.upsertDocument(document, chunks, 1), (error: unknown) => {
      assert.ok(error instanceof StoreLockedError);
      assert.equal(error.holder?.pid, holder.pid);
      assert.match(error.message, new RegExp(`process ${holder.pid} on `));
      return true;
    });
    assert.ok(Date.now() - started >= 300);
    // Reads never wait for the writer.
    assert.equal((await impatient.getDocument('doc-0', admin))?.title, 'doc-0 round 0');
    await impatient.close();
    const patient = await openPostgresStore({ url, schema, lockTimeoutMs: 20_000 });
    const write = patient.upsertDocument(document, chunks, 1);
    setTimeout(() => holder.stdin?.end('release\n'), 200);
    assert.equal((await write).status, 'added');
    assert.equal((await exited(holder)).code, 0);
    await patient.close();
  });

  it('migrates once when several processes open a new database at the same moment', async () => {
    const fresh = await server.createDatabase('migrate_race');
    const schema = 'raced';
    const children = Array.from({ length: 3 }, () =>
      spawn(process.execPath, ['--import', 'tsx', writerScript, fresh, schema, 'once', '3'], {
        stdio: 'pipe',
      }),
    );
    const codes = await Promise.all(children.map((child) => exited(child)));
    assert.deepEqual(
      codes.map((c) => c.code),
      [0, 0, 0],
    );
    const client = new pg.Client({ connectionString: fresh });
    await client.connect();
    const applied = await client.query(`SELECT version FROM ${schema}.schema_migrations ORDER BY version`);
    assert.deepEqual(
      applied.rows.map((r) => r.version),
      [1, 2],
    );
    const ext = await client.query("SELECT count(*)::int AS n FROM pg_extension WHERE extname = 'vector'");
    assert.equal(ext.rows[0].n, 1);
    // Three writers, each one round over the same three documents, one after another.
    const versions = await client.query(`SELECT number FROM ${schema}.versions ORDER BY number`);
    assert.deepEqual(
      versions.rows.map((r) => r.number),
      [1, 2, 3],
    );
    await client.end();
    assert.deepEqual(await migratePostgresStore({ url: fresh, schema }), { applied: [], pending: [] });
  });

  it('reopens an existing store, checks the embedding model, and refuses a store that is not there', async () => {
    const schema = nextSchema('reopen');
    await assert.rejects(openPostgresStore({ url, schema }), StoreNotFoundError);
    assert.equal(
      (await sql('SELECT to_regnamespace($1) AS ns', [schema]))[0]?.ns,
      null,
      'a read creates nothing',
    );
    const store = await openPostgresStore({ url, schema, embedding: crashEmbedding });
    const { document, chunks } = crashDocument(3, 1);
    await store.upsertDocument(document, chunks, 1);
    await store.commitVersion(
      { added: 1, changed: 0, removed: 0, failed: 0, chunksEmbedded: chunks.length },
      'x',
    );
    await store.close();
    await assert.rejects(store.getDocument('doc-3', admin), /closed/);
    const reopened = await openPostgresStore({ url, schema });
    assert.deepEqual(await reopened.embeddingModel(), crashEmbedding);
    assert.equal((await reopened.getChunks('doc-3', admin)).length, chunks.length);
    assert.equal((await reopened.currentVersion())?.note, 'x');
    await reopened.close();
    await assert.rejects(
      openPostgresStore({ url, schema, embedding: { modelId: 'other', dimensions: 8 } }),
      (error: unknown) => error instanceof EmbeddingMismatchError && /crash-test-vectors/.test(error.message),
    );
  });

  it('searches through the HNSW index, falls back to exact for a selective ACL, and fuses hybrid in one query', async () => {
    const schema = nextSchema('plans');
    const store = await openPostgresStore({
      url,
      schema,
      embedding: crashEmbedding,
      efSearch: 10,
      annThresholdRows: 500,
    });
    // Of two hundred documents, ann may read one: the index's first candidates are all someone else's.
    const writes = Array.from({ length: 200 }, (_, i) => crashDocument(i, 1));
    for (const w of writes) w.document.acl = { public: false, users: ['bob'], groups: [] };
    const secret = writes[7]!;
    secret.document.acl = { public: false, users: ['ann'], groups: [] };
    await store.upsertDocuments(writes.slice(0, 100), 1);
    assert.equal((await store.optimize()).denseIndex, 'exact', 'below the threshold: no index yet');
    await store.upsertDocuments(writes.slice(100), 1);
    assert.equal((await store.optimize()).denseIndex, 'ann');
    const plan = await sql<{ 'QUERY PLAN': string }>(
      `EXPLAIN SELECT doc_id FROM ${schema}.chunks ORDER BY embedding <=> '[1,0,0,0,0,0,0,0]' LIMIT 5`,
    );
    assert.match(plan.map((r) => r['QUERY PLAN']).join('\n'), /chunks_embedding/);
    const ann: Principal = { user: 'ann', groups: [] };
    const nobody: Principal = { user: 'zed', groups: [] };
    const vector = secret.chunks[0]!.vector as number[];
    const mine = await store.denseSearch(vector, { k: 10, principal: ann });
    assert.deepEqual(
      mine.map((h) => `${h.document.id}#${h.chunk.ordinal}`).sort(),
      secret.chunks.map((c) => `doc-7#${c.ordinal}`).sort(),
      'every chunk of the one readable document, and nothing else',
    );
    assert.deepEqual(await store.denseSearch(vector, { k: 10, principal: nobody }), []);
    assert.equal((await store.denseSearch(vector, { k: 10, principal: admin })).length, 10);
    const hybrid = await store.hybridSearch(vector, 'doc-7 round payload', { k: 5, principal: admin });
    assert.equal(hybrid.length, 5);
    assert.deepEqual(
      hybrid.map((h) => h.rank),
      [1, 2, 3, 4, 5],
    );
    assert.ok(
      (await store.hybridSearch(vector, 'payload', { k: 50, principal: ann })).every(
        (h) => h.document.id === 'doc-7',
      ),
    );
    for (let i = 1; i < hybrid.length; i++) assert.ok(hybrid[i - 1]!.score >= hybrid[i]!.score);
    assert.ok(
      !(await store.hybridSearch(vector, 'doc-7', { k: 50, principal: nobody })).some(
        (h) => h.document.id === 'doc-7',
      ),
    );
    // websearch_to_tsquery takes any input.
    for (const odd of ['"unclosed', 'a & | ! (', "o'brien -", '-', 'OR OR']) {
      await store.textSearch(odd, { k: 3, principal: admin });
    }
    assert.deepEqual(await store.textSearch('payload -payload', { k: 3, principal: admin }), []);
    await store.close();
  });
  it('leaves words most chunks contain out of a large table text search first, and still finds k', async () => {
    const schema = nextSchema('common_words');
    const store = await openPostgresStore({ url, schema, embedding: crashEmbedding, annThresholdRows: 1e9 });
    const writes = Array.from({ length: 1100 }, (_, d) => {
      const { document, chunks } = crashDocument(d, 1);
      const many = Array.from({ length: 10 }, (_, o) => ({
        ...chunks[0]!,
        id: `${document.id}#${o}`,
        ordinal: o,
        text: `handbook section rare${d}x${o} payload`,
      }));
      return { document, chunks: many };
    });
    for (let start = 0; start < writes.length; start += 200)
      await store.upsertDocuments(writes.slice(start, start + 200), 1);
    await store.optimize();
    const [stats] = await store.query<{ elems: string[] }>(
      "SELECT most_common_elems::text::text[] AS elems FROM pg_stats WHERE schemaname = $1 AND tablename = 'chunks' AND attname = 'tsv'",
      [schema],
    );
    assert.ok(stats?.elems.includes('handbook'), 'ANALYZE counted the word every chunk has');
    // Enough rare matches: the narrowed query answers alone, best first.
    const rare = ['rare5x1', 'rare6x2', 'rare7x3', 'rare8x4', 'rare9x5'];
    const narrowed = await store.textSearch(`handbook ${rare.join(' ')}`, { k: 5, principal: admin });
    assert.deepEqual(narrowed.map((h) => h.chunk.text.split(' ')[2]).sort(), rare);
    // Too few: the full query runs, and the common word fills the list after the rare match.
    const filled = await store.textSearch('handbook rare42x7', { k: 5, principal: admin });
    assert.equal(filled.length, 5);
    assert.equal(filled[0]?.chunk.text, 'handbook section rare42x7 payload');
    assert.ok(filled.every((h) => h.chunk.text.startsWith('handbook')));
    assert.equal((await store.textSearch('handbook', { k: 3, principal: admin })).length, 3);
    await store.close();
  });
});
