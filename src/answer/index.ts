export {
  type AbstentionCalibration,
  defaultCalibration,
  type RetrievalFeatures,
  retrievalConfidence,
  retrievalFeatures,
  verifierScore,
  verifierThreshold,
} from './abstention.ts';
export { aclSet, answerCacheKey, normalizeQuestion } from './answer-cache.ts';
export { answerJson } from './answer-json.ts';
export {
  type AnswerPrompt,
  buildAnswerPrompt,
  ContextTooSmallError,
  DEFAULT_SYSTEM_PROMPT,
  NOT_IN_KNOWLEDGE_BASE,
  PLAIN_SYSTEM_PROMPT,
  type PromptSource,
  SHORT_ANSWER_PROMPT,
  systemPromptFor,
} from './answer-prompt.ts';
export {
  type AnswerCitation,
  Answerer,
  type AnswererOptions,
  type AnswerPart,
  type AnswerResult,
  type AnswerSource,
  type AskOptions,
  type ClosestPassage,
  QuestionError,
} from './answerer.ts';
export { parseCitations, stripCitations } from './citations.ts';
export { type DateOptions, datesIn, isDateFact, missingDates } from './dates.ts';
export { type DegenerateReason, degenerateDraft } from './degenerate.ts';
export {
  type GroundednessResult,
  isSubstantive,
  type SentenceSupport,
  scoreGroundedness,
} from './groundedness.ts';
export {
  chosenEvidence,
  rankSentences,
  type ScoredSentence,
  type SentenceScorer,
  verifierText,
} from './passage.ts';
export { looksLikePromptInjection } from './prompt-injection.ts';
export { claimTerms, keyFacts, missingFacts, sourceSentences, splitSentences } from './text-support.ts';
