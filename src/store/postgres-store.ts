/**
 * The KnowledgeStore on PostgreSQL + pgvector: for several Attune processes or machines sharing one
 * knowledge base, in a database the organisation already runs, backs up and replicates.
 *
 * Tables live in one schema (default `attune`), created by versioned migrations on open. The live
 * state of each document is one `documents` row and its `chunks` rows (vector with an HNSW index
 * once `optimize` finds enough rows,
 * generated tsvector with a GIN index, the document's ACL and metadata copied in and indexed);
 * every published state is a `document_states` row and superseded chunks move to `chunk_history`.
 * A batch write is one transaction: readers see each document (indeed the whole batch) old or new,
 * and a writer that dies or loses its connection mid-write leaves nothing behind, since PostgreSQL
 * rolls the transaction back.
 *
 * Writers take a session-level advisory lock on a dedicated connection, held from the first write
 * (or `beginWrite`) until `endWrite`/`close`, like the LanceDB store's lock file; the server drops
 * it when the process dies, so a killed writer never leaves a stale lock.
 */
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import pgvector from 'pgvector';
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
import { applyMigrations, MIGRATION_LOCK_KEY, pendingMigrations } from './postgres-migrations.ts';
import { aclSql, filterSql, Params, queryTerms, readerNames, textQuerySql } from './postgres-sql.ts';
import type { Principal } from './principal.ts';
import {
  EmbeddingMismatchError,
  InvalidWriteError,
  type LockHolder,
  StoreClosedError,
  StoreError,
  StoreLockedError,
  StoreNotFoundError,
  VersionPrunedError,
} from './store-error.ts';

export type PostgresStoreOptions = {
  /** postgres://user:password@host:5432/database */
  url: string;
  /** The PostgreSQL schema holding the store's tables. Default `attune`. */
  schema?: string;
  /** Required to create a store; when opening one, must match what it was created with. */
  embedding?: EmbeddingModelInfo;
  /** `auto` (default): apply pending migrations on open. `never`: refuse to open if any are pending. */
  migrate?: 'auto' | 'never';
  /** Pool size for reads; writes use one more, dedicated connection. Default 8. */
  maxConnections?: number;
  /** How long a writer waits for another process's write lock. Default 10 s. */
  lockTimeoutMs?: number;
  /**
   * Dense search is exact (a scan) below this many chunks; `optimize` builds the HNSW index above,
   * and PostgreSQL maintains it on every write from then on. Default 5000.
   */
  annThresholdRows?: number;
  /** HNSW graph degree and build candidate list (pgvector's `m`, `ef_construction`). Default 16, 64. */
  hnsw?: { m?: number; efConstruction?: number };
  /**
   * HNSW candidate list per query (pgvector's `hnsw.ef_search`). Default 200: the smallest setting
   * of the sweep in bench/results/store-postgres.json reaching recall@10 ≥ 0.95 at 100k chunks.
   */
  efSearch?: number;
  /** For crash tests: runs inside a write's transaction, after its rows are written, before COMMIT. */
  afterRowsWritten?: (docIds: string[]) => void | Promise<void>;
};

const DEFAULT_SCHEMA = 'attune';
const DEFAULT_EF_SEARCH = 200;
const DEFAULT_ANN_THRESHOLD = 5000;
// Text search leaves out words in more than this share of chunks first, on tables this large.
const COMMON_TERM_SHARE = 0.2;
const LARGE_TABLE_ROWS = 10_000;
// Keeps each statement's parameter arrays and the transaction's lock set bounded.
const MAX_BATCH_DOCUMENTS = 500;
const WRITE_LOCK_CLASS = 0x41_54_57_52; // "ATWR"
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

const CHUNK_COLUMNS =
  'doc_id, ordinal, gen, version, chunk_id, text, heading_path, page, token_count, chunk_hash';
const DOCUMENT_COLUMNS =
  'doc_id, gen, version, source, title, metadata, acl, content_hash, chunk_count, updated_at';
const HIT_COLUMNS = `${CHUNK_COLUMNS}, source, title, metadata`;

/** Opens (creating and migrating when needed) the store in `options.schema` of the database at `options.url`. */
export async function openPostgresStore(options: PostgresStoreOptions): Promise<PostgresKnowledgeStore> {
  const schema = options.schema ?? DEFAULT_SCHEMA;
  if (!SCHEMA_NAME.test(schema)) {
    throw new StoreError(`Schema name "${schema}" is not a plain lower-case SQL identifier.`, {
      hint: 'Use letters, digits and underscores, starting with a letter or underscore.',
    });
  }
  if (options.embedding !== undefined) validateEmbedding(options.embedding);
  const where = describeUrl(options.url, schema);
  const bootstrap = new pg.Client({ connectionString: options.url, application_name: 'attune-migrate' });
  bootstrap.on('error', () => {});
  try {
    await bootstrap.connect();
  } catch (error) {
    throw new StoreError(`Cannot connect to PostgreSQL at ${where}: ${(error as Error).message}`, {
      hint: 'Check the store URL (ATTUNE_STORE_URL or store.url), that the server runs, and the credentials.',
      cause: error,
    });
  }
  let extensionSchema: string;
  let embedding: EmbeddingModelInfo;
  try {
    const exists = await tableExists(bootstrap, schema, 'meta');
    if (!exists && options.embedding === undefined) {
      throw new StoreNotFoundError(where);
    }
    await bootstrap.query('BEGIN');
    try {
      await bootstrap.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
      await bootstrap.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
      await bootstrap.query('SET LOCAL search_path = public');
      await bootstrap.query('CREATE EXTENSION IF NOT EXISTS vector');
      extensionSchema = (
        await bootstrap.query<{ nspname: string }>(
          "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'vector'",
        )
      ).rows[0]!.nspname;
      await bootstrap.query(`SET LOCAL search_path = ${schema}, ${pg.escapeIdentifier(extensionSchema)}`);
      const stored = await readMeta(bootstrap as pg.PoolClient);
      const dimensions = stored.get('dimensions') ?? String(options.embedding?.dimensions ?? 0);
      const pending = await pendingMigrations(bootstrap as pg.PoolClient);
      if (pending.length > 0 && options.migrate === 'never' && stored.size > 0) {
        throw new StoreError(
          `The knowledge store at ${where} needs schema migrations ${pending.join(', ')}.`,
          { hint: 'Run: attune store migrate' },
        );
      }
      await applyMigrations(bootstrap as pg.PoolClient, Number(dimensions));
      if (stored.size === 0) {
        await bootstrap.query(
          `INSERT INTO meta (key, value) VALUES ('embedding_model_id', $1), ('dimensions', $2), ('history_from', '1')
           ON CONFLICT (key) DO NOTHING`,
          [options.embedding!.modelId, String(options.embedding!.dimensions)],
        );
      }
      const settings = await readMeta(bootstrap as pg.PoolClient);
      embedding = {
        modelId: settings.get('embedding_model_id') ?? '',
        dimensions: Number(settings.get('dimensions')),
      };
      await bootstrap.query('COMMIT');
    } catch (error) {
      await bootstrap.query('ROLLBACK').catch(() => {});
      throw error;
    }
  } finally {
    await bootstrap.end().catch(() => {});
  }
  if (
    options.embedding !== undefined &&
    (options.embedding.modelId !== embedding.modelId || options.embedding.dimensions !== embedding.dimensions)
  ) {
    throw new EmbeddingMismatchError(
      where,
      `${embedding.modelId} (${embedding.dimensions}-d)`,
      `${options.embedding.modelId} (${options.embedding.dimensions}-d)`,
    );
  }
  return new PostgresKnowledgeStore(options, schema, extensionSchema, embedding, where);
}

