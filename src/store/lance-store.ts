/**
 * The embedded KnowledgeStore: LanceDB tables in one directory (default `./.attune/`).
 *
 * One `entries` table holds both document rows (`kind = 'document'`) and their chunk rows, each
 * carrying `(doc_id, gen)`: `gen` numbers the states a document has been written in, increasing.
 * A write appends the document rows and chunks of a batch of documents, hidden (`live = false`),
 * in one commit, all under one new `gen`; then ONE update over those documents' rows,
 * `SET live = (gen = new)`, swaps their old states out and the new ones in. LanceDB commits each
 * statement atomically, so every reader sees the batch wholly old or wholly new, and a crash
 * between the two commits leaves only hidden rows behind. Keeping the document row in the same
 * table as its chunks is what makes that single flip possible; a batch costs two commits whether
 * it holds one document or hundreds.
 *
 * Superseded states stay (live = false, published = true) for `documentAt`; rows of a write that
 * never got flipped (published = false) are removed by `optimize`.
 */
import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import * as lancedb from '@lancedb/lancedb';
import { Bool, Field, FixedSizeList, Float32, Int32, List, Schema, Utf8 } from 'apache-arrow';
import type { Acl, Document } from '../ingest/document.ts';
import type {
  DocumentSnapshot,
  DocumentWrite,
  EmbeddedChunk,
  EmbeddingModelInfo,
  KbVersion,
  KnowledgeStore,
  ListOptions,
  MetadataValue,
  OptimizeOptions,
  OptimizeResult,
  SearchHit,
  SearchOptions,
  StoredChunk,
  StoredDocument,
  UpsertResult,
  VersionSummary,
} from './knowledge-store.ts';
import {
  ACL_LIST_SQL,
  aclList,
  aclPrincipals,
  aclWhere,
  and,
  filterWhere,
  metadataPairs,
  sqlString,
} from './lance-sql.ts';
import type { Principal } from './principal.ts';
import {
  EmbeddingMismatchError,
  InvalidWriteError,
  StoreClosedError,
  StoreError,
  StoreNotFoundError,
  VersionPrunedError,
} from './store-error.ts';
import { WriteLock } from './write-lock.ts';

export type LanceStoreOptions = {
  /** Default `./.attune`. */
  dir?: string;
  /** Required to create a store; when opening one, must match what it was created with. */
  embedding?: EmbeddingModelInfo;
  /** Dense search is brute force (exact) below this many chunk rows; `optimize` builds an ANN index above. */
  annThresholdRows?: number;
  /** How long a writer waits for another process's write lock. Default 10 s. */
  lockTimeoutMs?: number;
  /** Old table versions (LanceDB's own, not KB versions) older than this are deleted by `optimize`. Default 10 min. */
  cleanupOlderThanMs?: number;
  /**
   * ANN query settings once `optimize` has built the index: partitions probed (default 32) and the
   * candidates re-ranked by exact distance, as a multiple of k (default 10).
   */
  ann?: { nprobes?: number; refineFactor?: number };
  /** For crash tests: runs after a write's new rows are appended and before they are made live. */
  afterRowsWritten?: (docIds: string[]) => void | Promise<void>;
};

const SCHEMA_VERSION = '1';
const DEFAULT_ANN_THRESHOLD = 5000;
// A batch write's id lists go into SQL IN clauses; larger batches are written in slices of this
// many documents (each slice atomic as a whole, every document atomic regardless).
const MAX_BATCH_DOCUMENTS = 500;
// Probing many partitions and re-ranking a wide candidate set with exact distances keeps the ANN
// path's top results equal to brute force at the sizes a knowledge base reaches.
const ANN_NPROBES = 32;
const ANN_REFINE_FACTOR = 10;

const DOCUMENT_COLUMNS = [
  'doc_id',
  'gen',
  'version',
  'source',
  'title',
  'metadata',
  'acl',
  'content_hash',
  'chunk_count',
  'updated_at',
];
const CHUNK_COLUMNS = [
  'doc_id',
  'gen',
  'version',
  'chunk_id',
  'ordinal',
  'text',
  'heading_path',
  'page',
  'token_count',
  'chunk_hash',
];
const HIT_COLUMNS = [...new Set([...CHUNK_COLUMNS, 'source', 'title', 'metadata'])];

const LIVE_DOCUMENTS = "kind = 'document' AND live = true AND deleted = false";
const LIVE_CHUNKS = "kind = 'chunk' AND live = true";

type EntryRow = {
  kind: 'document' | 'chunk';
  doc_id: string;
  gen: number;
  live: boolean;
  published: boolean;
  deleted: boolean;
  version: number;
  source: string;
  title: string;
  metadata: string;
  meta_pairs: string;
  acl: string;
  acl_public: boolean;
  acl_principals: string;
  acl_list?: string[];
  content_hash: string;
  chunk_count: number;
  updated_at: string;
  chunk_id: string;
  ordinal: number;
  text: string;
  heading_path: string;
  page: number | null;
  token_count: number;
  chunk_hash: string;
  vector: number[] | null;
};

