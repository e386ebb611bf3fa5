export { type CopyKnowledgeBaseResult, copyKnowledgeBase } from './copy-knowledge-base.ts';
export {
  embeddingText,
  KnowledgeBase,
  type SyncFailure,
  type SyncOptions,
  type SyncProgress,
  SyncStoppedError,
  type SyncSummary,
} from './knowledge-base.ts';
