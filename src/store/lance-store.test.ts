import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as lancedb from '@lancedb/lancedb';
import { runKnowledgeStoreConformance } from './conformance.ts';
import type { KnowledgeStore } from './knowledge-store.ts';
import { openLanceStore } from './lance-store.ts';
import type { Principal } from './principal.ts';
import { EmbeddingMismatchError, StoreError, StoreLockedError } from './store-error.ts';
import { crashDocument, crashEmbedding, crashRound } from './testing/crash-documents.ts';

const admin: Principal = { user: 'test', groups: [], admin: true };
const writerScript = fileURLToPath(new URL('./testing/crash-writer.ts', import.meta.url));
const dirs: string[] = [];

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'attune-store-'));
  dirs.push(dir);
  return dir;
}

after(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

runKnowledgeStoreConformance(
  'LanceDB',
  async (embedding) => openLanceStore({ dir: join(await tempDir(), '.attune'), embedding }),
  { annThresholdRows: 5000 },
);

function startWriter(dir: string, mode: string, docCount = 20): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', writerScript, dir, mode, String(docCount)], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

/** Resolves when the child's stdout has printed a line satisfying `test`. */
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
    assert.equal(chunks.length, expected.length, `${document.id}: chunks of ${document.title}`);
    chunks.forEach((chunk, ordinal) => {
      assert.equal(chunk.ordinal, ordinal);
      assert.equal(
        chunk.text,
        expected[ordinal]?.text,
        `${document.id}: chunk ${ordinal} of ${document.title}`,
      );
    });
  }
  const dense = await store.denseSearch([1, 0, 0, 0, 0, 0, 0, 0], { k: 200, principal: admin });
  const text = await store.textSearch('payload', { k: 200, principal: admin });
  assert.equal(
    text.length,
    documents.reduce((sum, d) => sum + d.chunkCount, 0),
  );
  for (const hit of [...dense, ...text]) {
    assert.ok(hit.chunk.text.startsWith(`${hit.document.title} chunk`), hit.chunk.text);
  }
  const versions = (await store.listVersions()).map((v) => v.number);
  assert.deepEqual(
    versions,
    versions.map((_, i) => i + 1),
  );
}

async function rawEntries(dir: string): Promise<lancedb.Table> {
  const db = await lancedb.connect(dir, { readConsistencyInterval: 0 });
  return db.openTable('entries');
}

