/**
 * The behaviour every KnowledgeStore backend must show, as node:test cases. A backend's test file
 * calls `runKnowledgeStoreConformance` with a factory for fresh, empty stores.
 *
 * Vectors here are data, not meaning: unit vectors and seeded random ones whose nearest
 * neighbours are known exactly, so ranking assertions test storage and search, not a model.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import type { Acl, Document } from '../ingest/document.ts';
import { cosineSimilarity } from '../models/vector-math.ts';
import type { EmbeddedChunk, EmbeddingModelInfo, KnowledgeStore, MetadataValue } from './knowledge-store.ts';
import type { Principal } from './principal.ts';

export const conformanceEmbedding: EmbeddingModelInfo = {
  modelId: 'conformance-unit-vectors',
  dimensions: 32,
};

export type ConformanceOptions = {
  /** If the backend builds an ANN index past some size, the row count; the large case then checks it did. */
  annThresholdRows?: number;
};

/** `makeStore` must return a new, empty store for `embedding` (32-d) each time it is called. */
export function runKnowledgeStoreConformance(
  name: string,
  makeStore: (embedding: EmbeddingModelInfo) => Promise<KnowledgeStore>,
  options: ConformanceOptions = {},
): void {
  const withStore = (test: (store: KnowledgeStore) => Promise<void>) => async () => {
    const store = await makeStore(conformanceEmbedding);
    try {
      await test(store);
    } finally {
      await store.close();
    }
  };

  describe(`KnowledgeStore conformance: ${name}`, () => {
    it(
      'reports its embedding model',
      withStore(async (store) => {
        assert.deepEqual(await store.embeddingModel(), conformanceEmbedding);
      }),
    );

    it(
      'records a write whose writer stopped before committing its version, at the next beginWrite',
      withStore(async (store) => {
        const v = await store.beginWrite();
        const a = doc('a.md');
        await store.upsertDocument(a, chunksFor(a, ['alpha one', 'alpha two'], [0, 1]), v);
        await store.commitVersion({ added: 1, changed: 0, removed: 0, failed: 0, chunksEmbedded: 2 });
        await store.endWrite();
        // The crashed write: live documents at version 2, no version 2 recorded.
        const crashed = await store.beginWrite();
        assert.equal(crashed, 2);
        const b = doc('b.md');
        await store.upsertDocument(b, chunksFor(b, ['beta'], [2]), crashed);
        await store.deleteDocument('a.md', crashed);
        await store.endWrite();
        // Readers see b.md live at version 2 before anyone records it: so does the version list,
        // or a version-keyed cache would keep serving the state of version 1.
        const pending = await store.currentVersion();
        assert.equal(pending?.number, 2);
        assert.match(pending?.note ?? '', /not recorded yet/);
        const next = await store.beginWrite();
        await store.endWrite();
        assert.equal(next, 3, 'the next write gets a new number');
        const recovered = (await store.listVersions()).find((x) => x.number === 2);
        assert.ok(recovered, 'version 2 is listed');
        assert.match(recovered.note ?? '', /recovered/);
        assert.deepEqual(
          {
            changed: recovered.summary.changed,
            removed: recovered.summary.removed,
            chunks: recovered.summary.chunksEmbedded,
          },
          { changed: 1, removed: 1, chunks: 1 },
        );
        assert.equal((await store.currentVersion())?.number, 2);
      }),
    );

    it(
      'upserts, gets, lists, deletes',
      withStore(async (store) => {
        const v = await store.nextVersion();
        assert.equal(v, 1);
        const a = doc('b/a.md', { title: 'A', metadata: { dept: 'hr' } });
        assert.deepEqual(await store.upsertDocument(a, chunksFor(a, ['alpha one', 'alpha two'], [0, 1]), v), {
          status: 'added',
          version: 1,
        });
        for (const id of ['c.md', 'a.md']) {
          const d = doc(id);
          await store.upsertDocument(d, chunksFor(d, [`text of ${id}`], [2]), v);
        }
        const got = await store.getDocument('b/a.md', admin);
        assert.ok(got);
        assert.equal(got.title, 'A');
        assert.equal(got.source, '/abs/b/a.md');
        assert.deepEqual(got.metadata, { dept: 'hr' });
        assert.deepEqual(got.acl, publicAcl);
        assert.equal(got.contentHash, a.contentHash);
        assert.equal(got.version, 1);
        assert.equal(got.chunkCount, 2);
        assert.ok(!Number.isNaN(Date.parse(got.updatedAt)));

        const chunks = await store.getChunks('b/a.md', admin);
        assert.deepEqual(
          chunks.map((c) => [c.ordinal, c.text, c.docId, c.version]),
          [
            [0, 'alpha one', 'b/a.md', 1],
            [1, 'alpha two', 'b/a.md', 1],
          ],
        );
        assert.equal(chunks[0]?.contentHash, sha256('alpha one'));
        assert.deepEqual(chunks[0]?.headingPath, ['Top', 'b/a.md']);
        assert.equal(chunks[0]?.page, 1);
        assert.equal(chunks[0]?.tokenCount, 2);

        assert.deepEqual(
          (await store.listDocuments(admin)).map((d) => d.id),
          ['a.md', 'b/a.md', 'c.md'],
        );
        assert.deepEqual(
          (await store.listDocuments(admin, { limit: 1, offset: 1 })).map((d) => d.id),
          ['b/a.md'],
        );

        assert.equal(await store.deleteDocument('b/a.md', v), true);
        assert.equal(await store.deleteDocument('b/a.md', v), false);
        assert.equal(await store.deleteDocument('never.md', v), false);
        assert.equal(await store.getDocument('b/a.md', admin), undefined);
        assert.deepEqual(await store.getChunks('b/a.md', admin), []);
        assert.deepEqual(
          (await store.listDocuments(admin)).map((d) => d.id),
          ['a.md', 'c.md'],
        );
        assert.deepEqual(
          (await store.denseSearch(unit(0), { k: 10, principal: admin })).map((h) => h.chunk.docId).sort(),
          ['a.md', 'c.md'],
        );
      }),
    );

    it(
      'does no work for an unchanged document, and rejects malformed writes',
      withStore(async (store) => {
        const d = doc('same.md');
        const chunks = chunksFor(d, ['one', 'two'], [0, 1]);
        await store.upsertDocument(d, chunks, 1);
        assert.equal((await store.upsertDocument(d, chunks, 1)).status, 'unchanged');
        await store.commitVersion(summary());
        const again = await store.upsertDocument(d, chunks, 2);
        assert.deepEqual(again, { status: 'unchanged', version: 1 });
        assert.equal((await store.getDocument('same.md', admin))?.version, 1);

        await assert.rejects(store.upsertDocument(d, chunks, 5), /pending version 2/);
        await assert.rejects(store.upsertDocument(d, [{ ...chunks[0]!, vector: [1, 0] }], 2), /32-d/);
        await assert.rejects(store.upsertDocument(d, [{ ...chunks[0]!, docId: 'other.md' }], 2), /belongs/);
        await assert.rejects(store.denseSearch([1, 0, 0], { k: 1, principal: admin }), /dimensions/);
      }),
    );

    it(
      're-upserting replaces all of a document’s chunks',
      withStore(async (store) => {
        const old = doc('r.md', { text: 'old' });
        await store.upsertDocument(
          old,
          chunksFor(old, ['zebra one', 'zebra two', 'zebra three'], [0, 1, 2]),
          1,
        );
        const changed = doc('r.md', { text: 'new', title: 'R2' });
        const result = await store.upsertDocument(
          changed,
          chunksFor(changed, ['yak one', 'yak two'], [3, 4]),
          1,
        );
        assert.equal(result.status, 'changed');

        assert.deepEqual(
          (await store.getChunks('r.md', admin)).map((c) => c.text),
          ['yak one', 'yak two'],
        );
        const document = await store.getDocument('r.md', admin);
        assert.equal(document?.chunkCount, 2);
        assert.equal(document?.title, 'R2');
        assert.deepEqual(await store.textSearch('zebra', { k: 10, principal: admin }), []);
        assert.deepEqual(
          (await store.textSearch('yak', { k: 10, principal: admin })).map((h) => h.chunk.text).sort(),
          ['yak one', 'yak two'],
        );
        const dense = await store.denseSearch(unit(0), { k: 10, principal: admin });
        assert.deepEqual(dense.map((h) => h.chunk.text).sort(), ['yak one', 'yak two']);
        assert.equal((await store.listDocuments(admin)).length, 1);
      }),
    );

    it(
      'dense search ranks by cosine similarity',
      withStore(async (store) => {
        const d = doc('dense.md');
        const vectors = [unit(0), mix(0, 1, 0.8), mix(0, 1, 0.5), unit(1), unit(2)];
        await store.upsertDocument(d, chunksFor(d, ['e0', 'mostly e0', 'half', 'e1', 'e2'], vectors), 1);
        const hits = await store.denseSearch(unit(0), { k: 3, principal: admin });
        assert.deepEqual(
          hits.map((h) => [h.chunk.text, h.rank]),
          [
            ['e0', 1],
            ['mostly e0', 2],
            ['half', 3],
          ],
        );
        assert.ok(Math.abs((hits[0]?.score ?? 0) - 1) < 1e-5);
        assert.ok(
          (hits[0]?.score ?? 0) > (hits[1]?.score ?? 0) && (hits[1]?.score ?? 0) > (hits[2]?.score ?? 0),
        );
        assert.deepEqual(hits[0]?.document, {
          id: 'dense.md',
          source: '/abs/dense.md',
          title: 'dense.md',
          metadata: {},
          version: 1,
        });
        // Length does not matter under cosine.
        assert.equal(
          (await store.denseSearch(scale(unit(1), 7), { k: 1, principal: admin }))[0]?.chunk.text,
          'e1',
        );
        assert.deepEqual(await store.denseSearch(unit(0), { k: 0, principal: admin }), []);
      }),
    );

    it(
      'text search ranks by BM25',
      withStore(async (store) => {
        const d = doc('text.md');
        const texts = [
          'The refund window for annual plans is thirty days.',
          'Refunds are handled by the billing team.',
          'Our office is closed on public holidays.',
          'Monthly plans renew automatically.',
        ];
        await store.upsertDocument(d, chunksFor(d, texts, [0, 1, 2, 3]), 1);
        const hits = await store.textSearch('refund window annual', { k: 10, principal: admin });
        assert.equal(hits[0]?.chunk.ordinal, 0);
        assert.equal(hits[0]?.rank, 1);
        assert.ok(!hits.some((h) => h.chunk.ordinal === 2));
        for (let i = 1; i < hits.length; i++) assert.ok((hits[i - 1]?.score ?? 0) >= (hits[i]?.score ?? 0));
        assert.deepEqual(await store.textSearch('   ', { k: 10, principal: admin }), []);
        assert.deepEqual(await store.textSearch('nonexistentword', { k: 10, principal: admin }), []);
      }),
    );

    it(
      'filters by ACL on every read path, inside the query',
      withStore(async (store) => {
        const docs: [string, Acl][] = [
          ['public.md', publicAcl],
          ['ann.md', { public: false, users: ["o'ann"], groups: [] }],
          ['hr.md', { public: false, users: [], groups: ['h%r|_\\x'] }],
          ['admins.md', { public: false, users: [], groups: [] }],
        ];
        for (const [index, [id, acl]] of docs.entries()) {
          const d = doc(id, { acl });
          await store.upsertDocument(d, chunksFor(d, [`secret ${id} policy`], [mix(0, 1 + index, 0.9)]), 1);
        }
        await store.commitVersion(summary());
        const ann: Principal = { user: "o'ann", groups: [] };
        const hr: Principal = { user: 'bob', groups: ['eng', 'h%r|_\\x'] };
        const nobody: Principal = { user: "o'an", groups: ['h%r', '%', "'"] };
        const expected = new Map<Principal, string[]>([
          [ann, ['ann.md', 'public.md']],
          [hr, ['hr.md', 'public.md']],
          [nobody, ['public.md']],
          [admin, ['admins.md', 'ann.md', 'hr.md', 'public.md']],
        ]);
        for (const [principal, readable] of expected) {
          const label = principal.user;
          assert.deepEqual(
            (await store.listDocuments(principal)).map((d) => d.id),
            readable,
            `list for ${label}`,
          );
          for (const [id] of docs) {
            const may = readable.includes(id);
            assert.equal(
              (await store.getDocument(id, principal)) !== undefined,
              may,
              `get ${id} for ${label}`,
            );
            assert.equal(
              (await store.getChunks(id, principal)).length,
              may ? 1 : 0,
              `chunks ${id} for ${label}`,
            );
            assert.equal(
              (await store.documentAt(id, 1, principal)) !== undefined,
              may,
              `documentAt ${id} for ${label}`,
            );
          }
          const dense = await store.denseSearch(unit(0), { k: 10, principal });
          assert.deepEqual(dense.map((h) => h.chunk.docId).sort(), readable, `dense for ${label}`);
          const text = await store.textSearch('secret policy', { k: 10, principal });
          assert.deepEqual(text.map((h) => h.chunk.docId).sort(), readable, `text for ${label}`);
        }
      }),
    );

    it(
      'applies the ACL before taking the top k',
      withStore(async (store) => {
        // Twenty unreadable chunks rank above the two readable ones; k = 2 must still find both.
        const hidden = doc('hidden.md', { acl: { public: false, users: ['someone'], groups: [] } });
        const near = Array.from({ length: 20 }, (_, i) => mix(0, 1, 0.99 - i * 0.001));
        const hiddenTexts = near.map((_, i) => `apple apple apple hidden ${i}`);
        await store.upsertDocument(hidden, chunksFor(hidden, hiddenTexts, near), 1);
        const open = doc('open.md');
        await store.upsertDocument(
          open,
          chunksFor(open, ['apple open one', 'apple open two'], [unit(1), unit(2)]),
          1,
        );
        const reader: Principal = { user: 'reader', groups: [] };
        const dense = await store.denseSearch(unit(0), { k: 2, principal: reader });
        assert.deepEqual(dense.map((h) => h.chunk.text).sort(), ['apple open one', 'apple open two']);
        const text = await store.textSearch('apple', { k: 2, principal: reader });
        assert.deepEqual(text.map((h) => h.chunk.text).sort(), ['apple open one', 'apple open two']);
      }),
    );

    it(
      'filters by metadata inside the query',
      withStore(async (store) => {
        const specs: [string, Record<string, MetadataValue>][] = [
          ['hr-2024.md', { dept: 'hr', year: 2024, draft: false }],
          ['hr-2023.md', { dept: 'hr', year: 2023, draft: true }],
          ['eng-2024.md', { dept: 'eng', year: 2024 }],
          ['str-year.md', { dept: 'eng', year: '2024', 'odd|key=': "it's|=%" }],
        ];
        for (const [index, [id, metadata]] of specs.entries()) {
          const d = doc(id, { metadata });
          await store.upsertDocument(d, chunksFor(d, [`handbook ${id}`], [mix(0, index + 1, 0.9)]), 1);
        }
        const cases: [Record<string, MetadataValue | MetadataValue[]>, string[]][] = [
          [{ dept: 'hr' }, ['hr-2023.md', 'hr-2024.md']],
          [{ dept: 'hr', year: 2024 }, ['hr-2024.md']],
          [{ year: 2024 }, ['eng-2024.md', 'hr-2024.md']],
          [{ year: '2024' }, ['str-year.md']],
          [{ year: [2023, 2024] }, ['eng-2024.md', 'hr-2023.md', 'hr-2024.md']],
          [{ draft: false }, ['hr-2024.md']],
          [{ 'odd|key=': "it's|=%" }, ['str-year.md']],
          [{ dept: [] }, []],
          [{ missing: 'x' }, []],
          [{}, ['eng-2024.md', 'hr-2023.md', 'hr-2024.md', 'str-year.md']],
        ];
        for (const [filter, ids] of cases) {
          const dense = await store.denseSearch(unit(0), { k: 10, principal: admin, filter });
          assert.deepEqual(dense.map((h) => h.chunk.docId).sort(), ids, `dense ${JSON.stringify(filter)}`);
          const text = await store.textSearch('handbook', { k: 10, principal: admin, filter });
          assert.deepEqual(text.map((h) => h.chunk.docId).sort(), ids, `text ${JSON.stringify(filter)}`);
        }
        assert.deepEqual((await store.getDocument('str-year.md', admin))?.metadata, specs[3]?.[1]);
      }),
    );

    it(
      'writes a batch of documents, each with its own result, in order',
      withStore(async (store) => {
        const a = doc('batch/a.md');
        const b = doc('batch/b.md', { text: 'b old' });
        const c = doc('batch/c.md', { metadata: { dept: 'hr' } });
        const first = await store.upsertDocuments(
          [
            { document: b, chunks: chunksFor(b, ['bison old one', 'bison old two'], [1, 2]) },
            { document: a, chunks: chunksFor(a, ['aardvark'], [0]) },
            { document: c, chunks: chunksFor(c, ['cobra'], [3]) },
          ],
          1,
        );
        assert.deepEqual(first, [
          { status: 'added', version: 1 },
          { status: 'added', version: 1 },
          { status: 'added', version: 1 },
        ]);
        await store.commitVersion(summary());
        assert.deepEqual(await store.upsertDocuments([], 2), []);

        const changedB = doc('batch/b.md', { text: 'b new', title: 'B2' });
        const d = doc('batch/d.md');
        const second = await store.upsertDocuments(
          [
            { document: a, chunks: chunksFor(a, ['aardvark'], [0]) },
            { document: changedB, chunks: chunksFor(changedB, ['bison new'], [4]) },
            { document: d, chunks: chunksFor(d, ['dingo one', 'dingo two'], [5, 6]) },
            // Same content hash, other chunks (a re-chunk): written, as upsertDocument would.
            { document: c, chunks: chunksFor(c, ['cobra', 'cobra again'], [3, 7]) },
          ],
          2,
        );
        assert.deepEqual(
          second.map((r) => [r.status, r.version]),
          [
            ['unchanged', 1],
            ['changed', 2],
            ['added', 2],
            ['changed', 2],
          ],
        );
        await store.commitVersion(summary());
        assert.deepEqual(
          (await store.listDocuments(admin)).map((x) => [x.id, x.version, x.chunkCount]),
          [
            ['batch/a.md', 1, 1],
            ['batch/b.md', 2, 1],
            ['batch/c.md', 2, 2],
            ['batch/d.md', 2, 2],
          ],
        );
        assert.equal((await store.getDocument('batch/b.md', admin))?.title, 'B2');
        assert.deepEqual(await store.textSearch('bison old', { k: 10, principal: admin }).then(texts), [
          'bison new',
        ]);
        assert.deepEqual(
          (await store.denseSearch(unit(1), { k: 10, principal: admin })).filter((h) => h.score > 0.5),
          [],
          'the old state of b is gone from dense search',
        );
        assert.deepEqual(
          (await store.denseSearch(unit(3), { k: 10, principal: admin, filter: { dept: 'hr' } })).map(
            (h) => h.chunk.text,
          ),
          ['cobra', 'cobra again'],
        );
        // Every document of a batch keeps its own history.
        assert.deepEqual(
          (await store.documentAt('batch/b.md', 1, admin))?.chunks.map((x) => x.text),
          ['bison old one', 'bison old two'],
        );
        assert.deepEqual(
          (await store.documentAt('batch/b.md', 2, admin))?.chunks.map((x) => x.text),
          ['bison new'],
        );
        assert.equal(await store.documentAt('batch/d.md', 1, admin), undefined);
        assert.deepEqual(
          (await store.documentAt('batch/a.md', 2, admin))?.chunks.map((x) => x.text),
          ['aardvark'],
        );
      }),
    );

    it(
      'rejects a malformed batch as a whole, with nothing written',
      withStore(async (store) => {
        const good = doc('good.md');
        const bad = doc('bad.md');
        const goodWrite = { document: good, chunks: chunksFor(good, ['fine text'], [0]) };
        await assert.rejects(
          store.upsertDocuments(
            [goodWrite, { document: bad, chunks: [{ ...chunksFor(bad, ['x'], [1])[0]!, vector: [1, 0] }] }],
            1,
          ),
          /32-d/,
        );
        await assert.rejects(
          store.upsertDocuments(
            [goodWrite, { document: bad, chunks: [{ ...chunksFor(bad, ['x'], [1])[0]!, docId: 'good.md' }] }],
            1,
          ),
          /belongs/,
        );
        await assert.rejects(store.upsertDocuments([goodWrite, goodWrite], 1), /twice/);
        await assert.rejects(store.upsertDocuments([goodWrite], 3), /pending version 1/);
        await assert.rejects(store.deleteDocuments(['good.md'], 3), /pending version 1/);
        assert.deepEqual(await store.listDocuments(admin), []);
        assert.deepEqual(await store.textSearch('fine', { k: 10, principal: admin }), []);
        assert.deepEqual(await store.upsertDocuments([goodWrite], 1), [{ status: 'added', version: 1 }]);
      }),
    );

    it(
      'deletes a batch of documents, each with its own result',
      withStore(async (store) => {
        const ids = ['del/a.md', 'del/b.md', 'del/c.md'];
        await store.upsertDocuments(
          ids.map((id, i) => {
            const d = doc(id);
            return { document: d, chunks: chunksFor(d, [`walrus ${i}`], [i]) };
          }),
          1,
        );
        await store.commitVersion(summary());
        assert.deepEqual(await store.deleteDocuments([], 2), []);
        // As two calls would: the second request for the same id finds it already gone.
        assert.deepEqual(await store.deleteDocuments(['del/a.md', 'never.md', 'del/a.md', 'del/c.md'], 2), [
          true,
          false,
          false,
          true,
        ]);
        await store.commitVersion(summary());
        assert.deepEqual(
          (await store.listDocuments(admin)).map((d) => d.id),
          ['del/b.md'],
        );
        assert.deepEqual(await store.textSearch('walrus', { k: 10, principal: admin }).then(texts), [
          'walrus 1',
        ]);
        assert.equal(await store.documentAt('del/a.md', 2, admin), undefined);
        assert.deepEqual(
          (await store.documentAt('del/c.md', 1, admin))?.chunks.map((c) => c.text),
          ['walrus 2'],
        );
        assert.deepEqual(await store.deleteDocuments(['del/a.md'], 3), [false]);
      }),
    );

    it(
      'numbers versions monotonically',
      withStore(async (store) => {
        assert.equal(await store.currentVersion(), undefined);
        assert.deepEqual(await store.listVersions(), []);
        const first = await store.commitVersion(
          { added: 2, changed: 0, removed: 0, failed: 1, chunksEmbedded: 7 },
          'first ingest',
        );
        assert.equal(first.number, 1);
        assert.equal(first.note, 'first ingest');
        assert.equal(await store.nextVersion(), 2);
        const second = await store.commitVersion(summary());
        assert.equal(second.number, 2);
        assert.equal(second.note, undefined);
        const listed = await store.listVersions();
        assert.deepEqual(
          listed.map((v) => v.number),
          [1, 2],
        );
        assert.deepEqual(listed[0]?.summary, {
          added: 2,
          changed: 0,
          removed: 0,
          failed: 1,
          chunksEmbedded: 7,
        });
        assert.equal(listed[0]?.note, 'first ingest');
        assert.ok(Date.parse(listed[0]?.createdAt ?? '') <= Date.parse(listed[1]?.createdAt ?? ''));
        assert.equal((await store.currentVersion())?.number, 2);
        await assert.rejects(store.commitVersion({ ...summary(), added: -1 }), /non-negative/);
      }),
    );

    it(
      'answers what a document looked like at an earlier version',
      withStore(async (store) => {
        const put = async (text: string[], acl: Acl = publicAcl) => {
          const d = doc('h.md', { text: text.join(' '), acl });
          await store.upsertDocument(
            d,
            chunksFor(
              d,
              text,
              text.map((_, i) => i),
            ),
            await store.nextVersion(),
          );
          await store.commitVersion(summary());
        };
        await put(['first a', 'first b']); // v1
        await put(['second']); // v2
        await store.deleteDocument('h.md', 3);
        await store.commitVersion(summary()); // v3
        await store.commitVersion(summary()); // v4: nothing about h.md
        await put(['third a', 'third b', 'third c']); // v5

        const textsAt = async (version: number) =>
          (await store.documentAt('h.md', version, admin))?.chunks.map((c) => c.text);
        assert.deepEqual(await textsAt(1), ['first a', 'first b']);
        assert.deepEqual(await textsAt(2), ['second']);
        assert.equal(await textsAt(3), undefined);
        assert.equal(await textsAt(4), undefined);
        assert.deepEqual(await textsAt(5), ['third a', 'third b', 'third c']);
        const atTwo = await store.documentAt('h.md', 2, admin);
        assert.equal(atTwo?.document.version, 2);
        assert.equal(atTwo?.document.chunkCount, 1);
        assert.equal(atTwo?.chunks[0]?.version, 2);
        assert.equal(await store.documentAt('never.md', 5, admin), undefined);

        // Access revoked now also closes the history; access granted then is required too.
        const carol: Principal = { user: 'carol', groups: [] };
        assert.ok(await store.documentAt('h.md', 1, carol));
        await put(['fourth'], { public: false, users: [], groups: ['hr'] }); // v6
        assert.equal(await store.documentAt('h.md', 1, carol), undefined);
        assert.ok(await store.documentAt('h.md', 1, { user: 'dan', groups: ['hr'] }));
        assert.deepEqual(
          (await store.documentAt('h.md', 6, { user: 'dan', groups: ['hr'] }))?.chunks.map((c) => c.text),
          ['fourth'],
        );

        // Retention: versions 5 and 6 stay answerable, older ones are refused rather than misreported.
        await store.optimize({ retainVersions: 2 });
        assert.deepEqual(await textsAt(5), ['third a', 'third b', 'third c']);
        assert.deepEqual(await textsAt(6), ['fourth']);
        await assert.rejects(store.documentAt('h.md', 2, admin), /older than the retained history/);
        assert.deepEqual(
          (await store.getChunks('h.md', admin)).map((c) => c.text),
          ['fourth'],
        );
      }),
    );

    it(
      'names the documents each version wrote or removed, so the history can be replayed',
      withStore(async (store) => {
        const write = async (ids: string[], text: string, version: number) =>
          store.upsertDocuments(
            ids.map((id) => {
              const d = doc(id, { text: `${text} ${id}` });
              return { document: d, chunks: chunksFor(d, [`${text} ${id}`], [0]) };
            }),
            version,
          );
        await write(['r/b.md', 'r/a.md'], 'first', 1);
        await store.commitVersion(summary()); // v1: a and b added
        await write(['r/a.md'], 'second', 2);
        await store.deleteDocuments(['r/b.md'], 2);
        await store.commitVersion(summary()); // v2: a changed, b removed
        await store.commitVersion(summary()); // v3: nothing written
        await write(['r/c.md'], 'third', 4);
        assert.deepEqual(await write(['r/a.md'], 'second', 4), [{ status: 'unchanged', version: 2 }]);
        await store.commitVersion(summary()); // v4: c added, a written again unchanged
        assert.deepEqual(await store.documentsChangedAt(1), ['r/a.md', 'r/b.md']);
        assert.deepEqual(await store.documentsChangedAt(2), ['r/a.md', 'r/b.md']);
        assert.deepEqual(await store.documentsChangedAt(3), []);
        assert.deepEqual(await store.documentsChangedAt(4), ['r/c.md']);
        assert.deepEqual(await store.documentsChangedAt(5), []);
        // With documentAt, each named document's state then: written, or removed.
        assert.deepEqual(
          (await store.documentAt('r/b.md', 1, admin))?.chunks.map((c) => c.text),
          ['first r/b.md'],
        );
        assert.equal(await store.documentAt('r/b.md', 2, admin), undefined);
      }),
    );

    it(
      'finds the exact nearest neighbour in a large table, past any ANN threshold',
      withStore(async (store) => {
        const dims = conformanceEmbedding.dimensions;
        const random = mulberry32(20240611);
        const docs = 60;
        const perDoc = 100;
        const all: { docId: string; ordinal: number; vector: number[] }[] = [];
        for (let d = 0; d < docs; d++) {
          const document = doc(`big/${d}.md`);
          const vectors = Array.from({ length: perDoc }, () =>
            Array.from({ length: dims }, () => random() - 0.5),
          );
          vectors.forEach((vector, ordinal) => {
            all.push({ docId: document.id, ordinal, vector });
          });
          await store.upsertDocument(
            document,
            chunksFor(
              document,
              vectors.map((_, i) => `chunk ${d}-${i}`),
              vectors,
            ),
            1,
          );
        }
        const result = await store.optimize();
        if (options.annThresholdRows !== undefined) {
          assert.ok(all.length > options.annThresholdRows);
          assert.equal(result.denseIndex, 'ann');
        }
        for (let q = 0; q < 25; q++) {
          const planted = all[Math.floor(random() * all.length)]!;
          const query = planted.vector.map((x) => x + (random() - 0.5) * 1e-3);
          const exact = all.reduce((best, candidate) =>
            cosineSimilarity(candidate.vector, query) > cosineSimilarity(best.vector, query)
              ? candidate
              : best,
          );
          const [hit] = await store.denseSearch(query, { k: 5, principal: admin });
          assert.equal(`${hit?.chunk.docId}#${hit?.chunk.ordinal}`, `${exact.docId}#${exact.ordinal}`);
          assert.ok(Math.abs((hit?.score ?? 0) - cosineSimilarity(exact.vector, query)) < 1e-3);
        }
      }),
    );
  });
}

