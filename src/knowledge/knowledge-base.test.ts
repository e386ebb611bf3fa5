import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Attune } from '../attune.ts';
import type { AuditRecord } from '../audit/index.ts';
import { loadConfig } from '../config/index.ts';
import { AttuneError } from '../models/model-error.ts';
import type { EmbeddingModel } from '../models/model-spec.ts';
import type { Models } from '../models/models.ts';
import { testModels } from '../models/testing.ts';
import type { KbVersion, Principal } from '../store/index.ts';
import { KnowledgeBase, type SyncProgress } from './knowledge-base.ts';

const handbook = join(import.meta.dirname, '..', '..', 'examples', 'handbook');
const bob: Principal = { user: 'bob', groups: ['engineering'] };
const hrAnn: Principal = { user: 'ann', groups: ['hr'] };

describe('KnowledgeBase (real embedding model, embedded LanceDB)', () => {
  let models: Models;
  let embedded = 0;
  // The size of every embedding call, to see batches cross document boundaries.
  const embedCalls: number[] = [];
  const work = mkdtempSync(join(tmpdir(), 'attune-kb-'));
  const root = join(work, 'handbook');
  const config = loadConfig({ cwd: work, env: { ...process.env, ATTUNE_DIR: join(work, '.attune') } });

  before(async () => {
    models = await testModels();
    // Count what the real model actually embeds: the no-op sync must not call it at all.
    const embedder: EmbeddingModel = await models.embedding();
    const doEmbed = embedder.doEmbed.bind(embedder);
    embedder.doEmbed = (options) => {
      embedded += options.values.length;
      embedCalls.push(options.values.length);
      return doEmbed(options);
    };
    cpSync(handbook, root, { recursive: true });
  });
  after(async () => {
    await models.dispose();
    rmSync(work, { recursive: true, force: true });
  });

  async function withKb<T>(fn: (kb: KnowledgeBase) => Promise<T>): Promise<T> {
    return withKbAt(config, fn);
  }

  async function withKbAt<T>(kbConfig: typeof config, fn: (kb: KnowledgeBase) => Promise<T>): Promise<T> {
    const kb = await KnowledgeBase.open(kbConfig, models);
    try {
      return await fn(kb);
    } finally {
      await kb.close();
    }
  }

  it('ingests a folder, then a second sync does no embedding work and commits no version', async () => {
    await withKb(async (kb) => {
      const first = await kb.sync([root]);
      assert.equal(first.added, 5);
      assert.equal(first.failed, 0);
      assert.equal(first.version, 1);
      assert.ok(first.chunksEmbedded >= 5);
      assert.equal(embedded, first.chunksEmbedded);
      const before = embedded;
      const second = await kb.sync([root]);
      assert.deepEqual(
        [second.added, second.changed, second.removed, second.unchanged, second.chunksEmbedded],
        [0, 0, 0, 5, 0],
      );
      assert.equal(embedded, before, 'no embeddings computed on a no-op sync');
      assert.equal(second.version, 1);
      assert.equal((await kb.versions()).length, 1);
    });
  });

  it('re-ingests only the changed document and keeps its old state answerable', async () => {
    await withKb(async (kb) => {
      writeFileSync(
        join(root, 'security-policy.md'),
        '# Information security policy\n\n## Laptops\nLaptops lock after 2 minutes without input.\n',
      );
      const before = embedded;
      const summary = await kb.sync([root]);
      assert.deepEqual([summary.added, summary.changed, summary.removed, summary.unchanged], [0, 1, 0, 4]);
      assert.equal(embedded - before, summary.chunksEmbedded);
      assert.equal(summary.version, 2);
      const now = await kb.store.getChunks('handbook/security-policy.md', bob);
      assert.match(now.map((c) => c.text).join(' '), /2 minutes/);
      const then = await kb.store.documentAt('handbook/security-policy.md', 1, bob);
      assert.ok(then);
      assert.match(then.chunks.map((c) => c.text).join(' '), /5 minutes/);
      assert.doesNotMatch(then.chunks.map((c) => c.text).join(' '), /2 minutes/);
    });
  });

  it('removes vanished files, and a file that now fails keeps its stored state', async () => {
    await withKb(async (kb) => {
      rmSync(join(root, 'onboarding.html'));
      const bytes = Buffer.alloc(2048);
      for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 37) % 256;
      writeFileSync(join(root, 'pricing.csv'), bytes);
      const summary = await kb.sync([root]);
      assert.equal(summary.removed, 1);
      assert.equal(summary.failed, 1);
      assert.match(summary.failures[0]!.source, /pricing\.csv$/);
      assert.equal(await kb.store.getDocument('handbook/onboarding.html', bob), undefined);
      const pricing = await kb.store.getChunks('handbook/pricing.csv', bob);
      assert.match(pricing.map((c) => c.text).join(' '), /Enterprise/, 'old pricing still served');
      const versions = await kb.versions();
      assert.deepEqual(versions.at(-1)!.summary, {
        added: 0,
        changed: 0,
        removed: 1,
        failed: 1,
        chunksEmbedded: 0,
      });
    });
  });

  it('keeps HR-only documents away from other principals on every read path', async () => {
    await withKb(async (kb) => {
      const id = 'handbook/hr/leave-policy.md';
      assert.equal(await kb.store.getDocument(id, bob), undefined);
      assert.ok(await kb.store.getDocument(id, hrAnn));
      assert.ok(!(await kb.listDocuments(bob)).some((d) => d.id === id));
      assert.deepEqual(await kb.store.getChunks(id, bob), []);
      const [vector] = (
        await (await models.embedding()).doEmbed({ values: ['How many weeks of parental leave?'] })
      ).embeddings;
      const dense = await kb.store.denseSearch(vector!, { k: 10, principal: bob });
      assert.ok(dense.length > 0);
      assert.ok(dense.every((h) => h.document.id !== id));
      assert.equal((await kb.store.denseSearch(vector!, { k: 1, principal: hrAnn }))[0]!.document.id, id);
      const text = await kb.store.textSearch('parental leave weeks', { k: 10, principal: bob });
      assert.ok(text.every((h) => h.document.id !== id));
      assert.equal(await kb.store.documentAt(id, 1, bob), undefined);
    });
  });

  /** Another embedding model to reindex to: the default one's weights under a second catalog name. */
  async function embeddingCopy(): Promise<string> {
    const copyName = 'all-minilm-l6-v2-copy';
    const original = models.catalog.get('all-minilm-l6-v2');
    const file = original.convert!.output;
    models.catalog.add({
      ...original,
      name: copyName,
      files: [file],
      convert: undefined,
      sources: [{ kind: 'file', paths: { [file.name]: models.cache.pathOf('all-minilm-l6-v2') } }],
    });
    await models.cache.pull(copyName);
    return copyName;
  }

  it('switches to another embedding model only once the new index is complete', async () => {
    const copyName = await embeddingCopy();
    const switched = { ...config, models: { ...config.models, embedding: copyName } };
    await assert.rejects(KnowledgeBase.open(switched, models), (error: unknown) => {
      assert.ok(AttuneError.isInstance(error));
      assert.match(error.message, /indexed with "all-minilm-l6-v2"/);
      assert.match(error.hint ?? '', /attune reindex/);
      return true;
    });
    const before = readdirSync(config.dir).filter((d) => d.startsWith('index-'));
    const result = await KnowledgeBase.reindex(config, models, copyName);
    assert.equal(result.documents, 4);
    const afterDirs = readdirSync(config.dir).filter((d) => d.startsWith('index-'));
    assert.equal(afterDirs.length, 1);
    assert.notDeepEqual(afterDirs, before, 'old index removed after the switch');
    const kb = await KnowledgeBase.open(switched, models);
    try {
      assert.equal(kb.embeddingModelName, copyName);
      const [vector] = (
        await (await models.embedding(copyName)).doEmbed({ values: ['refund on an annual plan'] })
      ).embeddings;
      const hits = await kb.store.denseSearch(vector!, { k: 1, principal: bob });
      assert.equal(hits[0]!.document.id, 'handbook/customer-policies.md');
    } finally {
      await kb.close();
    }
    assert.ok(existsSync(join(config.dir, 'kb.json')));
  });
  it('reindex keeps the version history: versions, older texts and pre-reindex audit records resolve as before', async () => {
    const folder = join(work, 'history');
    mkdirSync(folder);
    const write = (name: string, text: string) => writeFileSync(join(folder, name), text);
    write('leave.md', '# Leave\n\nStaff get 25 days of annual leave a year.\n');
    write('laptops.md', '# Laptops\n\nLaptops lock after 5 minutes without input.\n');
    write('travel.md', '# Travel\n\nBook trains at least two weeks ahead.\n');
    const historyConfig = { ...config, dir: join(work, '.attune-history') };
    const ids = ['history/laptops.md', 'history/leave.md', 'history/travel.md'];
    const reader: Principal = { user: 'auditor', groups: [], admin: true };
    // What every document said at every version, and which version introduced that state.
    const history = async (kb: KnowledgeBase) => {
      const out: Record<string, { version: number; chunkVersions: number[]; text: string } | null> = {};
      for (const id of ids)
        for (const version of [1, 2, 3]) {
          const then = await kb.store.documentAt(id, version, reader);
          out[`${id}@${version}`] = then
            ? {
                version: then.document.version,
                chunkVersions: then.chunks.map((c) => c.version),
                text: then.chunks.map((c) => c.text).join('\n\n'),
              }
            : null;
        }
      return out;
    };
    // Audit records of answers given at v1 and at v2, each citing the leave policy it read then.
    const record = (kbVersion: number) =>
      ({
        kbVersion,
        principal: reader,
        evidence: [{ n: 1, docId: 'history/leave.md', chunkVersion: kbVersion }],
      }) as unknown as AuditRecord;
    const auditTexts = async (kbConfig: typeof config) => {
      const attune = Attune.fromConfig(kbConfig, { models });
      try {
        return [await attune.documentsAt(record(1)), await attune.documentsAt(record(2))];
      } finally {
        await attune.close();
      }
    };

    const kb = await KnowledgeBase.open(historyConfig, models);
    try {
      assert.equal((await kb.sync([folder])).version, 1);
      write('leave.md', '# Leave\n\nStaff get 28 days of annual leave a year.\n');
      assert.equal((await kb.sync([folder], { note: 'leave raised' })).version, 2);
      rmSync(join(folder, 'travel.md'));
      assert.equal((await kb.sync([folder])).version, 3);
    } finally {
      await kb.close();
    }
    const before = await withKbAt(historyConfig, async (kb) => ({
      versions: await kb.versions(),
      history: await history(kb),
    }));
    const auditBefore = await auditTexts(historyConfig);
    assert.match(before.history['history/leave.md@1']!.text, /25 days/);
    assert.match(before.history['history/leave.md@2']!.text, /28 days/);
    assert.equal(before.history['history/travel.md@3'], null);
    assert.match(auditBefore[0]![0]!.text ?? '', /25 days/);

    const copyName = await embeddingCopy();
    const result = await KnowledgeBase.reindex(historyConfig, models, copyName);
    assert.deepEqual([result.documents, result.versions], [2, 3]);
    const switched = { ...historyConfig, models: { ...historyConfig.models, embedding: copyName } };
    const after = await withKbAt(switched, async (kb) => {
      assert.equal(kb.embeddingModelName, copyName);
      return { versions: await kb.versions(), history: await history(kb) };
    });
    const shape = (versions: KbVersion[]) => versions.map((v) => [v.number, v.summary, v.note]);
    assert.deepEqual(shape(after.versions.slice(0, 3)), shape(before.versions));
    assert.deepEqual(
      shape(after.versions.slice(3)),
      [
        [
          4,
          { added: 0, changed: 0, removed: 0, failed: 0, chunksEmbedded: result.chunksEmbedded },
          `reindex with ${copyName}`,
        ],
      ],
      'the reindex itself is one more version, which changes no document',
    );
    assert.deepEqual(after.history, before.history);
    assert.deepEqual(await auditTexts(switched), auditBefore);
  });

  it('reindex keeps pruned history pruned: an old version is refused, not misreported', async () => {
    const folder = join(work, 'pruned');
    mkdirSync(folder);
    writeFileSync(join(folder, 'desk.md'), '# Desks\n\nHot desks are booked for a day.\n');
    const prunedConfig = { ...config, dir: join(work, '.attune-pruned') };
    const texts = async (kb: KnowledgeBase, id: string, version: number) =>
      (await kb.store.documentAt(id, version, { user: 'a', groups: [], admin: true }))?.chunks.map(
        (c) => c.text,
      );
    await withKbAt(prunedConfig, async (kb) => {
      await kb.sync([folder]); // v1
      writeFileSync(join(folder, 'desk.md'), '# Desks\n\nHot desks are booked for a week.\n');
      await kb.sync([folder]); // v2
      writeFileSync(join(folder, 'parking.md'), '# Parking\n\nThere are twelve parking spaces.\n');
      await kb.sync([folder]); // v3
      assert.equal((await kb.store.optimize({ retainVersions: 2 })).historyFrom, 2);
    });
    const copyName = await embeddingCopy();
    await KnowledgeBase.reindex(prunedConfig, models, copyName);
    const switched = { ...prunedConfig, models: { ...prunedConfig.models, embedding: copyName } };
    await withKbAt(switched, async (kb) => {
      assert.deepEqual(
        (await kb.versions()).map((v) => v.number),
        [1, 2, 3, 4],
      );
      await assert.rejects(texts(kb, 'pruned/desk.md', 1), /older than the retained history/);
      assert.deepEqual(await texts(kb, 'pruned/desk.md', 2), ['Hot desks are booked for a week.']);
      assert.equal((await kb.store.documentAt('pruned/desk.md', 2, bob))?.document.version, 2);
      assert.equal(await texts(kb, 'pruned/parking.md', 2), undefined);
      assert.deepEqual(await texts(kb, 'pruned/parking.md', 3), ['There are twelve parking spaces.']);
    });
  });

  it('embeds and writes many small documents in batches across documents', async () => {
    const notes = join(work, 'notes');
    mkdirSync(notes);
    const note = (i: number, text: string) =>
      writeFileSync(join(notes, `note-${String(i).padStart(2, '0')}.md`), `# Note ${i}\n\n${text}\n`);
    for (let i = 0; i < 10; i++) note(i, `Meeting room ${i} seats ${i + 4} people and has a projector.`);
    const notesConfig = { ...config, dir: join(work, '.attune-notes') };
    const kb = await KnowledgeBase.open(notesConfig, models);
    try {
      const writes: number[] = [];
      const upsertDocuments = kb.store.upsertDocuments.bind(kb.store);
      kb.store.upsertDocuments = (batch, version) => {
        writes.push(batch.length);
        return upsertDocuments(batch, version);
      };
      kb.store.upsertDocument = () => Promise.reject(new Error('sync must write in batches'));
      const progress: SyncProgress[] = [];
      embedCalls.length = 0;
      const first = await kb.sync([notes], { batchChunks: 4, onProgress: (p) => progress.push(p) });
      assert.equal(first.added, 10);
      assert.equal(first.chunksEmbedded, 10);
      assert.deepEqual(writes, [4, 4, 2], 'one store write per batch of 4 chunks');
      assert.deepEqual(embedCalls, [4, 4, 2], 'one embedding call per batch, across documents');
      const writeEvents = progress.filter((p) => p.phase === 'write');
      assert.deepEqual(
        writeEvents.map((p) => [p.done, p.total]),
        [
          [4, 10],
          [8, 10],
          [10, 10],
        ],
      );
      assert.deepEqual(progress.filter((p) => p.phase === 'embed').at(-1), {
        phase: 'embed',
        done: 10,
        total: 10,
      });
      assert.equal((await kb.listDocuments(bob)).length, 10);
      assert.equal((await kb.versions()).length, 1);

      // Three changed notes and one removed: one write of three, one deletion, one version.
      for (const i of [1, 5, 8]) note(i, `Meeting room ${i} is closed for renovation.`);
      rmSync(join(notes, 'note-09.md'));
      writes.length = 0;
      embedCalls.length = 0;
      const second = await kb.sync([notes]);
      assert.deepEqual(
        [
          second.added,
          second.changed,
          second.removed,
          second.unchanged,
          second.chunksEmbedded,
          second.version,
        ],
        [0, 3, 1, 6, 3, 2],
      );
      assert.deepEqual(writes, [3]);
      assert.deepEqual(embedCalls, [3]);
      const hits = await kb.store.textSearch('renovation', { k: 10, principal: bob });
      assert.deepEqual(hits.map((h) => h.document.id).sort(), [
        'notes/note-01.md',
        'notes/note-05.md',
        'notes/note-08.md',
      ]);
      assert.match((await kb.store.documentAt('notes/note-05.md', 1, bob))!.chunks[0]!.text, /seats 9/);

      writes.length = 0;
      embedCalls.length = 0;
      const noop = await kb.sync([notes]);
      assert.deepEqual([noop.unchanged, noop.chunksEmbedded, noop.version], [9, 0, 2]);
      assert.deepEqual(writes, [], 'a no-op sync writes nothing');
      assert.deepEqual(embedCalls, [], 'and embeds nothing');
    } finally {
      await kb.close();
    }
  });
});