/** Applies pending migrations without opening a store; what `attune store migrate` runs. */
export async function migratePostgresStore(
  options: Pick<PostgresStoreOptions, 'url' | 'schema'>,
): Promise<{ applied: number[]; pending: number[] }> {
  const schema = options.schema ?? DEFAULT_SCHEMA;
  const client = new pg.Client({ connectionString: options.url, application_name: 'attune-migrate' });
  client.on('error', () => {});
  await client.connect();
  try {
    if (!(await tableExists(client, schema, 'meta'))) {
      throw new StoreError(`There is no knowledge store at ${describeUrl(options.url, schema)} to migrate.`, {
        hint: 'A store is created (and migrated) by its first ingest.',
      });
    }
    await client.query('BEGIN');
    try {
      await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
      const ext = await client.query<{ nspname: string }>(
        "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'vector'",
      );
      await client.query(`SET LOCAL search_path = ${schema}, ${pg.escapeIdentifier(ext.rows[0]!.nspname)}`);
      const meta = await readMeta(client as pg.PoolClient);
      const applied = await applyMigrations(client as pg.PoolClient, Number(meta.get('dimensions')));
      await client.query('COMMIT');
      return { applied, pending: [] };
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    }
  } finally {
    await client.end().catch(() => {});
  }
}

async function tableExists(client: pg.Client, schema: string, table: string): Promise<boolean> {
  const result = await client.query('SELECT to_regclass($1) IS NOT NULL AS ok', [`${schema}.${table}`]);
  return result.rows[0]?.ok === true;
}

async function readMeta(client: pg.PoolClient): Promise<Map<string, string>> {
  const exists = await client.query("SELECT to_regclass('meta') IS NOT NULL AS ok");
  if (!exists.rows[0]?.ok) return new Map();
  const rows = await client.query<{ key: string; value: string }>('SELECT key, value FROM meta');
  return new Map(rows.rows.map((r) => [r.key, r.value]));
}

/** A connection URL without its password, for messages; undefined when it does not parse. */
export function redactUrl(url: string): string | undefined {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return undefined;
  }
}

function describeUrl(url: string, schema: string): string {
  const shown = redactUrl(url);
  return shown ? `${shown} (schema ${schema})` : `a PostgreSQL URL that does not parse (schema ${schema})`;
}

function validateEmbedding(embedding: EmbeddingModelInfo): void {
  if (!Number.isInteger(embedding.dimensions) || embedding.dimensions <= 0) {
    throw new StoreError(`Embedding dimensions must be a positive integer, got ${embedding.dimensions}.`);
  }
}

type Row = Record<string, unknown>;

export class PostgresKnowledgeStore implements KnowledgeStore {
  readonly specificationVersion = 'v1' as const;
  readonly provider = 'postgres';
  readonly schema: string;
  /** The URL without password, plus the schema: for messages and `attune status`. */
  readonly location: string;
  readonly #options: PostgresStoreOptions;
  readonly #pool: pg.Pool;
  readonly #embedding: EmbeddingModelInfo;
  readonly #lockKey: number;
  readonly #searchPath: string;
  #writer: pg.Client | undefined;
  #lockHeld = false;
  // Writes from this process run one at a time; the advisory lock keeps other processes out.
  #writeQueue: Promise<unknown> = Promise.resolve();
  #closed = false;

