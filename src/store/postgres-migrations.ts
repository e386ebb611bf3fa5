/**
 * The Postgres store's schema, as forward-only migrations. Each runs once per store schema, in
 * order, recorded in `schema_migrations`; all of them run inside one transaction that first takes
 * a transaction-scoped advisory lock, so two processes opening the same database at once apply
 * each migration exactly once and never race on CREATE EXTENSION (which is per database, hence
 * the lock is too). The extension itself is created by the runner, under that lock, before the
 * first migration. Never edit a released migration: add the next one.
 */
import type pg from 'pg';

export type Migration = {
  version: number;
  name: string;
  /** `dimensions`: of the store's embedding model, fixed when the store is created. */
  sql: (context: { dimensions: number }) => string;
};

/** One lock for every Attune migration in a database: CREATE EXTENSION is database-wide. */
export const MIGRATION_LOCK_KEY = 0x41_54_4d_47; // "ATMG"

export const migrations: Migration[] = [
  {
    version: 1,
    name: 'documents, chunks with HNSW and full-text indexes, history, versions',
    sql: ({ dimensions }) => `
      CREATE TABLE meta (key text PRIMARY KEY, value text NOT NULL);
      CREATE TABLE versions (
        number integer PRIMARY KEY,
        created_at timestamptz NOT NULL,
        added integer NOT NULL,
        changed integer NOT NULL,
        removed integer NOT NULL,
        failed integer NOT NULL,
        chunks_embedded integer NOT NULL,
        note text
      );
      -- Every published state of every document, tombstones included: what documentAt reads.
      CREATE TABLE document_states (
        doc_id text COLLATE "C" NOT NULL,
        gen integer NOT NULL,
        version integer NOT NULL,
        deleted boolean NOT NULL,
        source text NOT NULL,
        title text NOT NULL,
        metadata jsonb NOT NULL,
        acl jsonb NOT NULL,
        acl_public boolean NOT NULL,
        readers text[] NOT NULL,
        content_hash text NOT NULL,
        chunk_count integer NOT NULL,
        updated_at timestamptz NOT NULL,
        PRIMARY KEY (doc_id, gen)
      );
      CREATE INDEX document_states_version ON document_states (version);
      -- The live state of each document; the primary key makes a second live state impossible.
      CREATE TABLE documents (
        doc_id text COLLATE "C" PRIMARY KEY,
        gen integer NOT NULL,
        version integer NOT NULL,
        source text NOT NULL,
        title text NOT NULL,
        metadata jsonb NOT NULL,
        acl jsonb NOT NULL,
        acl_public boolean NOT NULL,
        readers text[] NOT NULL,
        content_hash text NOT NULL,
        chunk_count integer NOT NULL,
        updated_at timestamptz NOT NULL
      );
      CREATE INDEX documents_readers ON documents USING gin (readers);
      -- Live chunks only, with the document's ACL and metadata copied in, so both search branches
      -- filter on indexed columns of the one table they scan.
      CREATE TABLE chunks (
        doc_id text COLLATE "C" NOT NULL,
        ordinal integer NOT NULL,
        gen integer NOT NULL,
        version integer NOT NULL,
        chunk_id text NOT NULL,
        text text NOT NULL,
        heading_path jsonb NOT NULL,
        page integer,
        token_count integer NOT NULL,
        chunk_hash text NOT NULL,
        source text NOT NULL,
        title text NOT NULL,
        metadata jsonb NOT NULL,
        acl_public boolean NOT NULL,
        readers text[] NOT NULL,
        embedding vector(${dimensions}) NOT NULL,
        tsv tsvector GENERATED ALWAYS AS (to_tsvector('english', text)) STORED,
        PRIMARY KEY (doc_id, ordinal)
      );
      -- The HNSW index (chunks_embedding) is built by optimize() once the table outgrows exact
      -- search: one bulk build is far cheaper than maintaining the graph row by row from the start.
      CREATE INDEX chunks_tsv ON chunks USING gin (tsv);
      CREATE INDEX chunks_readers ON chunks USING gin (readers);
      CREATE INDEX chunks_metadata ON chunks USING gin (metadata jsonb_path_ops);
      -- Chunks of superseded states, without vectors: history is read, never searched.
      CREATE TABLE chunk_history (
        doc_id text COLLATE "C" NOT NULL,
        gen integer NOT NULL,
        version integer NOT NULL,
        ordinal integer NOT NULL,
        chunk_id text NOT NULL,
        text text NOT NULL,
        heading_path jsonb NOT NULL,
        page integer,
        token_count integer NOT NULL,
        chunk_hash text NOT NULL,
        PRIMARY KEY (doc_id, gen, ordinal)
      );
      -- OR of many tsqueries: text search matches any term, as BM25 does, ranked by how many.
      CREATE AGGREGATE tsquery_any (tsquery) (SFUNC = tsquery_or, STYPE = tsquery);
    `,
  },
  {
    version: 2,
    name: 'audit records',
    sql: () => `
      -- The whole record as JSON; the columns beside it are what is queried.
      CREATE TABLE audit_records (
        seq bigserial PRIMARY KEY,
        id text NOT NULL UNIQUE,
        time text NOT NULL,
        user_name text NOT NULL,
        status text NOT NULL,
        cache_key text,
        cached boolean NOT NULL,
        record jsonb NOT NULL
      );
      CREATE INDEX audit_records_user_time ON audit_records (user_name, time);
      CREATE INDEX audit_records_time ON audit_records (time);
      CREATE INDEX audit_records_cache_key ON audit_records (cache_key) WHERE cache_key IS NOT NULL;
    `,
  },
];

/**
 * Applies what is pending, inside the caller's transaction (which holds the migration lock and has
 * `search_path` set to the store schema). Returns the versions applied now.
 */
export async function applyMigrations(client: pg.PoolClient, dimensions: number): Promise<number[]> {
  await client.query(
    'CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())',
  );
  const applied = new Set(
    (await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) =>
      Number(r.version),
    ),
  );
  const done: number[] = [];
  for (const migration of migrations) {
    if (applied.has(migration.version)) continue;
    await client.query(migration.sql({ dimensions }));
    await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [
      migration.version,
      migration.name,
    ]);
    done.push(migration.version);
  }
  return done;
}

export async function pendingMigrations(client: pg.PoolClient): Promise<number[]> {
  const exists = await client.query("SELECT to_regclass('schema_migrations') IS NOT NULL AS ok");
  const applied = new Set<number>();
  if (exists.rows[0]?.ok) {
    for (const row of (await client.query('SELECT version FROM schema_migrations')).rows)
      applied.add(Number(row.version));
  }
  return migrations.filter((m) => !applied.has(m.version)).map((m) => m.version);
}
