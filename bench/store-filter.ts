// Where a LanceDB search's milliseconds go once the table is large (issue #12, hybrid retrieval
// p95): every dense and text search carries the where clause `kind = 'chunk' AND live = true` and,
// for a reader who is not an admin, the ACL test. Without scalar indices LanceDB evaluates that
// clause over every row before the vector search. This bench builds one store of synthetic chunks
// (384-d clustered vectors like bench/store-postgres.ts; 70% of documents public, the rest
// readable by one of four groups) and times, on the same table and queries:
//   - the where clauses as the store wrote them before (ACL by `strpos` over `acl_principals`),
//     with no scalar index;
//   - the same table with the bitmap and label-list indices `optimize` now builds, and the ACL
//     read from `acl_list`;
//   - `denseSearch` / `textSearch` through the store, for an admin and for a reader in one group;
//   - no where clause at all, the floor.
// It also checks that both ACL clauses return the same hits. Each timing waits for a quiet machine.
//
//   npx tsx bench/store-filter.ts [--chunks 100000] [--queries 150]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as lancedb from '@lancedb/lancedb';
import { type DocumentWrite, openLanceStore, type Principal } from '../src/store/index.ts';
import { argValue, loadAverage, percentile, waitForQuiet, writeResult } from './bench-env.ts';

const chunkCount = argValue('--chunks') ?? 100_000;
const queryCount = argValue('--queries') ?? 150;
const DIMS = 384;
const GROUPS = ['sales', 'hr', 'legal', 'engineering'];
const started = performance.now();

let seed = 12_345;
const random = () => {
  seed = (seed * 1_103_515_245 + 12_345) & 0x7fffffff;
  return seed / 0x7fffffff;
};
const gaussian = () => Math.sqrt(-2 * Math.log(Math.max(random(), 1e-12))) * Math.cos(2 * Math.PI * random());
const normalise = (v: Float32Array) => {
  let n = 0;
  for (const x of v) n += x * x;
  n = Math.sqrt(n) || 1;
  for (let i = 0; i < v.length; i++) v[i]! /= n;
  return v;
};
const centers = Array.from({ length: 64 }, () => normalise(Float32Array.from({ length: DIMS }, gaussian)));
const vector = () => {
  const center = centers[Math.floor(random() * centers.length)]!;
  return normalise(Float32Array.from(center, (x) => x + ((0.35 * gaussian()) / Math.sqrt(DIMS)) * 6));
};
const words = Array.from({ length: 5000 }, (_, i) => `w${i.toString(36)}x`);
const word = () => words[Math.min(words.length - 1, Math.floor(words.length * random() ** 3))]!;

const dir = mkdtempSync(join(tmpdir(), 'attune-bench-filter-'));
const store = await openLanceStore({ dir, embedding: { modelId: 'synthetic-384', dimensions: DIMS } });
const version = await store.beginWrite();
const docs = chunkCount / 10;
const t0 = performance.now();
for (let start = 0; start < docs; start += 50) {
  const writes: DocumentWrite[] = [];
  for (let d = start; d < Math.min(docs, start + 50); d++) {
    const restricted = d % 10 >= 7;
    writes.push({
      document: {
        id: `doc-${d}`,
        source: `/synthetic/doc-${d}`,
        title: `doc-${d}`,
        text: '',
        sections: [],
        metadata: {},
        acl: restricted
          ? { public: false, users: [], groups: [GROUPS[d % GROUPS.length]!] }
          : { public: true, users: [], groups: [] },
        contentHash: `hash-${d}`,
      },
      chunks: Array.from({ length: 10 }, (_, o) => ({
        id: `doc-${d}#${o}`,
        docId: `doc-${d}`,
        ordinal: o,
        text: Array.from({ length: 40 }, word).join(' '),
        headingPath: [],
        tokenCount: 40,
        vector: vector(),
      })),
    });
  }
  await store.upsertDocuments(writes, version);
}
const writeSeconds = (performance.now() - t0) / 1000;
await store.commitVersion({ added: docs, changed: 0, removed: 0, failed: 0, chunksEmbedded: chunkCount });
const t1 = performance.now();
await store.optimize();
const optimizeSeconds = (performance.now() - t1) / 1000;
await store.endWrite();

const admin: Principal = { user: 'bench', groups: [], admin: true };
const reader: Principal = { user: 'dana', groups: ['hr'] };
const queries = Array.from({ length: queryCount }, vector);
const textQueries = Array.from({ length: queryCount }, () => [word(), word(), word()].join(' '));
const round = (x: number) => Number(x.toFixed(2));

