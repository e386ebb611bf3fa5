export {
  type AbstentionCalibration,
  defaultCalibration,
  type RetrievalFeatures,
  retrievalConfidence,
  retrievalFeatures,
} from './abstention.ts';
export { aclSet, answerCacheKey, normalizeQuestion } from './answer-cache.ts';
export {
  type AnswerPrompt,
  buildAnswerPrompt,
  ContextTooSmallError,
  DEFAULT_SYSTEM_PROMPT,
  NOT_IN_KNOWLEDGE_BASE,
  type PromptSource,
} from './answer-prompt.ts';
export {
  type AnswerCitation,
  Answerer,
  type AnswererOptions,
  type AnswerPart,
  type AnswerResult,
  type AnswerSource,
  type AskOptions,
  QuestionError,
} from './answerer.ts';
export { parseCitations } from './citations.ts';
export { type GroundednessResult, type SentenceSupport, scoreGroundedness } from './groundedness.ts';
export { looksLikePromptInjection } from './prompt-injection.ts';