  constructor(
    options: PostgresStoreOptions,
    schema: string,
    extensionSchema: string,
    embedding: EmbeddingModelInfo,
    location: string,
  ) {
    this.#options = options;
    this.schema = schema;
    this.location = location;
    this.#embedding = embedding;
    this.#searchPath = `${schema},${extensionSchema}`;
    this.#lockKey = Number.parseInt(createHash('sha256').update(schema).digest('hex').slice(0, 7), 16);
    this.#pool = new pg.Pool({
      connectionString: options.url,
      max: options.maxConnections ?? 8,
      idleTimeoutMillis: 30_000,
      connectionTimeoutMillis: 15_000,
      application_name: 'attune',
      options: this.#connectionOptions(),
    });
    // An idle connection the server closed (restart, failover) must not crash the process.
    this.#pool.on('error', () => {});
  }

  #connectionOptions(): string {
    const ef = this.#options.efSearch ?? DEFAULT_EF_SEARCH;
    return `-c search_path=${this.#searchPath} -c hnsw.ef_search=${ef}`;
  }

  async embeddingModel(): Promise<EmbeddingModelInfo> {
    return { ...this.#embedding };
  }

  async nextVersion(): Promise<number> {
    this.#assertOpen();
    return nextVersionOn(this.#pool);
  }

  async beginWrite(): Promise<number> {
    return this.#write(async (client) => {
      await this.#recordUnrecordedVersions(client);
      return nextVersionOn(client);
    });
  }

  /**
   * A writer killed after its transactions committed but before `commitVersion` leaves document
   * states above the last recorded version; the next writer (it holds the lock, so the crashed one
   * is gone) records them, counted from the states, before it does anything else.
   */
  async #recordUnrecordedVersions(client: pg.Client): Promise<void> {
    await transaction(client, async () => {
      const recorded = (await nextVersionOn(client)) - 1;
      const rows = await client.query(
        `SELECT version,
                count(*) FILTER (WHERE NOT deleted) AS changed,
                count(*) FILTER (WHERE deleted) AS removed,
                coalesce(sum(chunk_count) FILTER (WHERE NOT deleted), 0) AS chunks
           FROM document_states WHERE version > $1 GROUP BY version ORDER BY version`,
        [recorded],
      );
      for (const row of rows.rows) {
        const number = Number(row.version);
        await client.query(
          `INSERT INTO versions (number, created_at, added, changed, removed, failed, chunks_embedded, note)
           VALUES ($1, now(), 0, $2, $3, 0, $4, $5)`,
          [
            number,
            Number(row.changed),
            Number(row.removed),
            Number(row.chunks),
            `recovered: a write at version ${number} went live but its writer stopped before recording it`,
          ],
        );
      }
    });
  }

  async endWrite(): Promise<void> {
    const queue = this.#writeQueue;
    this.#writeQueue = queue.then(() => this.#releaseLock());
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
    return this.#write(async (client) => {
      const results: UpsertResult[] = [];
      for (let start = 0; start < writes.length || start === 0; start += MAX_BATCH_DOCUMENTS) {
        const slice = writes.slice(start, start + MAX_BATCH_DOCUMENTS);
        results.push(
          ...(await transaction(client, async () => {
            await checkVersion(client, version);
            return this.#upsertSlice(client, slice, version);
          })),
        );
        if (writes.length === 0) break;
      }
      return results;
    });
  }

  async deleteDocuments(ids: string[], version: number): Promise<boolean[]> {
    return this.#write(async (client) => {
      const results: boolean[] = [];
      for (let start = 0; start < ids.length || start === 0; start += MAX_BATCH_DOCUMENTS) {
        const slice = ids.slice(start, start + MAX_BATCH_DOCUMENTS);
        results.push(
          ...(await transaction(client, async () => {
            await checkVersion(client, version);
            return this.#deleteSlice(client, slice, version);
          })),
        );
        if (ids.length === 0) break;
      }
      return results;
    });
  }

  async #upsertSlice(client: pg.Client, writes: DocumentWrite[], version: number): Promise<UpsertResult[]> {
    if (writes.length === 0) return [];
    const ids = writes.map((w) => w.document.id);
    const states = await documentStates(client, ids);
    const sameHash = writes
      .filter(({ document }) => states.get(document.id)?.current?.contentHash === document.contentHash)
      .map((w) => w.document.id);
    const liveChunks = new Map<string, Row[]>();
    if (sameHash.length > 0) {
      const rows = await client.query(
        'SELECT doc_id, ordinal, chunk_id, chunk_hash FROM chunks WHERE doc_id = ANY($1::text[])',
        [sameHash],
      );
      for (const row of rows.rows) {
        const list = liveChunks.get(row.doc_id) ?? [];
        list.push(row);
        liveChunks.set(row.doc_id, list);
      }
    }
    const unchanged = new Set(
      writes
        .filter(
          ({ document, chunks }) =>
            sameHash.includes(document.id) && sameChunks(liveChunks.get(document.id) ?? [], chunks),
        )
        .map((w) => w.document.id),
    );
    const changed = writes.filter((w) => !unchanged.has(w.document.id));
    if (changed.length > 0) {
      const changedIds = changed.map((w) => w.document.id);
      await retireLiveChunks(client, changedIds);
      const now = new Date().toISOString();
      const stateRows = changed.map(({ document, chunks }) => ({
        doc_id: document.id,
        gen: (states.get(document.id)?.maxGen ?? 0) + 1,
        version,
        source: document.source,
        title: document.title,
        metadata: document.metadata,
        acl: document.acl,
        acl_public: document.acl.public,
        readers: readerNames(document.acl),
        content_hash: document.contentHash,
        chunk_count: chunks.length,
        updated_at: now,
      }));
      await client.query(
        `INSERT INTO document_states (doc_id, gen, version, deleted, source, title, metadata, acl, acl_public,
                                      readers, content_hash, chunk_count, updated_at)
         SELECT doc_id, gen, version, false, source, title, metadata, acl, acl_public,
                ARRAY(SELECT jsonb_array_elements_text(readers)), content_hash, chunk_count, updated_at
           FROM jsonb_to_recordset($1::jsonb) AS x(doc_id text, gen int, version int, source text, title text,
                metadata jsonb, acl jsonb, acl_public boolean, readers jsonb, content_hash text,
                chunk_count int, updated_at timestamptz)`,
        [JSON.stringify(stateRows)],
      );
      await client.query(
        `INSERT INTO documents (${DOCUMENT_COLUMNS}, acl_public, readers)
         SELECT doc_id, gen, version, source, title, metadata, acl, content_hash, chunk_count, updated_at,
                acl_public, readers
           FROM document_states WHERE (doc_id, gen) IN (SELECT * FROM unnest($1::text[], $2::int[]))
         ON CONFLICT (doc_id) DO UPDATE SET
           gen = EXCLUDED.gen, version = EXCLUDED.version, source = EXCLUDED.source, title = EXCLUDED.title,
           metadata = EXCLUDED.metadata, acl = EXCLUDED.acl, content_hash = EXCLUDED.content_hash,
           chunk_count = EXCLUDED.chunk_count, updated_at = EXCLUDED.updated_at,
           acl_public = EXCLUDED.acl_public, readers = EXCLUDED.readers`,
        [stateRows.map((r) => r.doc_id), stateRows.map((r) => r.gen)],
      );
      const columns = {
        doc_id: [] as string[],
        ordinal: [] as number[],
        chunk_id: [] as string[],
        text: [] as string[],
        heading_path: [] as string[],
        page: [] as (number | null)[],
        token_count: [] as number[],
        chunk_hash: [] as string[],
        embedding: [] as string[],
      };
      for (const { document, chunks } of changed) {
        for (const chunk of chunks) {
          columns.doc_id.push(document.id);
          columns.ordinal.push(chunk.ordinal);
          columns.chunk_id.push(chunk.id);
          columns.text.push(chunk.text);
          columns.heading_path.push(JSON.stringify(chunk.headingPath));
          columns.page.push(chunk.page ?? null);
          columns.token_count.push(chunk.tokenCount);
          columns.chunk_hash.push(sha256(chunk.text));
          columns.embedding.push(pgvector.toSql(Array.from(chunk.vector)));
        }
      }
      if (columns.doc_id.length > 0) {
        await client.query(
          `INSERT INTO chunks (doc_id, ordinal, gen, version, chunk_id, text, heading_path, page, token_count,
                               chunk_hash, source, title, metadata, acl_public, readers, embedding)
           SELECT u.doc_id, u.ordinal, d.gen, d.version, u.chunk_id, u.text, u.heading_path::jsonb, u.page,
                  u.token_count, u.chunk_hash, d.source, d.title, d.metadata, d.acl_public, d.readers,
                  u.embedding::vector
             FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::text[], $6::int[], $7::int[],
                         $8::text[], $9::text[])
                  AS u(doc_id, ordinal, chunk_id, text, heading_path, page, token_count, chunk_hash, embedding)
             JOIN documents d ON d.doc_id = u.doc_id`,
          [
            columns.doc_id,
            columns.ordinal,
            columns.chunk_id,
            columns.text,
            columns.heading_path,
            columns.page,
            columns.token_count,
            columns.chunk_hash,
            columns.embedding,
          ],
        );
      }
      await this.#options.afterRowsWritten?.(changedIds);
    }
    return writes.map(({ document }): UpsertResult => {
      const current = states.get(document.id)?.current;
      if (unchanged.has(document.id)) return { status: 'unchanged', version: current!.version };
      return { status: current === undefined ? 'added' : 'changed', version };
    });
  }

  async #deleteSlice(client: pg.Client, ids: string[], version: number): Promise<boolean[]> {
    if (ids.length === 0) return [];
    const states = await documentStates(client, ids);
    const doomed = [...new Set(ids)].filter((id) => states.get(id)?.current !== undefined);
    if (doomed.length > 0) {
      await retireLiveChunks(client, doomed);
      // Tombstone states, so documentAt can tell "deleted at version v" from "never existed".
      await client.query(
        `INSERT INTO document_states (doc_id, gen, version, deleted, source, title, metadata, acl, acl_public,
                                      readers, content_hash, chunk_count, updated_at)
         SELECT u.doc_id, u.gen, $3, true, '', '', '{}', '{"public":false,"users":[],"groups":[]}', false,
                '{}', '', 0, now()
           FROM unnest($1::text[], $2::int[]) AS u(doc_id, gen)`,
        [doomed, doomed.map((id) => (states.get(id)?.maxGen ?? 0) + 1), version],
      );
      await client.query('DELETE FROM documents WHERE doc_id = ANY($1::text[])', [doomed]);
      await this.#options.afterRowsWritten?.(doomed);
    }
    const seen = new Set<string>();
    return ids.map((id) => {
      const first = !seen.has(id);
      seen.add(id);
      return first && doomed.includes(id);
    });
  }

  async getDocument(id: string, principal: Principal): Promise<StoredDocument | undefined> {
    this.#assertOpen();
    const params = new Params();
    const rows = await this.#pool.query(
      `SELECT ${DOCUMENT_COLUMNS} FROM documents WHERE doc_id = ${params.add(id)} AND ${aclSql(principal, params)}`,
      params.values,
    );
    return rows.rows[0] === undefined ? undefined : toStoredDocument(rows.rows[0]);
  }

  async listDocuments(principal: Principal, options: ListOptions = {}): Promise<StoredDocument[]> {
    this.#assertOpen();
    const params = new Params();
    const limit = options.limit === undefined ? '' : ` LIMIT ${params.add(options.limit)}`;
    const offset = options.offset === undefined ? '' : ` OFFSET ${params.add(options.offset)}`;
    const rows = await this.#pool.query(
      `SELECT ${DOCUMENT_COLUMNS} FROM documents WHERE ${aclSql(principal, params)} ORDER BY doc_id${limit}${offset}`,
      params.values,
    );
    return rows.rows.map(toStoredDocument);
  }

  async getChunks(docId: string, principal: Principal): Promise<StoredChunk[]> {
    this.#assertOpen();
    const params = new Params();
    const rows = await this.#pool.query(
      `SELECT ${CHUNK_COLUMNS} FROM chunks WHERE doc_id = ${params.add(docId)} AND ${aclSql(principal, params)}
       ORDER BY ordinal`,
      params.values,
    );
    return rows.rows.map(toStoredChunk);
  }

  async chunkVectors(docId: string): Promise<Map<number, Float32Array>> {
    this.#assertOpen();
    const rows = await this.#pool.query(
      'SELECT ordinal, embedding::real[] AS v FROM chunks WHERE doc_id = $1',
      [docId],
    );
    return new Map(
      rows.rows.map((row) => [Number(row.ordinal), Float32Array.from(row.v as number[])] as const),
    );
  }

  /**
   * The HNSW index answers first. It filters (ACL, metadata) while it walks, so a very selective
   * filter can leave it short of `k` among its `ef_search` candidates; then the same query runs
   * exact over the rows the filter admits, so unauthorised rows never cost a reader results.
   */
  async denseSearch(vector: readonly number[] | Float32Array, options: SearchOptions): Promise<SearchHit[]> {
    this.#assertOpen();
    this.#checkQueryVector(vector);
    if (options.k <= 0) return [];
    const hits = await this.#dense(vector, options, false);
    if (hits.length >= options.k) return hits;
    return this.#dense(vector, options, true);
  }

  async #dense(
    vector: readonly number[] | Float32Array,
    options: SearchOptions,
    exact: boolean,
  ): Promise<SearchHit[]> {
    const params = new Params();
    const q = params.add(pgvector.toSql(Array.from(vector)));
    // `+ 0` is an expression the index cannot serve, which makes the planner scan exactly.
    const distance = exact ? `(embedding <=> ${q}::vector) + 0` : `embedding <=> ${q}::vector`;
    const rows = await this.#pool.query(
      `SELECT ${HIT_COLUMNS}, 1 - (embedding <=> ${q}::vector) AS score FROM chunks
        WHERE ${aclSql(options.principal, params)} AND ${filterSql(options.filter, params)}
        ORDER BY ${distance} LIMIT ${params.add(options.k)}`,
      params.values,
    );
    return rows.rows.map((row, index) => toHit(row, Number(row.score), index));
  }

  /**
   * PostgreSQL ranks every row that matches (GIN has no top-k pruning), so a query word that most
   * chunks contain makes a search rank most of the table. Such words add almost nothing to a BM25
   * ranking, so on a large table they are left out first, by the planner's own statistics; only if
   * that finds fewer than `k` does the full query run.
   */
  async textSearch(query: string, options: SearchOptions): Promise<SearchHit[]> {
    this.#assertOpen();
    if (query.trim() === '' || options.k <= 0) return [];
    const terms = queryTerms(query);
    if (terms.any.length === 0) return [];
    const common = await this.#commonLexemes();
    if (common.length > 0) {
      const narrowed = await this.#text(terms, options, common);
      if (narrowed.length >= options.k) return narrowed;
    }
    return this.#text(terms, options, []);
  }

  async #text(
    terms: { any: string[]; not: string[] },
    options: SearchOptions,
    skip: string[],
  ): Promise<SearchHit[]> {
    const params = new Params();
    const tsquery = textQuerySql(terms, params, skip);
    const rows = await this.#pool.query(
      `WITH q AS (SELECT ${tsquery} AS query)
       SELECT ${HIT_COLUMNS}, ts_rank_cd(tsv, q.query, 1) AS score FROM chunks, q
        WHERE q.query IS NOT NULL AND tsv @@ q.query
          AND ${aclSql(options.principal, params)} AND ${filterSql(options.filter, params)}
        ORDER BY score DESC, doc_id, ordinal LIMIT ${params.add(options.k)}`,
      params.values,
    );
    return rows.rows.map((row, index) => toHit(row, Number(row.score), index));
  }

  // Lexemes in more than COMMON_TERM_SHARE of the chunks, as ANALYZE last counted them, written as
  // a one-lexeme tsquery prints (`'polici'`); none below LARGE_TABLE_ROWS. Cached for a minute.
  #common: { at: number; lexemes: Promise<string[]> } | undefined;
  #commonLexemes(): Promise<string[]> {
    if (this.#common !== undefined && Date.now() - this.#common.at < 60_000) return this.#common.lexemes;
    const lexemes = this.#pool
      .query(
        `SELECT c.reltuples AS rows, s.most_common_elems::text::text[] AS elems, s.most_common_elem_freqs AS freqs
           FROM pg_class c
           LEFT JOIN pg_stats s ON s.schemaname = current_schema() AND s.tablename = 'chunks' AND s.attname = 'tsv'
          WHERE c.oid = 'chunks'::regclass`,
      )
      .then((result) => {
        const row = result.rows[0];
        if (row === undefined || Number(row.rows) < LARGE_TABLE_ROWS || !Array.isArray(row.elems)) return [];
        const freqs = row.freqs as number[];
        return (row.elems as string[])
          .filter((_, i) => (freqs[i] ?? 0) > COMMON_TERM_SHARE)
          .map((lexeme) => `'${lexeme.replaceAll("'", "''")}'`);
      });
    this.#common = { at: Date.now(), lexemes };
    lexemes.catch(() => {
      this.#common = undefined;
    });
    return lexemes;
  }

  /**
   * Dense and full-text search fused by reciprocal rank (1 / (rrfK + rank), summed) in one SQL
   * statement, one round trip, with the ACL and filter inside both branches. Not part of the
   * KnowledgeStore spec (the LanceDB store has no single-query equivalent); `score` is the RRF sum.
   */
  async hybridSearch(
    vector: readonly number[] | Float32Array,
    query: string,
    options: SearchOptions & { candidates?: number; rrfK?: number },
  ): Promise<SearchHit[]> {
    this.#assertOpen();
    this.#checkQueryVector(vector);
    if (options.k <= 0) return [];
    const candidates = Math.max(options.k, options.candidates ?? options.k * 4);
    const rrfK = options.rrfK ?? 60;
    const terms = queryTerms(query);
    const params = new Params();
    const q = params.add(pgvector.toSql(Array.from(vector)));
    const n = params.add(candidates);
    const where = `${aclSql(options.principal, params)} AND ${filterSql(options.filter, params)}`;
    const textBranch =
      terms.any.length === 0
        ? 'SELECT NULL::text AS doc_id, NULL::int AS ordinal, NULL::bigint AS r WHERE FALSE'
        : `SELECT doc_id, ordinal, row_number() OVER (ORDER BY ts_rank_cd(tsv, tq.query, 1) DESC, doc_id, ordinal) AS r
             FROM chunks, (SELECT ${textQuerySql(terms, params)} AS query) tq
            WHERE tq.query IS NOT NULL AND tsv @@ tq.query AND ${where}
            ORDER BY r LIMIT ${n}`;
    const rows = await this.#pool.query(
      `WITH dense AS (
         SELECT doc_id, ordinal, row_number() OVER (ORDER BY embedding <=> ${q}::vector) AS r
           FROM (SELECT doc_id, ordinal, embedding FROM chunks WHERE ${where}
                  ORDER BY embedding <=> ${q}::vector LIMIT ${n}) d
       ), text AS (${textBranch}),
       fused AS (
         SELECT doc_id, ordinal, sum(1.0 / (${params.add(rrfK)} + r)) AS score
           FROM (SELECT * FROM dense UNION ALL SELECT * FROM text) both_branches
          GROUP BY doc_id, ordinal ORDER BY score DESC, doc_id, ordinal LIMIT ${params.add(options.k)}
       )
       SELECT ${HIT_COLUMNS.split(', ')
         .map((c) => `c.${c}`)
         .join(', ')}, f.score
         FROM fused f JOIN chunks c USING (doc_id, ordinal) ORDER BY f.score DESC, c.doc_id, c.ordinal`,
      params.values,
    );
    return rows.rows.map((row, index) => toHit(row, Number(row.score), index));
  }

  #checkQueryVector(vector: readonly number[] | Float32Array): void {
    if (vector.length !== this.#embedding.dimensions) {
      throw new StoreError(
        `Query vector has ${vector.length} dimensions; this store holds ${this.#embedding.dimensions}-d vectors of ${this.#embedding.modelId}.`,
      );
    }
  }

  async commitVersion(summary: VersionSummary, note?: string): Promise<KbVersion> {
    for (const [key, value] of Object.entries(summary)) {
      if (!Number.isInteger(value) || value < 0) {
        throw new InvalidWriteError(
          `Version summary field ${key} must be a non-negative integer, got ${value}.`,
        );
      }
    }
    return this.#write(async (client) => {
      const result = await client.query(
        `INSERT INTO versions (number, created_at, added, changed, removed, failed, chunks_embedded, note)
         SELECT coalesce(max(number), 0) + 1, now(), $1, $2, $3, $4, $5, $6 FROM versions
         RETURNING number, created_at, added, changed, removed, failed, chunks_embedded, note`,
        [
          summary.added,
          summary.changed,
          summary.removed,
          summary.failed,
          summary.chunksEmbedded,
          note ?? null,
        ],
      );
      return toKbVersion(result.rows[0]);
    });
  }

  async listVersions(): Promise<KbVersion[]> {
    this.#assertOpen();
    const rows = await this.#pool.query('SELECT * FROM versions ORDER BY number');
    const recorded = rows.rows.map(toKbVersion);
    return [...recorded, ...(await this.#unrecordedVersions(recorded.at(-1)?.number ?? 0))];
  }

  async currentVersion(): Promise<KbVersion | undefined> {
    this.#assertOpen();
    const rows = await this.#pool.query('SELECT * FROM versions ORDER BY number DESC LIMIT 1');
    const recorded = rows.rows[0] === undefined ? undefined : toKbVersion(rows.rows[0]);
    return (await this.#unrecordedVersions(recorded?.number ?? 0)).at(-1) ?? recorded;
  }

  /**
   * Writes live above the last recorded version (a writer still running, or one that stopped before
   * `commitVersion`): readers already see them, so the version list does too, or a version-keyed
   * answer cache would keep serving the state before them. The time is the latest write's, so the
   * key changes with every batch of a write still under way.
   */
  async #unrecordedVersions(recorded: number): Promise<KbVersion[]> {
    const rows = await this.#pool.query(
      `SELECT version,
              count(*) FILTER (WHERE NOT deleted) AS changed,
              count(*) FILTER (WHERE deleted) AS removed,
              coalesce(sum(chunk_count) FILTER (WHERE NOT deleted), 0) AS chunks,
              max(updated_at) AS at
         FROM document_states WHERE version > $1 GROUP BY version ORDER BY version`,
      [recorded],
    );
    return rows.rows.map((row) => ({
      number: Number(row.version),
      createdAt: new Date(row.at as string).toISOString(),
      summary: {
        added: 0,
        changed: Number(row.changed),
        removed: Number(row.removed),
        failed: 0,
        chunksEmbedded: Number(row.chunks),
      },
      note: `not recorded yet: a write at version ${Number(row.version)} is live, but its writer is still running or stopped before recording it`,
    }));
  }

  async documentAt(id: string, version: number, principal: Principal): Promise<DocumentSnapshot | undefined> {
    this.#assertOpen();
    const client = await this.#pool.connect();
    try {
      // One snapshot for every statement: a concurrent write cannot move chunks in between.
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const historyFrom = Number(
        (await client.query("SELECT value FROM meta WHERE key = 'history_from'")).rows[0]?.value ?? 1,
      );
      if (version < historyFrom) throw new VersionPrunedError(version, historyFrom);
      const params = new Params();
      const state = await client.query(
        `SELECT doc_id, gen, version, deleted, source, title, metadata, acl, content_hash, chunk_count, updated_at,
                ${aclSql(principal, params)} AS readable
           FROM document_states WHERE doc_id = ${params.add(id)} AND version <= ${params.add(Math.floor(version))}
          ORDER BY gen DESC LIMIT 1`,
        params.values,
      );
      const then = state.rows[0];
      if (then === undefined || then.deleted === true || then.readable !== true) return undefined;
      const nowParams = new Params();
      const live = await client.query(
        `SELECT gen, ${aclSql(principal, nowParams)} AS readable FROM documents WHERE doc_id = ${nowParams.add(id)}`,
        nowParams.values,
      );
      // Revoking access to a document also revokes access to its history.
      if (live.rows[0] !== undefined && live.rows[0].readable !== true) return undefined;
      const table =
        live.rows[0] !== undefined && Number(live.rows[0].gen) === Number(then.gen)
          ? 'chunks'
          : 'chunk_history';
      const chunks = await client.query(
        `SELECT ${CHUNK_COLUMNS} FROM ${table} WHERE doc_id = $1 AND gen = $2 ORDER BY ordinal`,
        [id, then.gen],
      );
      return { document: toStoredDocument(then), chunks: chunks.rows.map(toStoredChunk) };
    } finally {
      await client.query('ROLLBACK').catch(() => {});
      client.release();
    }
  }

  async documentsChangedAt(version: number): Promise<string[]> {
    this.#assertOpen();
    const rows = await this.#pool.query('SELECT DISTINCT doc_id FROM document_states WHERE version = $1', [
      Math.floor(version),
    ]);
    // Sorted here, not by the database's collation, so both backends give the same order.
    return rows.rows.map((row) => String(row.doc_id)).sort();
  }

  /**
   * Prunes history past `retainVersions`, builds the HNSW index once the chunks outgrow exact
   * search (PostgreSQL maintains it on every write after that), and refreshes planner statistics.
   */
  async optimize(options: OptimizeOptions = {}): Promise<OptimizeResult> {
    return this.#write(async (client) => {
      if (options.retainVersions !== undefined) {
        if (!Number.isInteger(options.retainVersions) || options.retainVersions < 1) {
          throw new StoreError(`retainVersions must be a positive integer, got ${options.retainVersions}.`);
        }
      }
      const pruned = await transaction(client, async () => {
        let historyFrom = Number(
          (await client.query("SELECT value FROM meta WHERE key = 'history_from'")).rows[0]?.value ?? 1,
        );
        let prunedRows = 0;
        if (options.retainVersions !== undefined) {
          const current = (await nextVersionOn(client)) - 1;
          const cutoff = Math.max(historyFrom, current - options.retainVersions + 1);
          // A state can go once a later state was published at or before the cutoff; a tombstone at
          // or before the cutoff with nothing after it goes too (documentAt answers "absent" either way).
          const doomed = await client.query(
            `WITH s AS (
               SELECT doc_id, gen, version, deleted,
                      lead(version) OVER (PARTITION BY doc_id ORDER BY gen) AS next_version
                 FROM document_states)
             DELETE FROM document_states d USING s
              WHERE d.doc_id = s.doc_id AND d.gen = s.gen
                AND ((s.next_version IS NOT NULL AND s.next_version <= $1)
                     OR (s.next_version IS NULL AND s.deleted AND s.version <= $1))
             RETURNING d.doc_id, d.gen`,
            [cutoff],
          );
          prunedRows += doomed.rowCount ?? 0;
          if (doomed.rows.length > 0) {
            const removed = await client.query(
              `DELETE FROM chunk_history h USING unnest($1::text[], $2::int[]) AS u(doc_id, gen)
                WHERE h.doc_id = u.doc_id AND h.gen = u.gen`,
              [doomed.rows.map((r) => r.doc_id), doomed.rows.map((r) => r.gen)],
            );
            prunedRows += removed.rowCount ?? 0;
          }
          if (cutoff > historyFrom) {
            await client.query("UPDATE meta SET value = $1 WHERE key = 'history_from'", [String(cutoff)]);
            historyFrom = cutoff;
          }
        }
        return { prunedRows, historyFrom };
      });
      const denseIndex = await this.#ensureDenseIndex(client);
      await client.query('ANALYZE chunks, documents, document_states');
      return { denseIndex, ...pruned };
    });
  }

  // CREATE INDEX takes a SHARE lock: reads go on during the build, writes wait for it. The writer
  // lock already keeps other Attune writers out; IF NOT EXISTS covers a foreign one.
  async #ensureDenseIndex(client: pg.Client): Promise<OptimizeResult['denseIndex']> {
    const exists = await client.query("SELECT to_regclass('chunks_embedding') IS NOT NULL AS ok");
    if (exists.rows[0]?.ok === true) return 'ann';
    const rows = Number((await client.query('SELECT count(*) AS n FROM chunks')).rows[0].n);
    if (rows < (this.#options.annThresholdRows ?? DEFAULT_ANN_THRESHOLD)) return 'exact';
    const m = this.#options.hnsw?.m ?? 16;
    const efConstruction = this.#options.hnsw?.efConstruction ?? 64;
    if (![m, efConstruction].every((x) => Number.isInteger(x) && x > 0)) {
      throw new StoreError(
        `HNSW settings must be positive integers, got m=${m}, ef_construction=${efConstruction}.`,
      );
    }
    await client.query(
      `CREATE INDEX IF NOT EXISTS chunks_embedding ON chunks USING hnsw (embedding vector_cosine_ops)
       WITH (m = ${m}, ef_construction = ${efConstruction})`,
    );
    return 'ann';
  }

  /** Connections in use and idle, for `attune status` and the benchmark. */
  poolStats(): { total: number; idle: number; waiting: number } {
    return { total: this.#pool.totalCount, idle: this.#pool.idleCount, waiting: this.#pool.waitingCount };
  }

  /** Runs a read-only query on the pool; for the copy tool and tests, not for callers' SQL. */
  async query<T extends Row = Row>(sql: string, values: unknown[] = []): Promise<T[]> {
    this.#assertOpen();
    return (await this.#pool.query<T>(sql, values)).rows;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#writeQueue.catch(() => {});
    this.#closed = true;
    await this.#releaseLock().catch(() => {});
    await this.#writer?.end().catch(() => {});
    this.#writer = undefined;
    await this.#pool.end();
  }

  async #write<T>(operation: (client: pg.Client) => Promise<T>): Promise<T> {
    this.#assertOpen();
    const run = this.#writeQueue.then(async () => {
      this.#assertOpen();
      const client = await this.#acquireLock();
      return operation(client);
    });
    this.#writeQueue = run.catch(() => {});
    return run;
  }

  async #writerClient(): Promise<pg.Client> {
    if (this.#writer !== undefined) return this.#writer;
    const client = new pg.Client({
      connectionString: this.#options.url,
      application_name: 'attune-writer',
      options: this.#connectionOptions(),
    });
    // A dropped connection (terminated backend, failover) ends the lock with it; the next write
    // reconnects and takes the lock again.
    client.on('error', () => {
      if (this.#writer === client) {
        this.#writer = undefined;
        this.#lockHeld = false;
      }
    });
    client.on('end', () => {
      if (this.#writer === client) {
        this.#writer = undefined;
        this.#lockHeld = false;
      }
    });
    await client.connect();
    this.#writer = client;
    return client;
  }

  async #acquireLock(): Promise<pg.Client> {
    const client = await this.#writerClient();
    if (this.#lockHeld) return client;
    const timeoutMs = this.#options.lockTimeoutMs ?? 10_000;
    const started = Date.now();
    for (;;) {
      const result = await client.query('SELECT pg_try_advisory_lock($1, $2) AS ok', [
        WRITE_LOCK_CLASS,
        this.#lockKey,
      ]);
      if (result.rows[0]?.ok === true) break;
      const waited = Date.now() - started;
      if (waited >= timeoutMs) {
        throw new StoreLockedError(
          `advisory lock (${WRITE_LOCK_CLASS}, ${this.#lockKey}) in ${this.location}`,
          await this.#lockHolder(client),
          waited,
        );
      }
      await sleep(Math.min(100, timeoutMs - waited));
    }
    this.#lockHeld = true;
    // Who holds the lock, for another writer's error message.
    const me = `attune:${process.pid}@${hostname()}`.slice(0, 40);
    await client.query(`SET application_name = ${pg.escapeLiteral(`${me}|${Date.now()}`)}`);
    return client;
  }

  async #lockHolder(client: pg.Client): Promise<LockHolder | undefined> {
    const rows = await client.query(
      `SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1 AND l.objid = $2 AND l.objsubid = 2`,
      [WRITE_LOCK_CLASS, this.#lockKey],
    );
    const match = /^attune:(\d+)@(.*)\|(\d+)$/.exec(String(rows.rows[0]?.application_name ?? ''));
    if (!match) return undefined;
    return {
      pid: Number(match[1]),
      hostname: match[2]!,
      acquiredAt: new Date(Number(match[3])).toISOString(),
    };
  }

  async #releaseLock(): Promise<void> {
    if (!this.#lockHeld || this.#writer === undefined) return;
    this.#lockHeld = false;
    await this.#writer.query('SELECT pg_advisory_unlock($1, $2)', [WRITE_LOCK_CLASS, this.#lockKey]);
    await this.#writer.query("SET application_name = 'attune-writer'");
  }

  #assertOpen(): void {
    if (this.#closed) throw new StoreClosedError();
  }
}