describe('LanceDB store: crashes, locks, reopening', () => {
  it('survives kill -9 at arbitrary moments of a write loop', async (t) => {
    const dir = join(await tempDir(), '.attune');
    const docCount = 12;
    // Cycles 0, 2 and 3 kill at whatever moment a timer hits; cycles 1 and 4 aim at the window
    // between a write's two commits, the moment the design exists for. Cycles 3 and 4 write in
    // batches of four documents (upsertDocuments).
    const modes = ['loop', 'loop-slow', 'loop', 'batch-loop', 'batch-loop-slow'];
    for (const [cycle, mode] of modes.entries()) {
      const aimed = mode.endsWith('-slow');
      const child = startWriter(dir, mode, docCount);
      const target = docCount + 5 + cycle * 7 + (mode.startsWith('batch') ? 2 : 0);
      await waitForLine(child, (line) => {
        const [what, count] = line.split(' ');
        return (aimed ? what === 'between' : what === 'upserts') && Number(count) >= target;
      });
      if (!aimed) await new Promise((resolve) => setTimeout(resolve, 7 * (cycle % 3) + 3));
      child.kill('SIGKILL');
      assert.equal((await exited(child)).signal, 'SIGKILL');

      const entries = await rawEntries(dir);
      const abandoned = await entries.countRows('published = false');
      entries.close();
      if (aimed) assert.ok(abandoned > 0, 'the aimed kill left hidden rows behind');
      t.diagnostic(`cycle ${cycle}: ${abandoned} abandoned rows in the table`);
      const store = await openLanceStore({ dir });
      await assertWholeDocuments(store, docCount);
      await store.close();
    }
    // The store still takes writes: the killed writer's lock is stale and is taken over.
    const store = await openLanceStore({ dir, lockTimeoutMs: 2000 });
    const version = await store.nextVersion();
    for (let i = 0; i < docCount; i++) {
      const { document, chunks } = crashDocument(i, 1000);
      assert.notEqual((await store.upsertDocument(document, chunks, version)).status, 'unchanged');
    }
    const committed = await store.commitVersion({
      added: 0,
      changed: docCount,
      removed: 0,
      failed: 0,
      chunksEmbedded: 0,
    });
    assert.equal(committed.number, version);
    await assertWholeDocuments(store, docCount);
    assert.ok((await store.listDocuments(admin)).every((d) => d.title.endsWith('round 1000')));
    await store.close();
  });

  it('keeps the old state when killed between writing new rows and making them live', async () => {
    const dir = join(await tempDir(), '.attune');
    const docCount = 10;
    const first = startWriter(dir, 'once', docCount);
    assert.equal((await exited(first)).code, 0);
    const crashing = startWriter(dir, 'crash-on-doc', docCount);
    assert.equal((await exited(crashing)).signal, 'SIGKILL');

    const entries = await rawEntries(dir);
    const abandoned = await entries.countRows('published = false');
    assert.ok(abandoned > 0, 'the crash left the new rows of doc-5 written but hidden');
    const store = await openLanceStore({ dir });
    await assertWholeDocuments(store, docCount);
    const titles = new Map((await store.listDocuments(admin)).map((d) => [d.id, d.title]));
    assert.equal(titles.get('doc-4'), 'doc-4 round 2', 'written before the crash');
    assert.equal(titles.get('doc-5'), 'doc-5 round 1', 'the crashed write left no trace');
    assert.equal(titles.get('doc-6'), 'doc-6 round 1');
    // Version 2 is live (doc-0..4) though the killed writer never recorded it: it is listed at once.
    const listed = await store.listVersions();
    assert.deepEqual(
      listed.map((v) => v.number),
      [1, 2],
    );
    assert.match(listed[1]!.note ?? '', /not recorded yet/);
    assert.equal(listed[1]!.summary.changed, 5);
    // doc-0..4 went live at version 2, which the killed writer never recorded. The next writer
    // records it, counted from the rows, and takes a new number: the number is never reused for
    // other changes, and a cache keyed by the version sees the change.
    assert.equal(await store.beginWrite(), 3);
    await store.endWrite();
    const recovered = (await store.listVersions()).at(-1)!;
    assert.equal(recovered.number, 2);
    assert.match(recovered.note ?? '', /recovered/);
    assert.equal(recovered.summary.changed, 5);
    const result = await store.optimize();
    assert.equal(result.prunedRows, abandoned);
    assert.equal(await entries.countRows('published = false'), 0);
    const { document, chunks } = crashDocument(5, 3);
    await store.upsertDocument(document, chunks, 3);
    assert.equal(
      (await store.commitVersion({ added: 0, changed: 1, removed: 0, failed: 0, chunksEmbedded: 1 })).number,
      3,
    );
    assert.equal((await store.getDocument('doc-5', admin))?.title, 'doc-5 round 3');
    await store.close();
    entries.close();
  });

  it('keeps the old state of a whole batch when killed between its two commits', async () => {
    const dir = join(await tempDir(), '.attune');
    const docCount = 10;
    assert.equal((await exited(startWriter(dir, 'once', docCount))).code, 0);
    // Round 2 in batches of four: doc-0..3, doc-4..7 (holds doc-5, killed), doc-8..9 (never written).
    const crashing = startWriter(dir, 'crash-in-batch', docCount);
    assert.equal((await exited(crashing)).signal, 'SIGKILL');

    const entries = await rawEntries(dir);
    const abandoned = await entries.countRows('published = false');
    // Four hidden document rows and their chunks: the whole killed batch, none of it live.
    assert.equal(await entries.countRows("published = false AND kind = 'document'"), 4);
    const store = await openLanceStore({ dir });
    await assertWholeDocuments(store, docCount);
    const rounds = new Map((await store.listDocuments(admin)).map((d) => [d.id, crashRound(d.title)]));
    for (let i = 0; i < docCount; i++) {
      assert.equal(
        rounds.get(`doc-${i}`),
        i < 4 ? 2 : 1,
        `doc-${i}: only the batches before the kill are new`,
      );
    }
    // Version 2 is live (doc-0..3) though the killed writer never recorded it: it is listed at once.
    const listed = await store.listVersions();
    assert.deepEqual(
      listed.map((v) => v.number),
      [1, 2],
    );
    assert.match(listed[1]!.note ?? '', /not recorded yet/);
    assert.equal(listed[1]!.summary.changed, 4);
    assert.equal((await store.optimize()).prunedRows, abandoned);
    await store.close();
    entries.close();
  });

  it('keeps every document when killed inside a batch deletion', async () => {
    const dir = join(await tempDir(), '.attune');
    const docCount = 6;
    assert.equal((await exited(startWriter(dir, 'once', docCount))).code, 0);
    assert.equal((await exited(startWriter(dir, 'crash-in-delete', docCount))).signal, 'SIGKILL');
    const entries = await rawEntries(dir);
    assert.equal(
      await entries.countRows("published = false AND deleted = true AND kind = 'document'"),
      docCount,
    );
    entries.close();
    const store = await openLanceStore({ dir });
    await assertWholeDocuments(store, docCount);
    assert.equal((await store.documentAt('doc-3', 1, admin))?.document.title, 'doc-3 round 1');
    // The next deletion reuses the pending version and works.
    assert.deepEqual(await store.deleteDocuments(['doc-0', 'doc-1'], await store.nextVersion()), [
      true,
      true,
    ]);
    assert.equal((await store.listDocuments(admin)).length, docCount - 2);
    await store.close();
  });

  it('writes a batch in two commits however many documents it holds', async () => {
    const dir = join(await tempDir(), '.attune');
    const store = await openLanceStore({ dir, embedding: crashEmbedding });
    const entries = await rawEntries(dir);
    const batch = (round: number) => Array.from({ length: 30 }, (_, i) => crashDocument(i, round));
    let before = await entries.version();
    await store.upsertDocuments(batch(1), 1);
    assert.equal(await entries.version(), before + 2);
    before = await entries.version();
    const results = await store.upsertDocuments(batch(1), 1);
    assert.ok(results.every((r) => r.status === 'unchanged'));
    assert.equal(await entries.version(), before, 'an unchanged batch writes nothing');
    await store.upsertDocuments([...batch(2).slice(0, 10), ...batch(1).slice(10)], 1);
    assert.equal(await entries.version(), before + 2);
    before = await entries.version();
    assert.deepEqual(await store.deleteDocuments(['doc-1', 'doc-2', 'nope'], 1), [true, true, false]);
    assert.equal(await entries.version(), before + 2);
    await store.close();
    entries.close();
  });

  it('makes a replacement visible in one commit', async () => {
    const dir = join(await tempDir(), '.attune');
    const store = await openLanceStore({ dir, embedding: crashEmbedding });
    const entries = await rawEntries(dir);
    const before = await entries.version();
    const { document, chunks } = crashDocument(1, 1);
    await store.upsertDocument(document, chunks, 1);
    // One commit appends the hidden rows, one commit (the flip) makes them live.
    assert.equal(await entries.version(), before + 2);
    const replacement = crashDocument(1, 2);
    await store.upsertDocument(replacement.document, replacement.chunks, 1);
    assert.equal(await entries.version(), before + 4);
    await store.close();
    entries.close();
  });

  it('lets a second writer wait for the lock, and refuses it clearly after the timeout', async () => {
    const dir = join(await tempDir(), '.attune');
    const holder = startWriter(dir, 'hold');
    await waitForLine(holder, (line) => line === 'holding');

    const impatient = await openLanceStore({ dir, lockTimeoutMs: 300 });
    const { document, chunks } = crashDocument(1, 1);
    const started = Date.now();
    await assert.rejects(impatient.upsertDocument(document, chunks, 1), (error: unknown) => {
      assert.ok(error instanceof StoreLockedError);
      assert.ok(StoreError.isInstance(error));
      assert.equal(error.holder?.pid, holder.pid);
      assert.match(error.message, new RegExp(`process ${holder.pid} on `));
      assert.match(error.hint ?? '', /write\.lock/);
      return true;
    });
    assert.ok(Date.now() - started >= 300);
    // Reads never wait for the writer.
    assert.equal((await impatient.getDocument('doc-0', admin))?.title, 'doc-0 round 0');
    await impatient.close();

    const patient = await openLanceStore({ dir, lockTimeoutMs: 20_000 });
    const write = patient.upsertDocument(document, chunks, 1);
    setTimeout(() => holder.stdin?.end('release\n'), 200);
    assert.equal((await write).status, 'added');
    assert.equal((await exited(holder)).code, 0);
    await patient.close();
  });

  it('reopens an existing store, and checks the embedding model', async () => {
    const dir = join(await tempDir(), '.attune');
    await assert.rejects(openLanceStore({ dir }), /no knowledge store/);
    const store = await openLanceStore({ dir, embedding: crashEmbedding });
    const { document, chunks } = crashDocument(3, 1);
    await store.upsertDocument(document, chunks, 1);
    await store.commitVersion(
      { added: 1, changed: 0, removed: 0, failed: 0, chunksEmbedded: chunks.length },
      'x',
    );
    await store.close();
    await assert.rejects(store.getDocument('doc-3', admin), /closed/);

    const reopened = await openLanceStore({ dir });
    assert.deepEqual(await reopened.embeddingModel(), crashEmbedding);
    assert.equal((await reopened.getChunks('doc-3', admin)).length, chunks.length);
    assert.equal((await reopened.currentVersion())?.note, 'x');
    assert.equal((await reopened.textSearch('payload', { k: 10, principal: admin })).length, chunks.length);
    await reopened.close();

    await assert.rejects(
      openLanceStore({ dir, embedding: { modelId: 'other', dimensions: 8 } }),
      (error: unknown) => error instanceof EmbeddingMismatchError && /crash-test-vectors/.test(error.message),
    );
    const same = await openLanceStore({ dir, embedding: crashEmbedding });
    assert.equal((await same.listDocuments(admin)).length, 1);
    await same.close();
  });
});

