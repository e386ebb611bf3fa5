// The knowledge store on PostgreSQL + pgvector against the embedded LanceDB store, same data, same
// run: ingest throughput through the KnowledgeStore API (upsertDocuments batches, then optimize),
// dense and full-text latency (p50/p95, nearest rank), dense recall@10 against exact search, store
// size on disk. Then PostgreSQL's HNSW `ef_search` swept for the smallest setting reaching
// recall@10 ≥ 0.95, with its p95.
//
// Data: synthetic 384-d vectors (the all-MiniLM-L6-v2 width), clustered (64 Gaussian clusters,
// unit-normalised) because real embeddings are; texts of words drawn Zipf-like from a 5000-word
// vocabulary. No model runs: the numbers are the stores', not an embedder's. Queries are perturbed
// stored vectors; exact neighbours by brute force in this process.
//
// The PostgreSQL server is the test one (pgserver's PostgreSQL 16 + pgvector 0.6.2) started with
// fsync and synchronous commit ON, shared_buffers 1 GB, on this machine, over loopback.
//
// Run: npx tsx bench/store-postgres.ts [--chunks 100000] [--queries 200] [--out store-postgres]
import { execSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Document } from '../src/ingest/document.ts';
import {
  type DocumentWrite,
  type KnowledgeStore,
  openLanceStore,
  openPostgresStore,
  type PostgresKnowledgeStore,
  type Principal,
} from '../src/store/index.ts';
import { startPgServer } from '../src/store/testing/pg-server.ts';
import { argValue, loadAverage, percentile, writeResult } from './bench-env.ts';

const chunkCount = argValue('--chunks') ?? 100_000;
const queryCount = argValue('--queries') ?? 200;
const outIndex = process.argv.indexOf('--out');
const outName = outIndex >= 0 ? process.argv[outIndex + 1]! : 'store-postgres';
const DIMS = 384;
const CHUNKS_PER_DOC = 10;
const BATCH_DOCS = 50;
const CLUSTERS = 64;
const embedding = { modelId: 'synthetic-384', dimensions: DIMS };
const admin: Principal = { user: 'bench', groups: [], admin: true };
const load: Record<string, number[]> = { start: loadAverage() };

