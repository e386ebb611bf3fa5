export { articleDocx, articleMarkdown } from './article-render.ts';
export {
  type DeskDefinition,
  type DeskDefinitionInput,
  defineDesk,
  IRRELEVANT,
  readDeskFile,
  type Topic,
} from './desk-definition.ts';
export { type BudgetedSource, type DraftPlan, type PlanOptions, planDraft } from './draft-budget.ts';
export type {
  Article,
  ArticlePart,
  Draft,
  DraftSource,
  DraftState,
  EditorialAction,
  FactFlag,
  FlagKind,
  Publication,
  PublishTarget,
  Revision,
} from './draft-record.ts';
export { articleSchema, writeArticle } from './draft-writer.ts';
export {
  type ClassifyResult,
  EDITORIAL_STAGES,
  EditorialDesk,
  type EditorialDeskOptions,
  type EditorialProgress,
  type EditorialStage,
  type LoadedChat,
  type RunOptions,
  type RunSummary,
} from './editorial-desk.ts';
export { EditorialStore } from './editorial-store.ts';
export {
  type CheckSource,
  type FactCheckOptions,
  factCheckArticle,
  factKind,
  missingQuotes,
} from './fact-check.ts';
export {
  FeedError,
  type FeedFormat,
  type ItemProblem,
  type ParsedFeed,
  parseFeedText,
} from './feed-parse.ts';
export { type FeedReport, type PollResult, pollFeeds } from './feed-poll.ts';
export { type FetchFeedOptions, readFeedSource } from './feed-source.ts';
export { itemContentHash, type NewsItem, normalizeLink, type ParsedItem } from './news-item.ts';
export {
  chatRelevanceClassifier,
  embeddingRelevanceClassifier,
  type Relevance,
  type RelevanceClassifier,
  relevanceCacheKey,
} from './relevance.ts';
export {
  approveDraft,
  editDraft,
  needsPublishing,
  ReviewError,
  recordPublication,
  rejectDraft,
  settlePublication,
} from './review.ts';
export { hasChanges, wordDiff } from './word-diff.ts';