function entrySchema(dimensions: number): Schema {
  const utf8 = (name: string) => new Field(name, new Utf8(), false);
  const int32 = (name: string, nullable = false) => new Field(name, new Int32(), nullable);
  const bool = (name: string) => new Field(name, new Bool(), false);
  return new Schema([
    utf8('kind'),
    utf8('doc_id'),
    int32('gen'),
    bool('live'),
    bool('published'),
    bool('deleted'),
    int32('version'),
    utf8('source'),
    utf8('title'),
    utf8('metadata'),
    utf8('meta_pairs'),
    utf8('acl'),
    bool('acl_public'),
    utf8('acl_principals'),
    utf8('content_hash'),
    int32('chunk_count'),
    utf8('updated_at'),
    utf8('chunk_id'),
    int32('ordinal'),
    utf8('text'),
    utf8('heading_path'),
    int32('page', true),
    int32('token_count'),
    utf8('chunk_hash'),
    // Document rows have no vector; LanceDB's searches and index builds skip nulls.
    new Field('vector', new FixedSizeList(dimensions, new Field('item', new Float32(), true)), true),
    // acl_principals as a list, for the label-list index that answers ACL filters without a scan.
    // Last, where adding it to an older store puts it.
    new Field('acl_list', new List(new Field('item', new Utf8(), true)), true),
  ]);
}

const versionSchema = new Schema([
  new Field('number', new Int32(), false),
  new Field('created_at', new Utf8(), false),
  new Field('added', new Int32(), false),
  new Field('changed', new Int32(), false),
  new Field('removed', new Int32(), false),
  new Field('failed', new Int32(), false),
  new Field('chunks_embedded', new Int32(), false),
  new Field('note', new Utf8(), true),
]);

export async function openLanceStore(options: LanceStoreOptions = {}): Promise<LanceKnowledgeStore> {
  const dir = options.dir ?? './.attune';
  await mkdir(dir, { recursive: true });
  // Strong read consistency: a long-lived reader (the server) sees another process's ingest at once.
  const db = await lancedb.connect(dir, { readConsistencyInterval: 0 });
  const names = new Set(await db.tableNames());

  let meta: lancedb.Table;
  if (names.has('meta')) meta = await db.openTable('meta');
  else {
    if (options.embedding === undefined) {
      db.close();
      throw new StoreNotFoundError(dir);
    }
    validateEmbedding(options.embedding);
    const rows = [
      { key: 'schema', value: SCHEMA_VERSION },
      { key: 'embedding_model_id', value: options.embedding.modelId },
      { key: 'dimensions', value: String(options.embedding.dimensions) },
      { key: 'history_from', value: '1' },
    ];
    meta = await db.createTable('meta', rows, { existOk: true });
  }
  const settings = new Map(
    (await meta.query().toArray()).map((row) => [String(row.key), String(row.value)] as const),
  );
  if (settings.get('schema') !== SCHEMA_VERSION) {
    db.close();
    throw new StoreError(
      `The knowledge store at ${dir} has schema ${settings.get('schema')}, not ${SCHEMA_VERSION}.`,
    );
  }
  const embedding = {
    modelId: settings.get('embedding_model_id') ?? '',
    dimensions: Number(settings.get('dimensions')),
  };
  if (
    options.embedding !== undefined &&
    (options.embedding.modelId !== embedding.modelId || options.embedding.dimensions !== embedding.dimensions)
  ) {
    db.close();
    throw new EmbeddingMismatchError(
      dir,
      `${embedding.modelId} (${embedding.dimensions}-d)`,
      `${options.embedding.modelId} (${options.embedding.dimensions}-d)`,
    );
  }

  const entries = names.has('entries')
    ? await db.openTable('entries')
    : await db.createEmptyTable('entries', entrySchema(embedding.dimensions), { existOk: true });
  const versions = names.has('versions')
    ? await db.openTable('versions')
    : await db.createEmptyTable('versions', versionSchema, { existOk: true });
  const store = new LanceKnowledgeStore(dir, db, { entries, versions, meta }, embedding, options);
  await store.ensureTextIndex();
  await store.ensureAclList();
  return store;
}

function validateEmbedding(embedding: EmbeddingModelInfo): void {
  if (!Number.isInteger(embedding.dimensions) || embedding.dimensions <= 0) {
    throw new StoreError(`Embedding dimensions must be a positive integer, got ${embedding.dimensions}.`);
  }
}

type Tables = { entries: lancedb.Table; versions: lancedb.Table; meta: lancedb.Table };

export class LanceKnowledgeStore implements KnowledgeStore {
  readonly specificationVersion = 'v1' as const;
  readonly provider = 'lancedb';
  readonly dir: string;
  readonly #db: lancedb.Connection;
  readonly #tables: Tables;
  readonly #embedding: EmbeddingModelInfo;
  readonly #options: LanceStoreOptions;
  readonly #lock: WriteLock;
  // Writes from this process run one at a time; the lock file keeps other processes out.
  #writeQueue: Promise<unknown> = Promise.resolve();
  #closed = false;
  #aclList = false;

