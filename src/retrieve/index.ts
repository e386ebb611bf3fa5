export {
  type Evidence,
  fuse,
  type Reranker,
  type RetrievalMode,
  type RetrievalResult,
  type RetrieveOptions,
  Retriever,
  removeNearDuplicates,
  type StageScore,
} from './retriever.ts';
