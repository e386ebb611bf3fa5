/**
 * The KnowledgeStore spec: what every storage backend (embedded LanceDB, PostgreSQL + pgvector)
 * implements. Types only, plus the ACL rule every backend must push into its queries.
 */
import type { Acl, Chunk, Document } from '../ingest/document.ts';
import { checkPrincipal, type Principal } from './principal.ts';

export type MetadataValue = string | number | boolean;

/** The embedding model whose vectors the store holds; fixed when the store is created. */
export type EmbeddingModelInfo = { modelId: string; dimensions: number };

export type StoredDocument = {
  id: string;
  source: string;
  title: string;
  metadata: Record<string, MetadataValue>;
  acl: Acl;
  contentHash: string;
  /** The knowledge-base version that introduced this state of the document. */
  version: number;
  chunkCount: number;
  /** ISO 8601. */
  updatedAt: string;
};

export type StoredChunk = {
  id: string;
  docId: string;
  ordinal: number;
  text: string;
  headingPath: string[];
  page?: number;
  tokenCount: number;
  /** The knowledge-base version that introduced this chunk. */
  version: number;
  /** sha256 (hex) of `text`. */
  contentHash: string;
};

/** A chunk as the ingest pipeline hands it over: with its embedding. */
export type EmbeddedChunk = Chunk & { vector: readonly number[] | Float32Array };

export type VersionSummary = {
  added: number;
  changed: number;
  removed: number;
  failed: number;
  chunksEmbedded: number;
};

export type KbVersion = {
  /** Strictly increasing, never reused, even across crashes. */
  number: number;
  /** ISO 8601. */
  createdAt: string;
  summary: VersionSummary;
  note?: string;
};

/**
 * Every key must match; an array value matches any of its elements. Values compare by type and
 * value (`2024` does not match `"2024"`). An empty array matches nothing.
 */
export type MetadataFilter = Record<string, MetadataValue | MetadataValue[]>;

export type SearchOptions = {
  k: number;
  principal: Principal;
  filter?: MetadataFilter;
};

export type SearchHit = {
  chunk: StoredChunk;
  document: Pick<StoredDocument, 'id' | 'source' | 'title' | 'metadata' | 'version'>;
  /** Higher is better. Dense: cosine similarity. Text: BM25. Not comparable across the two. */
  score: number;
  /** 1-based position in this result list. */
  rank: number;
};

export type ListOptions = { limit?: number; offset?: number };

/** A document as it was at some knowledge-base version. */
export type DocumentSnapshot = { document: StoredDocument; chunks: StoredChunk[] };

export type UpsertResult = {
  /** `unchanged`: same content hash and same chunks as the current state, nothing written. */
  status: 'added' | 'changed' | 'unchanged';
  version: number;
};

/** One document of a batch write: the document and all of its chunks, embedded. */
export type DocumentWrite = { document: Document; chunks: EmbeddedChunk[] };

export type OptimizeOptions = {
  /**
   * Keep `documentAt` answerable for this many most recent versions; older document states are
   * pruned. Unset: keep all history.
   */
  retainVersions?: number;
};

export type OptimizeResult = {
  /** How dense search runs after this call: brute force or an approximate index. */
  denseIndex: 'exact' | 'ann';
  /** Rows of superseded or abandoned document states removed. */
  prunedRows: number;
  /** The oldest version `documentAt` can still answer for. */
  historyFrom: number;
};

/**
 * Provider-shaped: identity fields plus async methods. Every read takes a principal and the
 * backend pushes the ACL (see `canRead`) and metadata filters into its query, so unauthorised
 * rows are never fetched, ranked or counted against `k`.
 *
 * Writes follow one rhythm: `v = await nextVersion()`, then `upsertDocument(s)`/`deleteDocument(s)`
 * with `v`, then `commitVersion` (which returns version `v`). Each document write is atomic and
 * visible at once; a crash before `commitVersion` leaves those writes live, and the next run
 * reuses the same pending number, so its commit covers them.
 *
 * The batch forms exist for speed: a backend pays a fixed cost per write (LanceDB: two commits),
 * so many small documents are written many at a time. They keep the per-document guarantee.
 */
export interface KnowledgeStore {
  readonly specificationVersion: 'v1';
  /** e.g. `lancedb`, `postgres`. */
  readonly provider: string;