describe('LanceDB store: the ACL column and scalar indices', () => {
  it('gives a store made without acl_list the column on open, computed from its ACLs, and filters the same', async () => {
    const dir = join(await tempDir(), '.attune');
    const store = await openLanceStore({ dir, embedding: crashEmbedding });
    const version = await store.beginWrite();
    const acls = [
      { public: true, users: [], groups: [] },
      { public: false, users: [], groups: ['hr'] },
      { public: false, users: ['bob|x'], groups: [] },
      { public: false, users: [], groups: ['sales'] },
    ];
    await store.upsertDocuments(
      acls.map((acl, i) => {
        const { document, chunks } = crashDocument(i, 1);
        return { document: { ...document, acl }, chunks };
      }),
      version,
    );
    await store.commitVersion({ added: 4, changed: 0, removed: 0, failed: 0, chunksEmbedded: 0 });
    await store.optimize();
    await store.endWrite();
    const readers: Principal[] = [
      { user: 'ann', groups: ['hr'] },
      { user: 'bob|x', groups: [] },
      { user: 'eve', groups: ['sales', 'hr'] },
      { user: 'mallory', groups: [] },
    ];
    const query = Array.from({ length: crashEmbedding.dimensions }, () => 0.5);
    const seen = async (s: KnowledgeStore) =>
      Promise.all(
        readers.map(async (principal) => ({
          dense: (await s.denseSearch(query, { k: 50, principal })).map((h) => h.chunk.id).sort(),
          text: (await s.textSearch('payload', { k: 50, principal })).map((h) => h.chunk.id).sort(),
          docs: (await s.listDocuments(principal)).map((d) => d.id).sort(),
        })),
      );
    const expected = await seen(store);
    assert.deepEqual(
      expected.map((e) => e.docs),
      [['doc-0', 'doc-1'], ['doc-0', 'doc-2'], ['doc-0', 'doc-1', 'doc-3'], ['doc-0']],
    );
    const indexed = (await (await lancedb.connect(dir)).openTable('entries')).listIndices();
    const types = (await indexed).map((i) => `${i.indexType}:${i.columns.join(',')}`);
    for (const column of ['kind', 'live', 'acl_public', 'acl_list'])
      assert.ok(
        types.some((t) => t.endsWith(`:${column}`)),
        `${column} indexed (${types.join(' ')})`,
      );
    await store.close();

    // The store as an older Attune left it: no acl_list column.
    const db = await lancedb.connect(dir);
    await (await db.openTable('entries')).dropColumns(['acl_list']);
    db.close();
    const reopened = await openLanceStore({ dir });
    try {
      const schema = await (await (await lancedb.connect(dir)).openTable('entries')).schema();
      assert.ok(
        schema.fields.some((f) => f.name === 'acl_list'),
        'the column is back',
      );
      assert.deepEqual(await seen(reopened), expected);
      // And it is written for new documents too.
      const next = await reopened.beginWrite();
      const { document, chunks } = crashDocument(9, 1);
      await reopened.upsertDocuments(
        [{ document: { ...document, acl: { public: false, users: [], groups: ['hr'] } }, chunks }],
        next,
      );
      await reopened.commitVersion({ added: 1, changed: 0, removed: 0, failed: 0, chunksEmbedded: 0 });
      await reopened.endWrite();
      assert.ok((await reopened.listDocuments(readers[0]!)).some((d) => d.id === 'doc-9'));
      assert.ok(!(await reopened.listDocuments(readers[3]!)).some((d) => d.id === 'doc-9'));
    } finally {
      await reopened.close();
    }
  });
});