function rng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = rng(384_100);
const gaussian = () => {
  const u = Math.max(random(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
};
function normalise(v: Float32Array): Float32Array {
  let norm = 0;
  for (const x of v) norm += x * x;
  norm = Math.sqrt(norm) || 1;
  for (let i = 0; i < v.length; i++) v[i]! /= norm;
  return v;
}

// All vectors in one buffer: exact search scans it.
const centers = Array.from({ length: CLUSTERS }, () =>
  normalise(Float32Array.from({ length: DIMS }, gaussian)),
);
const vectors = new Float32Array(chunkCount * DIMS);
for (let c = 0; c < chunkCount; c++) {
  const center = centers[Math.floor(random() * CLUSTERS)]!;
  const v = vectors.subarray(c * DIMS, (c + 1) * DIMS);
  for (let d = 0; d < DIMS; d++) v[d] = center[d]! + ((0.35 * gaussian()) / Math.sqrt(DIMS)) * 6;
  normalise(v);
}
const vocabulary = Array.from({ length: 5000 }, (_, i) => `w${i.toString(36)}x`);
const word = () =>
  vocabulary[Math.min(vocabulary.length - 1, Math.floor(vocabulary.length * random() ** 3))]!;
const texts = Array.from({ length: chunkCount }, () => Array.from({ length: 40 }, word).join(' '));

function documentsFrom(start: number, end: number): DocumentWrite[] {
  const writes: DocumentWrite[] = [];
  for (let d = start; d < end; d++) {
    const id = `doc-${d}`;
    const first = d * CHUNKS_PER_DOC;
    const count = Math.min(CHUNKS_PER_DOC, chunkCount - first);
    const document: Document = {
      id,
      source: `/synthetic/${id}`,
      title: id,
      text: '',
      sections: [],
      metadata: { cluster: d % 8 },
      acl: { public: true, users: [], groups: [] },
      contentHash: `hash-${d}`,
    };
    writes.push({
      document,
      chunks: Array.from({ length: count }, (_, o) => ({
        id: `${id}#${o}`,
        docId: id,
        ordinal: o,
        text: texts[first + o]!,
        headingPath: [id],
        tokenCount: 40,
        vector: vectors.subarray((first + o) * DIMS, (first + o + 1) * DIMS),
      })),
    });
  }
  return writes;
}

const queryRandom = rng(7);
const queries = Array.from({ length: queryCount }, () => {
  const base = Math.floor(queryRandom() * chunkCount);
  const q = Float32Array.from(
    vectors.subarray(base * DIMS, (base + 1) * DIMS),
    (x) => x + 0.02 * (queryRandom() - 0.5),
  );
  return normalise(q);
});
const textQueries = Array.from({ length: queryCount }, () => {
  const words = texts[Math.floor(queryRandom() * chunkCount)]!.split(' ');
  return [words[3], words[17], words[29]].join(' ');
});

function exactTop(query: Float32Array, k: number): string[] {
  const best: { score: number; index: number }[] = [];
  for (let c = 0; c < chunkCount; c++) {
    let dot = 0;
    const offset = c * DIMS;
    for (let d = 0; d < DIMS; d++) dot += query[d]! * vectors[offset + d]!;
    if (best.length < k || dot > best[best.length - 1]!.score) {
      best.push({ score: dot, index: c });
      best.sort((a, b) => b.score - a.score);
      if (best.length > k) best.pop();
    }
  }
  return best.map(({ index }) => `doc-${Math.floor(index / CHUNKS_PER_DOC)}#${index % CHUNKS_PER_DOC}`);
}
process.stderr.write(`exact neighbours for ${queryCount} queries over ${chunkCount} vectors...\n`);
const truth = queries.map((q) => exactTop(q, 10));

async function ingest(store: KnowledgeStore) {
  const docs = Math.ceil(chunkCount / CHUNKS_PER_DOC);
  const version = await store.beginWrite();
  const t0 = performance.now();
  for (let start = 0; start < docs; start += BATCH_DOCS) {
    await store.upsertDocuments(documentsFrom(start, Math.min(docs, start + BATCH_DOCS)), version);
    if (start % (BATCH_DOCS * 40) === 0)
      process.stderr.write(`  ${store.provider}: ${start * CHUNKS_PER_DOC} chunks\n`);
  }
  const writeMs = performance.now() - t0;
  await store.commitVersion({ added: docs, changed: 0, removed: 0, failed: 0, chunksEmbedded: chunkCount });
  const t1 = performance.now();
  const optimized = await store.optimize();
  const optimizeMs = performance.now() - t1;
  await store.endWrite();
  return {
    writeSeconds: round(writeMs / 1000),
    optimizeSeconds: round(optimizeMs / 1000),
    chunksPerSecond: Math.round(chunkCount / ((writeMs + optimizeMs) / 1000)),
    chunksPerSecondWritesOnly: Math.round(chunkCount / (writeMs / 1000)),
    denseIndex: optimized.denseIndex,
  };
}

async function retrieval(store: KnowledgeStore) {
  // Warm-up: caches and the planner, not measured.
  for (const q of queries.slice(0, 10)) await store.denseSearch(q, { k: 10, principal: admin });
  const dense: number[] = [];
  let recall = 0;
  for (const [i, q] of queries.entries()) {
    const t = performance.now();
    const hits = await store.denseSearch(q, { k: 10, principal: admin });
    dense.push(performance.now() - t);
    const found = new Set(hits.map((h) => `${h.chunk.docId}#${h.chunk.ordinal}`));
    recall += truth[i]!.filter((id) => found.has(id)).length / 10;
  }
  const text: number[] = [];
  for (const q of textQueries) {
    const t = performance.now();
    await store.textSearch(q, { k: 10, principal: admin });
    text.push(performance.now() - t);
  }
  return {
    recallAt10: round(recall / queries.length, 4),
    denseMs: { p50: round(percentile(dense, 50)), p95: round(percentile(dense, 95)) },
    textMs: { p50: round(percentile(text, 50)), p95: round(percentile(text, 95)) },
  };
}

function round(x: number, digits = 2): number {
  return Number(x.toFixed(digits));
}

const work = mkdtempSync(join(tmpdir(), 'attune-bench-store-'));
const server = await startPgServer({
  durable: true,
  settings: { shared_buffers: '1GB', maintenance_work_mem: '512MB', work_mem: '64MB' },
});
const results: Record<string, unknown> = {};
try {
  const url = await server.createDatabase('bench');

  process.stderr.write('LanceDB: ingest\n');
  const lance = await openLanceStore({ dir: join(work, 'lance'), embedding });
  const lanceIngest = await ingest(lance);
  load.afterLanceIngest = loadAverage();
  const lanceRetrieval = await retrieval(lance);
  await lance.close();
  const lanceBytes = Number(
    execSync(`du -sb ${join(work, 'lance')}`)
      .toString()
      .split('\t')[0],
  );
  results.lancedb = { ingest: lanceIngest, retrieval: lanceRetrieval, storeBytes: lanceBytes };
  process.stderr.write(`${JSON.stringify(results.lancedb)}\n`);

  process.stderr.write('PostgreSQL: ingest\n');
  const pg = await openPostgresStore({ url, embedding });
  const pgIngest = await ingest(pg);
  load.afterPostgresIngest = loadAverage();
  const [size] = await pg.query<{ total: string; chunks: string; hnsw: string; gin: string }>(
    `SELECT (SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname = 'attune' AND c.relkind = 'r') AS total,
            pg_relation_size('chunks') AS chunks,
            pg_relation_size('chunks_embedding') AS hnsw,
            pg_relation_size('chunks_tsv') AS gin`,
  );
  await pg.close();
  const sweep: { efSearch: number; recallAt10: number; denseMs: { p50: number; p95: number } }[] = [];
  let pgRetrieval: Awaited<ReturnType<typeof retrieval>> | undefined;
  for (const efSearch of [40, 100, 200, 400]) {
    const store: PostgresKnowledgeStore = await openPostgresStore({ url, efSearch });
    const measured = await retrieval(store);
    await store.close();
    if (efSearch === 100) pgRetrieval = measured; // the store's default when this was first run
    sweep.push({ efSearch, recallAt10: measured.recallAt10, denseMs: measured.denseMs });
    process.stderr.write(`  ef_search ${efSearch}: ${JSON.stringify(measured)}\n`);
  }
  const reaching = sweep.find((s) => s.recallAt10 >= 0.95);
  results.postgres = {
    ingest: pgIngest,
    retrieval: pgRetrieval,
    storeBytes: Number(size?.total),
    relationBytes: {
      chunksHeap: Number(size?.chunks),
      hnswIndex: Number(size?.hnsw),
      textIndex: Number(size?.gin),
    },
    hnsw: { m: 16, efConstruction: 64, sweep, smallestEfSearchReaching095: reaching ?? null },
  };
  load.end = loadAverage();
} finally {
  await server.stop();
  rmSync(work, { recursive: true, force: true });
}

const path = writeResult(outName, {
  benchmark: 'store-postgres',
  command: `npx tsx bench/store-postgres.ts --chunks ${chunkCount} --queries ${queryCount}`,
  data: {
    chunks: chunkCount,
    dimensions: DIMS,
    chunksPerDocument: CHUNKS_PER_DOC,
    batchDocuments: BATCH_DOCS,
    clusters: CLUSTERS,
    queries: queryCount,
    k: 10,
    vectors: 'synthetic, clustered, unit-normalised; queries are perturbed stored vectors',
  },
  server:
    'PostgreSQL 16.2 + pgvector 0.6.2 (PyPI pgserver 0.1.4), same machine, loopback; fsync on; shared_buffers 1GB',
  loadAverage: load,
  note: 'The machine (2 cores) was shared with other engineers running builds and models during this run: the load averages above say how much; absolute latencies are pessimistic, the comparison is within one run.',
  ...results,
});
process.stderr.write(`wrote ${path}\n`);
