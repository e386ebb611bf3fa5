import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { Attune } from '../attune.ts';
import { loadConfig } from '../config/index.ts';
import type { Models } from '../models/models.ts';
import { testModels } from '../models/testing.ts';
import { openPostgresStore, type Principal } from '../store/index.ts';
import { type PgServer, startPgServer } from '../store/testing/pg-server.ts';
import { KnowledgeBase, type SyncSummary } from './knowledge-base.ts';

const handbook = join(import.meta.dirname, '..', '..', 'examples', 'handbook');
const syncScript = fileURLToPath(new URL('./testing/sync-process.ts', import.meta.url));
const bob: Principal = { user: 'bob', groups: ['engineering'] };

function syncInChild(url: string, folder: string): Promise<SyncSummary> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', syncScript, url, folder], { stdio: 'pipe' });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`sync process exited ${code}:\n${err}`));
      else resolve(JSON.parse(out.trim().split('\n').at(-1)!) as SyncSummary);
    });
  });
}

describe('KnowledgeBase on PostgreSQL (real embedding model, real server)', () => {
  let server: PgServer;
  let models: Models;
  const work = mkdtempSync(join(tmpdir(), 'attune-kb-pg-'));

  before(async () => {
    server = await startPgServer();
    models = await testModels();
  });
  after(async () => {
    await models?.dispose();
    await server?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('syncs a folder into the database selected by ATTUNE_STORE_URL, with ACLs and history', async () => {
    const url = await server.createDatabase('kb_single');
    const root = join(work, 'single', 'handbook');
    cpSync(handbook, root, { recursive: true });
    const config = loadConfig({ cwd: work, env: { ATTUNE_STORE_URL: url } });
    assert.equal(config.store.kind, 'postgres');
    await assert.rejects(KnowledgeBase.open(config, models, { create: false }), /no knowledge base/);
    const kb = await KnowledgeBase.open(config, models);
    assert.equal(kb.store.provider, 'postgres');
    const first = await kb.sync([root]);
    assert.deepEqual([first.added, first.failed, first.version], [5, 0, 1]);
    const second = await kb.sync([root]);
    assert.deepEqual([second.unchanged, second.chunksEmbedded, second.version], [5, 0, 1]);
    writeFileSync(
      join(root, 'security-policy.md'),
      '# Security\n\n## Laptops\nLaptops lock after 2 minutes.\n',
    );
    const third = await kb.sync([root]);
    assert.deepEqual([third.changed, third.version], [1, 2]);
    const then = await kb.store.documentAt('handbook/security-policy.md', 1, bob);
    assert.match(then?.chunks.map((c) => c.text).join(' ') ?? '', /5 minutes/);
    assert.ok(!(await kb.listDocuments(bob)).some((d) => d.id === 'handbook/hr/leave-policy.md'));
    await kb.close();
    const reader = await KnowledgeBase.open(config, models, { create: false });
    assert.equal((await reader.versions()).length, 2);
    await reader.close();
  });

  it('Attune runs over a store it is given (any backend), not the configured one', async () => {
    const url = await server.createDatabase('kb_given_store');
    const root = join(work, 'given', 'handbook');
    cpSync(handbook, root, { recursive: true });
    // The configuration says LanceDB in `dir`; the given PostgreSQL store must be the one used.
    const dir = join(work, 'given', 'lance');
    const config = loadConfig({ cwd: work, env: { ATTUNE_DIR: dir } });
    assert.equal(config.store.kind, 'lancedb');
    const store = await openPostgresStore({
      url,
      embedding: { modelId: config.models.embedding, dimensions: 384 },
    });
    const attune = Attune.fromConfig(config, { models, store });
    const summary = await attune.sync([root]);
    assert.deepEqual([summary.added, summary.failed], [5, 0]);
    assert.equal((await attune.knowledgeBase()).store, store);
    assert.ok((await attune.listDocuments(bob)).some((d) => d.id === 'handbook/security-policy.md'));
    await attune.close();
    assert.equal(existsSync(dir), false, 'nothing written to the configured LanceDB directory');
    const check = new pg.Client({ connectionString: url });
    await check.connect();
    const { rows } = await check.query<{ n: string }>('SELECT count(*) AS n FROM attune.documents');
    await check.end();
    assert.ok(Number(rows[0]!.n) >= 5, 'the documents are in the given database');
  });

  it('lets two processes sync the same folder at once: one does the work, no duplicates, nothing lost', async () => {
    const url = await server.createDatabase('kb_two_processes');
    const root = join(work, 'two', 'handbook');
    cpSync(handbook, root, { recursive: true });
    const rounds: SyncSummary[][] = [];
    rounds.push(await Promise.all([syncInChild(url, root), syncInChild(url, root)]));
    // Then both again after two edits: each edit lands once, in one new version.
    writeFileSync(
      join(root, 'security-policy.md'),
      '# Security\n\n## Laptops\nLaptops lock after 2 minutes.\n',
    );
    writeFileSync(join(root, 'new-office.md'), '# New office\n\nThe Lisbon office opens in March.\n');
    rounds.push(await Promise.all([syncInChild(url, root), syncInChild(url, root)]));
    const [initial, edits] = rounds as [SyncSummary[], SyncSummary[]];
    assert.deepEqual(initial.map((s) => s.added).sort(), [0, 5]);
    assert.equal(
      initial.filter((s) => s.chunksEmbedded > 0).length,
      1,
      'the second compared after the first committed',
    );
    assert.deepEqual(edits.map((s) => s.added + s.changed).sort(), [0, 2]);
    assert.equal(edits.filter((s) => s.chunksEmbedded > 0).length, 1);

    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const q = async (text: string) => (await client.query(text)).rows;
    assert.deepEqual(
      (await q('SELECT number FROM attune.versions ORDER BY number')).map((r) => r.number),
      [1, 2],
    );
    const [counts] = await q(`SELECT (SELECT count(*)::int FROM attune.documents) AS docs,
                                     (SELECT count(*)::int FROM attune.chunks) AS chunks,
                                     (SELECT sum(chunk_count)::int FROM attune.documents) AS expected,
                                     (SELECT count(DISTINCT (doc_id, chunk_id))::int FROM attune.chunks) AS distinct_chunks`);
    assert.equal(counts.docs, 6);
    assert.equal(counts.chunks, counts.expected);
    assert.equal(counts.distinct_chunks, counts.chunks, 'no chunk stored twice');
    await client.end();
  });
});