const admin: Principal = { user: 'root', groups: [], admin: true };
const publicAcl: Acl = { public: true, users: [], groups: [] };

function doc(
  id: string,
  overrides: { title?: string; text?: string; acl?: Acl; metadata?: Record<string, MetadataValue> } = {},
): Document {
  const text = overrides.text ?? `text of ${id}`;
  const acl = overrides.acl ?? publicAcl;
  const metadata = overrides.metadata ?? {};
  return {
    id,
    source: `/abs/${id}`,
    title: overrides.title ?? id,
    text,
    sections: [{ headingPath: ['Top'], text }],
    metadata,
    acl,
    contentHash: sha256(JSON.stringify([text, acl, metadata, overrides.title ?? id])),
  };
}

/** A vector argument that is a number is the index of a unit vector. */
function chunksFor(document: Document, texts: string[], vectors: (number | number[])[]): EmbeddedChunk[] {
  return texts.map((text, ordinal) => {
    const vector = vectors[ordinal] ?? 0;
    return {
      id: sha256(`${document.id}\n${text}`).slice(0, 16),
      docId: document.id,
      ordinal,
      text,
      headingPath: ['Top', document.id],
      page: 1,
      tokenCount: text.split(/\s+/).length,
      vector: typeof vector === 'number' ? unit(vector) : vector,
    };
  });
}

function texts(hits: { chunk: { text: string } }[]): string[] {
  return hits.map((h) => h.chunk.text).sort();
}

function summary() {
  return { added: 0, changed: 0, removed: 0, failed: 0, chunksEmbedded: 0 };
}

function unit(index: number): number[] {
  return Array.from({ length: conformanceEmbedding.dimensions }, (_, i) => (i === index ? 1 : 0));
}

/** cos(angle to e_i) = weight. */
function mix(i: number, j: number, weight: number): number[] {
  const other = Math.sqrt(1 - weight * weight);
  return unit(i).map((x, n) => x * weight + (n === j ? other : 0));
}

function scale(vector: number[], factor: number): number[] {
  return vector.map((x) => x * factor);
}

/** Small seeded PRNG, so the large case is the same on every run. */
function mulberry32(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