async function time(fn: (i: number) => Promise<unknown>) {
  const loadBefore = await waitForQuiet();
  for (let i = 0; i < 10; i++) await fn(i);
  const ms: number[] = [];
  for (let i = 0; i < queryCount; i++) {
    const t = performance.now();
    await fn(i);
    ms.push(performance.now() - t);
  }
  return { p50: round(percentile(ms, 50)), p95: round(percentile(ms, 95)), loadBefore };
}

const db = await lancedb.connect(dir, { readConsistencyInterval: 0 });
const table = await db.openTable('entries');
const LIVE = "kind = 'chunk' AND live = true";
const OLD_ACL =
  "(acl_public = true OR strpos(acl_principals, '|u:dana|') > 0 OR strpos(acl_principals, '|g:hr|') > 0)";
const NEW_ACL = "(acl_public = true OR array_has_any(acl_list, make_array('u:dana', 'g:hr')))";
const cols = ['chunk_id', 'doc_id', 'text', '_distance'];
const dense = (i: number, where: string | undefined) => {
  let q = table
    .query()
    .nearestTo(Array.from(queries[i]!))
    .distanceType('cosine')
    .nprobes(32)
    .refineFactor(10);
  if (where) q = q.where(where);
  return q.select(cols).limit(10).toArray();
};
const ids = async (where: string) =>
  (await Promise.all(queries.slice(0, 50).map((_q, i) => dense(i, where)))).map((rows) =>
    rows.map((r) => String(r.chunk_id)).join(','),
  );
const sameHits =
  JSON.stringify(await ids(`${LIVE} AND ${OLD_ACL}`)) === JSON.stringify(await ids(`${LIVE} AND ${NEW_ACL}`));

const withIndices: Record<string, unknown> = {
  'no where clause (floor)': await time((i) => dense(i, undefined)),
  'admin: live chunks': await time((i) => dense(i, LIVE)),
  'reader: live chunks + ACL (acl_list)': await time((i) => dense(i, `${LIVE} AND ${NEW_ACL}`)),
  'store.denseSearch, admin': await time((i) => store.denseSearch(queries[i]!, { k: 10, principal: admin })),
  'store.denseSearch, reader': await time((i) =>
    store.denseSearch(queries[i]!, { k: 10, principal: reader }),
  ),
  'store.textSearch, admin': await time((i) =>
    store.textSearch(textQueries[i]!, { k: 10, principal: admin }),
  ),
  'store.textSearch, reader': await time((i) =>
    store.textSearch(textQueries[i]!, { k: 10, principal: reader }),
  ),
};
const scalar = (await table.listIndices()).filter((index) =>
  ['kind', 'live', 'acl_public', 'acl_list'].some((c) => index.columns.includes(c)),
);
for (const index of scalar) await table.dropIndex(index.name);
const before: Record<string, unknown> = {
  'admin: live chunks': await time((i) => dense(i, LIVE)),
  'reader: live chunks + ACL (strpos over acl_principals, as before)': await time((i) =>
    dense(i, `${LIVE} AND ${OLD_ACL}`),
  ),
  'store.textSearch, reader (strpos ACL)': await time(async (i) =>
    table
      .query()
      .fullTextSearch(textQueries[i]!, { columns: 'text' })
      .where(`${LIVE} AND ${OLD_ACL}`)
      .select(['chunk_id', '_score'])
      .limit(10)
      .toArray(),
  ),
};
await store.close();
db.close();
rmSync(dir, { recursive: true, force: true });

const path = writeResult('store-filter', {
  benchmark: 'store-filter',
  command: `npx tsx bench/store-filter.ts --chunks ${chunkCount} --queries ${queryCount}`,
  data: {
    chunks: chunkCount,
    documents: docs,
    public: '70% of documents; the rest readable by one of four groups',
    vectors:
      'synthetic 384-d, 64 clusters; ANN index IVF_HNSW_SQ as optimize builds it; nprobes 32, refine 10, k 10',
  },
  ingest: { writeSeconds: round(writeSeconds), optimizeSeconds: round(optimizeSeconds) },
  sameHitsOldAndNewAcl: sameHits,
  scalarIndices: scalar.map((i) => `${i.indexType} on ${i.columns.join(',')}`),
  latencyMs: { withScalarIndices: withIndices, withoutScalarIndices: before },
  percentile: 'nearest rank (src/eval/percentile.ts)',
  loadAverage: { end: loadAverage() },
  wallSeconds: Math.round((performance.now() - started) / 1000),
});
process.stderr.write(`wrote ${path}\n`);