  constructor(
    dir: string,
    db: lancedb.Connection,
    tables: Tables,
    embedding: EmbeddingModelInfo,
    options: LanceStoreOptions,
  ) {
    this.dir = dir;
    this.#db = db;
    this.#tables = tables;
    this.#embedding = embedding;
    this.#options = options;
    this.#lock = new WriteLock(join(dir, 'write.lock'));
  }

  async embeddingModel(): Promise<EmbeddingModelInfo> {
    return { ...this.#embedding };
  }

  /**
   * A store made before `acl_list` existed gains it, computed from `acl_principals` in one schema
   * change. Where that cannot be written (a read-only directory), filters keep reading
   * `acl_principals`: slower, the same answer.
   */
  async ensureAclList(): Promise<void> {
    const has = async () => (await this.#tables.entries.schema()).fields.some((f) => f.name === 'acl_list');
    if (await has()) {
      this.#aclList = true;
      return;
    }
    try {
      await this.#write(async () => {
        // Another process may have added it while this one waited for the lock.
        if (!(await has()))
          await this.#tables.entries.addColumns([{ name: 'acl_list', valueSql: ACL_LIST_SQL }]);
      });
      this.#aclList = true;
    } catch {
      this.#aclList = false;
    }
  }

  /** The row as this table takes it: without `acl_list` where the table lacks the column. */
  #fitted(row: EntryRow): EntryRow {
    if (this.#aclList) return row;
    const { acl_list: _omitted, ...rest } = row;
    return rest;
  }

  /** The ACL filter for this store's columns. */
  #aclWhere(principal: Principal): string | undefined {
    return aclWhere(principal, { list: this.#aclList });
  }

  /** Creates the BM25 index if a crash (or an older writer) left the table without one. */
  async ensureTextIndex(): Promise<void> {
    const indices = await this.#tables.entries.listIndices();
    if (indices.some((index) => index.columns.includes('text') && index.indexType === 'FTS')) return;
    await this.#write(() =>
      this.#tables.entries.createIndex('text', { config: lancedb.Index.fts(), replace: true }),
    );
  }

  async nextVersion(): Promise<number> {
    this.#assertOpen();
    const rows = await this.#tables.versions.query().select(['number']).toArray();
    return rows.reduce((max, row) => Math.max(max, Number(row.number)), 0) + 1;
  }

