/**
 * The one place that turns "where the knowledge store lives" into an open KnowledgeStore, so
 * callers (the knowledge base, the copy tool, the CLI) never name a backend themselves.
 */
import type { EmbeddingModelInfo, KnowledgeStore } from './knowledge-store.ts';
import { openLanceStore } from './lance-store.ts';
import { openPostgresStore } from './postgres-store.ts';

export type StoreLocation =
  /** Embedded LanceDB tables in a directory. */
  | { kind: 'lancedb'; dir: string }
  /** A PostgreSQL database with pgvector; `schema` defaults to `attune`. */
  | { kind: 'postgres'; url: string; schema?: string };

export type OpenStoreOptions = {
  /** Required to create a store; when opening one, must match what it was created with. */
  embedding?: EmbeddingModelInfo;
  /** How long a writer waits for another process's write lock. */
  lockTimeoutMs?: number;
};

export async function openKnowledgeStore(
  location: StoreLocation,
  options: OpenStoreOptions = {},
): Promise<KnowledgeStore> {
  const common = {
    ...(options.embedding ? { embedding: options.embedding } : {}),
    ...(options.lockTimeoutMs !== undefined ? { lockTimeoutMs: options.lockTimeoutMs } : {}),
  };
  if (location.kind === 'lancedb') return openLanceStore({ dir: location.dir, ...common });
  return openPostgresStore({
    url: location.url,
    ...(location.schema ? { schema: location.schema } : {}),
    ...common,
  });
}

/**
 * Parses `--from`/`--to` style arguments: a postgres:// or postgresql:// URL (an optional
 * `#schema` fragment picks the schema), anything else is a LanceDB directory.
 */
export function parseStoreLocation(text: string): StoreLocation {
  if (/^postgres(ql)?:\/\//i.test(text)) {
    const hash = text.indexOf('#');
    if (hash < 0) return { kind: 'postgres', url: text };
    return { kind: 'postgres', url: text.slice(0, hash), schema: text.slice(hash + 1) };
  }
  return { kind: 'lancedb', dir: text };
}