  embeddingModel(): Promise<EmbeddingModelInfo>;
  /** The number the next `commitVersion` will get; writes must be tagged with it. */
  nextVersion(): Promise<number>;
  /**
   * Takes the writer lock (waiting for another writer, then refusing with StoreLockedError) and
   * returns the pending version. A writer that decides what to write from what is stored must
   * call this first, so no other process commits in between.
   */
  beginWrite(): Promise<number>;
  /** Releases the writer lock so other processes can write; the store stays open for reading. */
  endWrite(): Promise<void>;

  /** Replaces all of the document's chunks at once: readers see the old state or the new, never a mix. */
  upsertDocument(document: Document, chunks: EmbeddedChunk[], version: number): Promise<UpsertResult>;
  /** Returns false if there was no such (live) document. */
  deleteDocument(id: string, version: number): Promise<boolean>;
  /**
   * `upsertDocument` for many documents at a constant cost per call, not per document. Results
   * are in the order of `writes`. After a crash at any moment each document is entirely old or
   * entirely new. The batch is validated as a whole first: one malformed document, or one id
   * given twice, rejects it with nothing written.
   */
  upsertDocuments(writes: DocumentWrite[], version: number): Promise<UpsertResult[]>;
  /** `deleteDocument` for many ids at a constant cost per call; results in the order of `ids`. */
  deleteDocuments(ids: string[], version: number): Promise<boolean[]>;

  getDocument(id: string, principal: Principal): Promise<StoredDocument | undefined>;
  /** Ordered by id. */
  listDocuments(principal: Principal, options?: ListOptions): Promise<StoredDocument[]>;
  /** Ordered by ordinal; empty if the document is missing or not readable. */
  getChunks(docId: string, principal: Principal): Promise<StoredChunk[]>;

  denseSearch(vector: readonly number[] | Float32Array, options: SearchOptions): Promise<SearchHit[]>;
  textSearch(query: string, options: SearchOptions): Promise<SearchHit[]>;

  commitVersion(summary: VersionSummary, note?: string): Promise<KbVersion>;
  /** Oldest first. */
  listVersions(): Promise<KbVersion[]>;
  currentVersion(): Promise<KbVersion | undefined>;
  /**
   * The document as it was at `version`: undefined if it did not exist then (or was deleted), or if
   * the principal may not read it, either by its ACL then or, while it still exists, by its ACL now.
   */
  documentAt(id: string, version: number, principal: Principal): Promise<DocumentSnapshot | undefined>;
  /**
   * The ids of the documents whose state `version` introduced (written then, or removed then),
   * sorted; empty for a version that wrote nothing. With `documentAt(id, version)` this replays
   * the history version by version (reindex does). No principal: for rebuilding a whole store,
   * never for serving reads. For a version older than the retained history it names only the
   * states still kept (those still current at the oldest retained version).
   */
  documentsChangedAt(version: number): Promise<string[]>;

  /**
   * The vectors of a document's live chunks, by ordinal; empty if there is no such document. No
   * principal: for copying and verifying a whole store, never for serving reads. Optional, so a
   * backend that cannot give its vectors back still conforms; `copyStore` needs it.
   */
  chunkVectors?(docId: string): Promise<Map<number, Float32Array>>;

  /** Compaction, history pruning and index refresh. Safe to run at any time by the writer. */
  optimize(options?: OptimizeOptions): Promise<OptimizeResult>;
  close(): Promise<void>;
}

/** The ACL rule, stated once. Backends express it in their query language; this is its reference. */
export function canRead(acl: Acl, principal: Principal): boolean {
  return (
    checkPrincipal(principal).admin === true ||
    acl.public ||
    acl.users.includes(principal.user) ||
    principal.groups.some((group) => acl.groups.includes(group))
  );
}

/** Whether a document's metadata satisfies a filter; the reference for backends' query translations. */
export function matchesFilter(metadata: Record<string, MetadataValue>, filter: MetadataFilter): boolean {
  return Object.entries(filter).every(([key, wanted]) => {
    const actual = metadata[key];
    if (actual === undefined) return false;
    return Array.isArray(wanted) ? wanted.includes(actual) : wanted === actual;
  });
}