  async beginWrite(): Promise<number> {
    return this.#write(async () => {
      await this.#recordUnrecordedVersions();
      return this.nextVersion();
    });
  }

  /**
   * A writer killed after its documents went live but before `commitVersion` leaves published rows
   * above the last recorded version: readers already see them, yet `versions` never listed them,
   * the next write would reuse the number, and answers cached under the old version would live on.
   * The next writer (it holds the lock, so the crashed one is gone) records what those rows are,
   * counted from the rows themselves, before it does anything else.
   */
  async #recordUnrecordedVersions(): Promise<void> {
    for (const version of await this.#unrecordedVersions()) {
      await this.#tables.versions.add([
        {
          number: version.number,
          created_at: new Date().toISOString(),
          added: 0,
          changed: version.summary.changed,
          removed: version.summary.removed,
          failed: 0,
          chunks_embedded: version.summary.chunksEmbedded,
          note: `recovered: a write at version ${version.number} went live but its writer stopped before recording it`,
        },
      ]);
    }
  }

  /**
   * Versions whose documents are live (published) but that the versions table does not list: a
   * writer still running, or one killed before `commitVersion`. Counted from the rows themselves;
   * added and changed cannot be told apart afterwards, so both count as changed.
   */
  async #unrecordedVersions(): Promise<KbVersion[]> {
    const recorded = (await this.nextVersion()) - 1;
    const rows = await this.#tables.entries
      .query()
      .where(`published = true AND version > ${recorded}`)
      .select(['version', 'kind', 'deleted', 'updated_at'])
      .toArray();
    const byVersion = new Map<number, KbVersion>();
    for (const row of rows) {
      const number = Number(row.version);
      const version = byVersion.get(number) ?? {
        number,
        createdAt: String(row.updated_at),
        summary: { added: 0, changed: 0, removed: 0, failed: 0, chunksEmbedded: 0 },
        note: `not recorded yet: a write at version ${number} is live, but its writer is still running or stopped before recording it`,
      };
      // The latest write's time: a version still being written changes its key with every batch.
      if (String(row.updated_at) > version.createdAt) version.createdAt = String(row.updated_at);
      if (row.kind === 'chunk') version.summary.chunksEmbedded++;
      else if (row.deleted) version.summary.removed++;
      else version.summary.changed++;
      byVersion.set(number, version);
    }
    return [...byVersion.values()].sort((a, b) => a.number - b.number);
  }

  async endWrite(): Promise<void> {
    const queue = this.#writeQueue;
    this.#writeQueue = queue.then(() => this.#lock.release());
    await this.#writeQueue;
  }

  async upsertDocument(document: Document, chunks: EmbeddedChunk[], version: number): Promise<UpsertResult> {
    const [result] = await this.upsertDocuments([{ document, chunks }], version);
    return result!;
  }

  async deleteDocument(id: string, version: number): Promise<boolean> {
    const [deleted] = await this.deleteDocuments([id], version);
    return deleted!;
  }

  // A batch costs two commits however many documents it holds: one append of every new row
  // (hidden) and one flip over all of them. All documents of a slice share one new generation
  // number, above every generation any of them has had, so the flip is a single condition.
  async upsertDocuments(writes: DocumentWrite[], version: number): Promise<UpsertResult[]> {
    const ids = new Set<string>();
    for (const { document, chunks } of writes) {
      if (ids.has(document.id)) {
        throw new InvalidWriteError(
          `Document ${document.id} appears twice in one batch write.`,
          'Write each document once per batch: which of its two states should win is not defined.',
        );
      }
      ids.add(document.id);
      validateDocument(document, chunks, this.#embedding.dimensions);
    }
    return this.#write(async () => {
      await this.#checkVersion(version);
      const results: UpsertResult[] = [];
      for (let start = 0; start < writes.length; start += MAX_BATCH_DOCUMENTS) {
        results.push(...(await this.#upsertSlice(writes.slice(start, start + MAX_BATCH_DOCUMENTS), version)));
      }
      return results;
    });
  }

  async deleteDocuments(ids: string[], version: number): Promise<boolean[]> {
    return this.#write(async () => {
      await this.#checkVersion(version);
      const results: boolean[] = [];
      for (let start = 0; start < ids.length; start += MAX_BATCH_DOCUMENTS) {
        results.push(...(await this.#deleteSlice(ids.slice(start, start + MAX_BATCH_DOCUMENTS), version)));
      }
      return results;
    });
  }

  async #upsertSlice(writes: DocumentWrite[], version: number): Promise<UpsertResult[]> {
    const states = await this.#documentStates(writes.map((w) => w.document.id));
    // Same content hash: the chunks decide whether anything changed (a re-chunk with another
    // tokenizer, say). One query fetches the live chunks of every such document.
    const sameHash = writes.filter(
      ({ document }) => states.get(document.id)?.current?.contentHash === document.contentHash,
    );
    const liveChunks = await this.#liveChunkKeys(sameHash.map((w) => w.document.id));
    const unchanged = new Set(
      sameHash
        .filter(({ document, chunks }) => sameChunks(liveChunks.get(document.id) ?? [], chunks))
        .map((w) => w.document.id),
    );
    const changed = writes.filter((w) => !unchanged.has(w.document.id));
    const gen = Math.max(0, ...changed.map((w) => states.get(w.document.id)?.maxGen ?? 0)) + 1;
    const now = new Date().toISOString();
    const rows: EntryRow[] = [];
    for (const { document, chunks } of changed) {
      const documentRow = this.#fitted(
        entryForDocument(document, { gen, version, chunkCount: chunks.length, now }),
      );
      rows.push(documentRow);
      for (const chunk of chunks) {
        rows.push({
          ...documentRow,
          kind: 'chunk',
          chunk_id: chunk.id,
          ordinal: chunk.ordinal,
          text: chunk.text,
          heading_path: JSON.stringify(chunk.headingPath),
          page: chunk.page ?? null,
          token_count: chunk.tokenCount,
          chunk_hash: sha256(chunk.text),
          vector: Array.from(chunk.vector),
        });
      }
    }
    if (changed.length > 0) {
      const changedIds = changed.map((w) => w.document.id);
      await this.#tables.entries.add(rows);
      await this.#options.afterRowsWritten?.(changedIds);
      await this.#flip(changedIds, gen);
    }
    return writes.map(({ document }): UpsertResult => {
      const current = states.get(document.id)?.current;
      if (unchanged.has(document.id)) return { status: 'unchanged', version: current!.version };
      return { status: current === undefined ? 'added' : 'changed', version };
    });
  }

  async #deleteSlice(ids: string[], version: number): Promise<boolean[]> {
    const states = await this.#documentStates(ids);
    const results = new Map<string, boolean>();
    const doomed: string[] = [];
    for (const id of ids) {
      // Asked twice in one call: the second finds it already gone, as two calls would.
      if (results.has(id) || states.get(id)?.current === undefined) continue;
      results.set(id, true);
      doomed.push(id);
    }
    if (doomed.length > 0) {
      const gen = Math.max(...doomed.map((id) => states.get(id)?.maxGen ?? 0)) + 1;
      const now = new Date().toISOString();
      // Tombstone states, so documentAt can tell "deleted at version v" from "never existed".
      const tombstones = doomed.map(
        (id): EntryRow => ({
          ...this.#fitted(
            entryForDocument(
              {
                id,
                source: '',
                title: '',
                metadata: {},
                acl: { public: false, users: [], groups: [] },
                contentHash: '',
              },
              { gen, version, chunkCount: 0, now },
            ),
          ),
          deleted: true,
        }),
      );
      await this.#tables.entries.add(tombstones);
      await this.#options.afterRowsWritten?.(doomed);
      await this.#flip(doomed, gen);
    }
    const seen = new Set<string>();
    return ids.map((id) => {
      const first = !seen.has(id);
      seen.add(id);
      return first && results.get(id) === true;
    });
  }

  /** Per document: the highest generation ever written (abandoned ones too) and the live state, if any. */
  async #documentStates(
    ids: string[],
  ): Promise<Map<string, { maxGen: number; current?: { contentHash: string; version: number } }>> {
    const states = new Map<string, { maxGen: number; current?: { contentHash: string; version: number } }>();
    if (ids.length === 0) return states;
    const rows = await this.#tables.entries
      .query()
      .where(`kind = 'document' AND doc_id IN (${[...new Set(ids)].map(sqlString).join(', ')})`)
      .select(['doc_id', 'gen', 'live', 'deleted', 'content_hash', 'version'])
      .toArray();
    for (const row of rows) {
      const id = String(row.doc_id);
      const state = states.get(id) ?? { maxGen: 0 };
      state.maxGen = Math.max(state.maxGen, Number(row.gen));
      if (row.live === true && row.deleted === false) {
        state.current = { contentHash: String(row.content_hash), version: Number(row.version) };
      }
      states.set(id, state);
    }
    return states;
  }

  async #liveChunkKeys(ids: string[]): Promise<Map<string, Row[]>> {
    const byDoc = new Map<string, Row[]>();
    if (ids.length === 0) return byDoc;
    const rows = await this.#tables.entries
      .query()
      .where(and(LIVE_CHUNKS, `doc_id IN (${ids.map(sqlString).join(', ')})`))
      .select(['doc_id', 'chunk_id', 'ordinal', 'chunk_hash'])
      .toArray();
    for (const row of rows) {
      const list = byDoc.get(String(row.doc_id)) ?? [];
      list.push(row);
      byDoc.set(String(row.doc_id), list);
    }
    return byDoc;
  }

  async getDocument(id: string, principal: Principal): Promise<StoredDocument | undefined> {
    this.#assertOpen();
    const rows = await this.#tables.entries
      .query()
      .where(and(LIVE_DOCUMENTS, `doc_id = ${sqlString(id)}`, this.#aclWhere(principal)))
      .select(DOCUMENT_COLUMNS)
      .limit(1)
      .toArray();
    return rows[0] === undefined ? undefined : toStoredDocument(rows[0]);
  }

  async listDocuments(principal: Principal, options: ListOptions = {}): Promise<StoredDocument[]> {
    this.#assertOpen();
    const offset = options.offset ?? 0;
    const limit = options.limit ?? Number.POSITIVE_INFINITY;
    // LanceDB has no ORDER BY and rewrites rows on update, so a stable page order is made here;
    // document rows are one per document and small (no text, no vector).
    const rows = await this.#tables.entries
      .query()
      .where(and(LIVE_DOCUMENTS, this.#aclWhere(principal)))
      .select(DOCUMENT_COLUMNS)
      .toArray();
    return rows
      .map(toStoredDocument)
      .sort((a, b) => compare(a.id, b.id))
      .slice(offset, offset + limit);
  }

  async getChunks(docId: string, principal: Principal): Promise<StoredChunk[]> {
    this.#assertOpen();
    const rows = await this.#tables.entries
      .query()
      .where(and(LIVE_CHUNKS, `doc_id = ${sqlString(docId)}`, this.#aclWhere(principal)))
      .select(CHUNK_COLUMNS)
      .toArray();
    return rows.map(toStoredChunk).sort((a, b) => a.ordinal - b.ordinal);
  }

  async chunkVectors(docId: string): Promise<Map<number, Float32Array>> {
    this.#assertOpen();
    const rows = await this.#tables.entries
      .query()
      .where(and(LIVE_CHUNKS, `doc_id = ${sqlString(docId)}`))
      .select(['ordinal', 'vector'])
      .toArray();
    return new Map(
      rows.map((row) => [Number(row.ordinal), Float32Array.from(row.vector as Iterable<number>)] as const),
    );
  }

  async denseSearch(vector: readonly number[] | Float32Array, options: SearchOptions): Promise<SearchHit[]> {
    this.#assertOpen();
    if (vector.length !== this.#embedding.dimensions) {
      throw new StoreError(
        `Query vector has ${vector.length} dimensions; this store holds ${this.#embedding.dimensions}-d vectors of ${this.#embedding.modelId}.`,
      );
    }
    if (options.k <= 0) return [];
    const rows = await this.#tables.entries
      .query()
      .nearestTo(Array.from(vector))
      .distanceType('cosine')
      .nprobes(this.#options.ann?.nprobes ?? ANN_NPROBES)
      .refineFactor(this.#options.ann?.refineFactor ?? ANN_REFINE_FACTOR)
      .where(and(LIVE_CHUNKS, this.#aclWhere(options.principal), filterWhere(options.filter)))
      .select([...HIT_COLUMNS, '_distance'])
      .limit(options.k)
      .toArray();
    return rows.map((row, index) => toHit(row, 1 - Number(row._distance), index));
  }

  async textSearch(query: string, options: SearchOptions): Promise<SearchHit[]> {
    this.#assertOpen();
    if (query.trim() === '' || options.k <= 0) return [];
    const rows = await this.#tables.entries
      .query()
      .fullTextSearch(query, { columns: 'text' })
      .where(and(LIVE_CHUNKS, this.#aclWhere(options.principal), filterWhere(options.filter)))
      .select([...HIT_COLUMNS, '_score'])
      .limit(options.k)
      .toArray();
    return rows.map((row, index) => toHit(row, Number(row._score), index));
  }

  async commitVersion(summary: VersionSummary, note?: string): Promise<KbVersion> {
    for (const [key, value] of Object.entries(summary)) {
      if (!Number.isInteger(value) || value < 0) {
        throw new InvalidWriteError(
          `Version summary field ${key} must be a non-negative integer, got ${value}.`,
        );
      }
    }
    return this.#write(async () => {
      const number = await this.nextVersion();
      const version: KbVersion = { number, createdAt: new Date().toISOString(), summary: { ...summary } };
      if (note !== undefined) version.note = note;
      await this.#tables.versions.add([
        {
          number,
          created_at: version.createdAt,
          added: summary.added,
          changed: summary.changed,
          removed: summary.removed,
          failed: summary.failed,
          chunks_embedded: summary.chunksEmbedded,
          note: note ?? null,
        },
      ]);
      return version;
    });
  }

  async listVersions(): Promise<KbVersion[]> {
    this.#assertOpen();
    const rows = await this.#tables.versions.query().toArray();
    const recorded = rows.map(toKbVersion).sort((a, b) => a.number - b.number);
    // What readers already see is listed even before its writer records it: a version-keyed
    // cache must expire the moment a document changes, not when the next writer comes along.
    return [...recorded, ...(await this.#unrecordedVersions())];
  }

  async currentVersion(): Promise<KbVersion | undefined> {
    return (await this.listVersions()).at(-1);
  }

  async documentAt(id: string, version: number, principal: Principal): Promise<DocumentSnapshot | undefined> {
    this.#assertOpen();
    const historyFrom = await this.#historyFrom();
    if (version < historyFrom) throw new VersionPrunedError(version, historyFrom);
    const docId = `doc_id = ${sqlString(id)}`;
    const states = await this.#tables.entries
      .query()
      .where(`kind = 'document' AND published = true AND ${docId} AND version <= ${Math.floor(version)}`)
      .select(['gen', 'deleted'])
      .toArray();
    const then = states.reduce<(typeof states)[number] | undefined>(
      (latest, row) => (latest === undefined || Number(row.gen) > Number(latest.gen) ? row : latest),
      undefined,
    );
    if (then === undefined || then.deleted === true) return undefined;
    const acl = this.#aclWhere(principal);
    const atGen = `${docId} AND gen = ${Number(then.gen)}`;
    const [documentRows, chunkRows, liveNow, readableNow] = await Promise.all([
      this.#tables.entries
        .query()
        .where(and(`kind = 'document'`, atGen, acl))
        .select(DOCUMENT_COLUMNS)
        .toArray(),
      this.#tables.entries
        .query()
        .where(and(`kind = 'chunk'`, atGen, acl))
        .select(CHUNK_COLUMNS)
        .toArray(),
      this.#tables.entries.countRows(and(LIVE_DOCUMENTS, docId)),
      this.#tables.entries.countRows(and(LIVE_DOCUMENTS, docId, acl)),
    ]);
    // Revoking access to a document also revokes access to its history.
    if (documentRows[0] === undefined || (liveNow > 0 && readableNow === 0)) return undefined;
    return {
      document: toStoredDocument(documentRows[0]),
      chunks: chunkRows.map(toStoredChunk).sort((a, b) => a.ordinal - b.ordinal),
    };
  }

  async documentsChangedAt(version: number): Promise<string[]> {
    this.#assertOpen();
    const rows = await this.#tables.entries
      .query()
      .where(`kind = 'document' AND published = true AND version = ${Math.floor(version)}`)
      .select(['doc_id'])
      .toArray();
    return [...new Set(rows.map((row) => String(row.doc_id)))].sort();
  }

  async optimize(options: OptimizeOptions = {}): Promise<OptimizeResult> {
    return this.#write(async () => {
      const entries = this.#tables.entries;
      let prunedRows = await countAndDelete(entries, 'published = false');
      let historyFrom = await this.#historyFrom();
      if (options.retainVersions !== undefined) {
        if (!Number.isInteger(options.retainVersions) || options.retainVersions < 1) {
          throw new StoreError(`retainVersions must be a positive integer, got ${options.retainVersions}.`);
        }
        const current = (await this.nextVersion()) - 1;
        const cutoff = Math.max(historyFrom, current - options.retainVersions + 1);
        prunedRows += await this.#pruneHistory(cutoff);
        if (cutoff > historyFrom) {
          await this.#tables.meta.update({
            where: "key = 'history_from'",
            values: { value: String(cutoff) },
          });
          historyFrom = cutoff;
        }
      }
      const olderThan = new Date(Date.now() - (this.#options.cleanupOlderThanMs ?? 10 * 60_000));
      for (const table of [entries, this.#tables.versions, this.#tables.meta]) {
        await table.optimize({ cleanupOlderThan: olderThan });
      }
      const indices = await entries.listIndices();
      if (!indices.some((index) => index.columns.includes('doc_id'))) {
        await entries.createIndex('doc_id', { config: lancedb.Index.btree() });
      }
      // Every search filters on these: without an index the filter reads the column of every row
      // before the vector search starts (at 100k chunks about half of a dense query's time, and
      // most of it for a reader with an ACL; bench/results/store-filter.json).
      const scalar: [string, lancedb.Index][] = [
        ['kind', lancedb.Index.bitmap()],
        ['live', lancedb.Index.bitmap()],
        ['acl_public', lancedb.Index.bitmap()],
        ...(this.#aclList ? ([['acl_list', lancedb.Index.labelList()]] as [string, lancedb.Index][]) : []),
      ];
      for (const [column, config] of scalar)
        if (!indices.some((index) => index.columns.includes(column)))
          await entries.createIndex(column, { config });
      const vectorRows = await entries.countRows("kind = 'chunk'");
      const vectorIndex = indices.find((index) => index.columns.includes('vector'));
      let denseIndex: OptimizeResult['denseIndex'] = vectorIndex === undefined ? 'exact' : 'ann';
      if (vectorRows >= (this.#options.annThresholdRows ?? DEFAULT_ANN_THRESHOLD)) {
        const indexed = vectorIndex ? ((await entries.indexStats(vectorIndex.name))?.numIndexedRows ?? 0) : 0;
        // optimize() folds new rows into the existing partitions; once the data has doubled
        // those partitions no longer fit it, so the index is trained afresh.
        if (indexed * 2 < vectorRows) {
          await entries.createIndex('vector', {
            replace: true,
            config: lancedb.Index.hnswSq({
              distanceType: 'cosine',
              numPartitions: Math.max(1, Math.round(vectorRows / 50_000)),
            }),
          });
        }
        denseIndex = 'ann';
      }
      return { denseIndex, prunedRows, historyFrom };
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#writeQueue.catch(() => {});
    this.#closed = true;
    await this.#lock.release();
    for (const table of Object.values(this.#tables)) table.close();
    this.#db.close();
  }

  // The commit point: one statement, hence one LanceDB commit, that hides every row of the
  // previous states of these documents and shows every row of their new state (generation
  // `gen`). Rows of earlier states (already hidden) and of abandoned writes are not touched:
  // `gen` is above every generation these documents ever had, abandoned ones included.
  async #flip(docIds: string[], gen: number): Promise<void> {
    await this.#tables.entries.update({
      where: `doc_id IN (${docIds.map(sqlString).join(', ')}) AND (live = true OR gen = ${gen})`,
      valuesSql: { live: `gen = ${gen}`, published: 'true' },
    });
  }

  async #write<T>(operation: () => Promise<T>): Promise<T> {
    this.#assertOpen();
    const run = this.#writeQueue.then(async () => {
      this.#assertOpen();
      await this.#lock.acquire({ timeoutMs: this.#options.lockTimeoutMs ?? 10_000 });
      return operation();
    });
    this.#writeQueue = run.catch(() => {});
    return run;
  }

  async #checkVersion(version: number): Promise<void> {
    const next = await this.nextVersion();
    if (version !== next) {
      throw new InvalidWriteError(
        `Writes must be tagged with the pending version ${next}, got ${version}.`,
        'Call nextVersion() before writing and commitVersion() after; versions cannot be rewritten.',
      );
    }
  }

  async #historyFrom(): Promise<number> {
    const rows = await this.#tables.meta.query().where("key = 'history_from'").toArray();
    return Number(rows[0]?.value ?? 1);
  }

  // A state can go once a later state of the same document was published at or before the
  // cutoff: from the cutoff on, documentAt never picks it. A tombstone at or before the cutoff
  // with nothing after it goes too (documentAt answers "absent" either way).
  async #pruneHistory(cutoff: number): Promise<number> {
    const rows = await this.#tables.entries
      .query()
      .where("kind = 'document' AND published = true")
      .select(['doc_id', 'gen', 'version', 'deleted'])
      .toArray();
    const byDoc = new Map<string, { gen: number; version: number; deleted: boolean }[]>();
    for (const row of rows) {
      const states = byDoc.get(String(row.doc_id)) ?? [];
      states.push({ gen: Number(row.gen), version: Number(row.version), deleted: row.deleted === true });
      byDoc.set(String(row.doc_id), states);
    }
    const clauses: string[] = [];
    for (const [docId, states] of byDoc) {
      states.sort((a, b) => a.gen - b.gen);
      const prunable = states.filter((state, index) => {
        const next = states[index + 1];
        return next === undefined ? state.deleted && state.version <= cutoff : next.version <= cutoff;
      });
      if (prunable.length > 0) {
        clauses.push(`(doc_id = ${sqlString(docId)} AND gen IN (${prunable.map((s) => s.gen).join(', ')}))`);
      }
    }
    let pruned = 0;
    for (let start = 0; start < clauses.length; start += 200) {
      pruned += await countAndDelete(this.#tables.entries, clauses.slice(start, start + 200).join(' OR '));
    }
    return pruned;
  }

  #assertOpen(): void {
    if (this.#closed) throw new StoreClosedError();
  }
}

async function countAndDelete(table: lancedb.Table, where: string): Promise<number> {
  const count = await table.countRows(where);
  if (count > 0) await table.delete(where);
  return count;
}

function validateDocument(document: Document, chunks: EmbeddedChunk[], dimensions: number): void {
  const ordinals = new Set<number>();
  for (const chunk of chunks) {
    if (chunk.docId !== document.id) {
      throw new InvalidWriteError(
        `Chunk ${chunk.id} belongs to document ${chunk.docId}, not ${document.id}.`,
      );
    }
    if (chunk.vector.length !== dimensions) {
      throw new InvalidWriteError(
        `Chunk ${chunk.id} of ${document.id} has a ${chunk.vector.length}-d vector; the store holds ${dimensions}-d vectors.`,
      );
    }
    if (!Array.from(chunk.vector).every(Number.isFinite)) {
      throw new InvalidWriteError(
        `Chunk ${chunk.id} of ${document.id} has a vector with NaN or infinite values.`,
      );
    }
    if (ordinals.has(chunk.ordinal)) {
      throw new InvalidWriteError(`Document ${document.id} has two chunks with ordinal ${chunk.ordinal}.`);
    }
    ordinals.add(chunk.ordinal);
  }
}

function sameChunks(stored: Row[], chunks: EmbeddedChunk[]): boolean {
  if (stored.length !== chunks.length) return false;
  const byOrdinal = new Map(stored.map((row) => [Number(row.ordinal), row]));
  return chunks.every((chunk) => {
    const row = byOrdinal.get(chunk.ordinal);
    return row !== undefined && row.chunk_id === chunk.id && row.chunk_hash === sha256(chunk.text);
  });
}

function entryForDocument(
  document: Pick<Document, 'id' | 'source' | 'title' | 'metadata' | 'acl' | 'contentHash'>,
  state: { gen: number; version: number; chunkCount: number; now: string },
): EntryRow {
  return {
    kind: 'document',
    doc_id: document.id,
    gen: state.gen,
    live: false,
    published: false,
    deleted: false,
    version: state.version,
    source: document.source,
    title: document.title,
    metadata: JSON.stringify(document.metadata),
    meta_pairs: metadataPairs(document.metadata),
    acl: JSON.stringify(document.acl),
    acl_public: document.acl.public,
    acl_principals: aclPrincipals(document.acl),
    acl_list: aclList(document.acl),
    content_hash: document.contentHash,
    chunk_count: state.chunkCount,
    updated_at: state.now,
    chunk_id: '',
    ordinal: -1,
    text: '',
    heading_path: '[]',
    page: null,
    token_count: 0,
    chunk_hash: '',
    vector: null,
  };
}

type Row = Record<string, unknown>;

function toStoredDocument(row: Row): StoredDocument {
  return {
    id: String(row.doc_id),
    source: String(row.source),
    title: String(row.title),
    metadata: JSON.parse(String(row.metadata)) as Record<string, MetadataValue>,
    acl: JSON.parse(String(row.acl)) as Acl,
    contentHash: String(row.content_hash),
    version: Number(row.version),
    chunkCount: Number(row.chunk_count),
    updatedAt: String(row.updated_at),
  };
}

function toStoredChunk(row: Row): StoredChunk {
  const chunk: StoredChunk = {
    id: String(row.chunk_id),
    docId: String(row.doc_id),
    ordinal: Number(row.ordinal),
    text: String(row.text),
    headingPath: JSON.parse(String(row.heading_path)) as string[],
    tokenCount: Number(row.token_count),
    version: Number(row.version),
    contentHash: String(row.chunk_hash),
  };
  if (row.page !== null && row.page !== undefined) chunk.page = Number(row.page);
  return chunk;
}

function toHit(row: Row, score: number, index: number): SearchHit {
  return {
    chunk: toStoredChunk(row),
    document: {
      id: String(row.doc_id),
      source: String(row.source),
      title: String(row.title),
      metadata: JSON.parse(String(row.metadata)) as Record<string, MetadataValue>,
      version: Number(row.version),
    },
    score,
    rank: index + 1,
  };
}

function toKbVersion(row: Row): KbVersion {
  const version: KbVersion = {
    number: Number(row.number),
    createdAt: String(row.created_at),
    summary: {
      added: Number(row.added),
      changed: Number(row.changed),
      removed: Number(row.removed),
      failed: Number(row.failed),
      chunksEmbedded: Number(row.chunks_embedded),
    },
  };
  if (row.note !== null && row.note !== undefined) version.note = String(row.note);
  return version;
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