async function transaction<T>(client: pg.Client, body: () => Promise<T>): Promise<T> {
  await client.query('BEGIN');
  try {
    const result = await body();
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  }
}

async function nextVersionOn(client: pg.Pool | pg.Client): Promise<number> {
  const rows = await client.query('SELECT coalesce(max(number), 0) + 1 AS next FROM versions');
  return Number(rows.rows[0].next);
}

async function checkVersion(client: pg.Client, version: number): Promise<void> {
  const next = await nextVersionOn(client);
  if (version !== next) {
    throw new InvalidWriteError(
      `Writes must be tagged with the pending version ${next}, got ${version}.`,
      'Call nextVersion() before writing and commitVersion() after; versions cannot be rewritten.',
    );
  }
}

/** Per document: the highest generation ever written, and the live state if any (row-locked). */
async function documentStates(
  client: pg.Client,
  ids: string[],
): Promise<Map<string, { maxGen: number; current?: { contentHash: string; version: number } }>> {
  const states = new Map<string, { maxGen: number; current?: { contentHash: string; version: number } }>();
  const unique = [...new Set(ids)];
  const live = await client.query(
    'SELECT doc_id, content_hash, version FROM documents WHERE doc_id = ANY($1::text[]) FOR UPDATE',
    [unique],
  );
  const gens = await client.query(
    'SELECT doc_id, max(gen) AS gen FROM document_states WHERE doc_id = ANY($1::text[]) GROUP BY doc_id',
    [unique],
  );
  for (const row of gens.rows) states.set(row.doc_id, { maxGen: Number(row.gen) });
  for (const row of live.rows) {
    const state = states.get(row.doc_id) ?? { maxGen: 0 };
    state.current = { contentHash: String(row.content_hash), version: Number(row.version) };
    states.set(row.doc_id, state);
  }
  return states;
}

