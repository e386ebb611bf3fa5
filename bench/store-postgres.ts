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
// Hybrid latency is the whole retrieval call of the answer path (`Retriever.retrieve`, k 5): the
// real default embedder embeds a real SQuAD question (its cost is real, the query cache is off),
// the synthetic vector stands in for its result, and the text branch gets a query of corpus words,
// so both store branches do real work before fusion. LanceDB's ANN settings (nprobes, refine
// factor) are swept like PostgreSQL's ef_search. Each measurement waits for a quiet machine first
// and records the load it got. A result file is written after each store, so a long run that is
// cut short keeps what it measured.
//
// Run: npx tsx bench/store-postgres.ts [--chunks 100000] [--queries 200] [--batch-docs 50]
//        [--maintenance-work-mem 512MB] [--out store-postgres]
// 1M: npx tsx bench/store-postgres.ts --chunks 1000000 --batch-docs 500 --maintenance-work-mem 4GB --out store-postgres-1m
import { execSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config/index.ts';
import { evalDataDir, readJsonl } from '../src/eval/qa-data.ts';
import type { Document } from '../src/ingest/document.ts';
import type { EmbeddingModel } from '../src/models/index.ts';
import { Models } from '../src/models/models.ts';
import { Retriever } from '../src/retrieve/index.ts';
import {
  type DocumentWrite,
  type KnowledgeStore,
  openLanceStore,
  openPostgresStore,
  type PostgresKnowledgeStore,
  type Principal,
} from '../src/store/index.ts';
import { startPgServer } from '../src/store/testing/pg-server.ts';
import { argString, argValue, loadAverage, percentile, waitForQuiet, writeResult } from './bench-env.ts';

const chunkCount = argValue('--chunks') ?? 100_000;
const queryCount = argValue('--queries') ?? 200;
const outIndex = process.argv.indexOf('--out');
const outName = outIndex >= 0 ? process.argv[outIndex + 1]! : 'store-postgres';
const DIMS = 384;
const CHUNKS_PER_DOC = 10;
const BATCH_DOCS = argValue('--batch-docs') ?? 50;
const maintenanceWorkMem = argString('--maintenance-work-mem', '512MB');
const CLUSTERS = 64;
const embedding = { modelId: 'synthetic-384', dimensions: DIMS };
const admin: Principal = { user: 'bench', groups: [], admin: true };
const load: Record<string, unknown> = { start: loadAverage() };
const started = performance.now();

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

// The real query embedder, and real questions for it to embed (distinct, so nothing is cached).
const realEmbedder = await new Models(loadConfig({ env: process.env })).embedding();
const questions = [
  ...new Set(
    readJsonl<{ question: string }>(join(evalDataDir(), 'squad2-dev', 'questions.jsonl')).map(
      (q) => q.question,
    ),
  ),
].slice(0, queryCount);
const vectorFor = new Map(textQueries.map((text, i) => [text, i]));
const hybridEmbedder: EmbeddingModel = {
  specificationVersion: 'v1',
  provider: realEmbedder.provider,
  modelId: embedding.modelId,
  dimensions: DIMS,
  maxInputTokens: realEmbedder.maxInputTokens,
  maxEmbeddingsPerCall: 1,
  async doEmbed({ values }) {
    const i = vectorFor.get(values[0]!) ?? 0;
    const { usage } = await realEmbedder.doEmbed({ values: [questions[i % questions.length]!] });
    return { embeddings: [Array.from(queries[i]!)], usage };
  },
};

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

type Ms = { p50: number; p95: number };
const ms = (values: number[]): Ms => ({
  p50: round(percentile(values, 50)),
  p95: round(percentile(values, 95)),
});

async function retrieval(store: KnowledgeStore, options: { full: boolean }) {
  const quiet = await waitForQuiet();
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
  const measured = { loadBefore: quiet, recallAt10: round(recall / queries.length, 4), denseMs: ms(dense) };
  if (!options.full) return measured;
  const text: number[] = [];
  for (const q of textQueries) {
    const t = performance.now();
    await store.textSearch(q, { k: 10, principal: admin });
    text.push(performance.now() - t);
  }
  const retriever = new Retriever({ store, embedder: hybridEmbedder, queryCacheSize: 0 });
  for (const q of textQueries.slice(0, 5)) await retriever.retrieve(q, { principal: admin });
  const hybrid: number[] = [];
  const embed: number[] = [];
  const search: number[] = [];
  for (const q of textQueries) {
    const { timings } = await retriever.retrieve(q, { principal: admin });
    hybrid.push(timings.totalMs);
    embed.push(timings.embedMs);
    search.push(timings.searchMs);
  }
  return {
    ...measured,
    textMs: ms(text),
    hybridMs: { ...ms(hybrid), queryEmbeddingMs: ms(embed), storeSearchMs: ms(search) },
  };
}

function round(x: number, digits = 2): number {
  return Number(x.toFixed(digits));
}

const work = mkdtempSync(join(tmpdir(), 'attune-bench-store-'));
const server = await startPgServer({
  durable: true,
  settings: { shared_buffers: '1GB', maintenance_work_mem: maintenanceWorkMem, work_mem: '64MB' },
});
const results: Record<string, unknown> = {};
const LANCE_SWEEP = [
  { nprobes: 8, refineFactor: 1 },
  { nprobes: 16, refineFactor: 5 },
  { nprobes: 32, refineFactor: 10 },
  { nprobes: 64, refineFactor: 10 },
];
function save(partial: boolean): string {
  const lastLoad = loadAverage();
  return writeResult(outName, {
    benchmark: 'store-postgres',
    command: `npx tsx bench/store-postgres.ts ${process.argv.slice(2).join(' ')}`.trim(),
    ...(partial ? { partial: 'cut short or still running: only the stores above were measured' } : {}),
    data: {
      chunks: chunkCount,
      dimensions: DIMS,
      chunksPerDocument: CHUNKS_PER_DOC,
      batchDocuments: BATCH_DOCS,
      clusters: CLUSTERS,
      queries: queryCount,
      k: 10,
      vectors: 'synthetic, clustered, unit-normalised; queries are perturbed stored vectors',
      hybridQueries: `Retriever.retrieve (k 5, 20 candidates a branch, RRF); the query embedding is ${realEmbedder.modelId} on ${realEmbedder.provider} embedding a real squad2-dev question`,
    },
    server: `PostgreSQL 16.2 + pgvector 0.6.2 (PyPI pgserver 0.1.4), same machine, loopback; fsync on; shared_buffers 1GB; maintenance_work_mem ${maintenanceWorkMem}`,
    loadAverage: { ...load, last: lastLoad },
    note: 'Each latency measurement waited (up to 5 min) for a 1-minute load average under 1 and records the load it began at (loadBefore); ingest times carry whatever else ran.',
    peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
    wallSeconds: Math.round((performance.now() - started) / 1000),
    ...results,
  });
}
try {
  const url = await server.createDatabase('bench');

  process.stderr.write('LanceDB: ingest\n');
  const lanceDir = join(work, 'lance');
  const lance = await openLanceStore({ dir: lanceDir, embedding });
  const lanceIngest = await ingest(lance);
  load.afterLanceIngest = loadAverage();
  await lance.close();
  const lanceSweep: { nprobes: number; refineFactor: number; recallAt10: number; denseMs: Ms }[] = [];
  let lanceRetrieval: Awaited<ReturnType<typeof retrieval>> | undefined;
  for (const ann of LANCE_SWEEP) {
    const store = await openLanceStore({ dir: lanceDir, ann });
    const isDefault = ann.nprobes === 32 && ann.refineFactor === 10;
    const measured = await retrieval(store, { full: isDefault });
    await store.close();
    if (isDefault) lanceRetrieval = measured;
    lanceSweep.push({ ...ann, recallAt10: measured.recallAt10, denseMs: measured.denseMs });
    process.stderr.write(`  LanceDB ${JSON.stringify(ann)}: ${JSON.stringify(measured)}\n`);
  }
  const lanceBytes = Number(execSync(`du -sb ${lanceDir}`).toString().split('\t')[0]);
  results.lancedb = {
    ingest: lanceIngest,
    retrieval: lanceRetrieval,
    storeBytes: lanceBytes,
    ann: {
      index: 'IVF_HNSW_SQ, one partition per 50,000 rows',
      default: { nprobes: 32, refineFactor: 10 },
      sweep: lanceSweep,
      cheapestReaching095: lanceSweep.find((s) => s.recallAt10 >= 0.95) ?? null,
    },
  };
  rmSync(lanceDir, { recursive: true, force: true });
  process.stderr.write(`wrote ${save(true)}\n`);

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
  const sweep: { efSearch: number; recallAt10: number; denseMs: Ms }[] = [];
  let pgRetrieval: Awaited<ReturnType<typeof retrieval>> | undefined;
  for (const efSearch of [40, 100, 200, 400]) {
    const store: PostgresKnowledgeStore = await openPostgresStore({ url, efSearch });
    // 200 is the store's default (DEFAULT_EF_SEARCH in postgres-store.ts).
    const measured = await retrieval(store, { full: efSearch === 200 });
    await store.close();
    if (efSearch === 200) pgRetrieval = measured;
    sweep.push({ efSearch, recallAt10: measured.recallAt10, denseMs: measured.denseMs });
    process.stderr.write(`  ef_search ${efSearch}: ${JSON.stringify(measured)}\n`);
  }
  results.postgres = {
    ingest: pgIngest,
    retrieval: pgRetrieval,
    storeBytes: Number(size?.total),
    relationBytes: {
      chunksHeap: Number(size?.chunks),
      hnswIndex: Number(size?.hnsw),
      textIndex: Number(size?.gin),
    },
    hnsw: {
      m: 16,
      efConstruction: 64,
      defaultEfSearch: 200,
      sweep,
      smallestEfSearchReaching095: sweep.find((s) => s.recallAt10 >= 0.95) ?? null,
    },
  };
  load.end = loadAverage();
} finally {
  await server.stop();
  rmSync(work, { recursive: true, force: true });
}
process.stderr.write(`wrote ${save(false)}\n`);
