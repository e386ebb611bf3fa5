export {
  type CopyProgress,
  type CopyStoreOptions,
  type CopyStoreResult,
  copyStore,
  type StoreCounts,
  storeChecksum,
} from './copy-store.ts';
export type {
  DocumentSnapshot,
  DocumentWrite,
  EmbeddedChunk,
  EmbeddingModelInfo,
  KbVersion,
  KnowledgeStore,
  ListOptions,
  MetadataFilter,
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
export { canRead, matchesFilter } from './knowledge-store.ts';
export { LanceKnowledgeStore, type LanceStoreOptions, openLanceStore } from './lance-store.ts';
export {
  type OpenStoreOptions,
  openKnowledgeStore,
  parseStoreLocation,
  type StoreLocation,
} from './open-store.ts';
export {
  migratePostgresStore,
  openPostgresStore,
  PostgresKnowledgeStore,
  type PostgresStoreOptions,
  redactUrl,
} from './postgres-store.ts';
export {
  anonymous,
  checkPrincipal,
  type Principal,
  PrincipalError,
  parsePrincipal as parsePrincipalText,
} from './principal.ts';
export {
  EmbeddingMismatchError,
  InvalidWriteError,
  type LockHolder,
  StoreClosedError,
  StoreError,
  StoreLockedError,
  StoreNotFoundError,
  VersionPrunedError,
} from './store-error.ts';