/** Moves the live chunks of these documents to history (without vectors). */
async function retireLiveChunks(client: pg.Client, ids: string[]): Promise<void> {
  await client.query(
    `WITH gone AS (DELETE FROM chunks WHERE doc_id = ANY($1::text[]) RETURNING ${CHUNK_COLUMNS})
     INSERT INTO chunk_history (${CHUNK_COLUMNS}) SELECT ${CHUNK_COLUMNS} FROM gone`,
    [ids],
  );
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

function toStoredDocument(row: Row): StoredDocument {
  return {
    id: String(row.doc_id),
    source: String(row.source),
    title: String(row.title),
    metadata: row.metadata as Record<string, MetadataValue>,
    // jsonb orders keys its own way; give the ACL back in the shape it was written in.
    acl: toAcl(row.acl as Acl),
    contentHash: String(row.content_hash),
    version: Number(row.version),
    chunkCount: Number(row.chunk_count),
    updatedAt: (row.updated_at as Date).toISOString(),
  };
}

function toAcl(acl: Acl): Acl {
  return { public: acl.public, users: acl.users, groups: acl.groups };
}

function toStoredChunk(row: Row): StoredChunk {
  const chunk: StoredChunk = {
    id: String(row.chunk_id),
    docId: String(row.doc_id),
    ordinal: Number(row.ordinal),
    text: String(row.text),
    headingPath: row.heading_path as string[],
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
      metadata: row.metadata as Record<string, MetadataValue>,
      version: Number(row.version),
    },
    score,
    rank: index + 1,
  };
}

function toKbVersion(row: Row): KbVersion {
  const version: KbVersion = {
    number: Number(row.number),
    createdAt: (row.created_at as Date).toISOString(),
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
