export {
  type AnswerFn,
  buildReport,
  type EvalProgress,
  type EvalReport,
  type EvalRunConfig,
  EvalRunStore,
  type ResolvedStrategy,
  runEvaluation,
} from './eval-run.ts';
export {
  changedValue,
  chooseProbes,
  type FreshnessAnswer,
  type FreshnessProbe,
  type FreshnessResult,
  runFreshnessProbe,
  textFromChunks,
} from './freshness.ts';
export { bootstrapMeanInterval, wilsonInterval } from './intervals.ts';
export { judgeCorrectness } from './judge.ts';
export {
  CORRECT_F1,
  type Estimate,
  failedOutcome,
  ndcgAt10,
  type PairedMetric,
  pairedMetrics,
  type QuestionOutcome,
  type StrategySummary,
  SUPPORTED_GROUNDEDNESS,
  scoreAnswer,
  summarize,
} from './metrics.ts';
export { comparePaired, type PairedComparison, type PairedDelta, repeatSpread } from './paired.ts';
export { percentile } from './percentile.ts';
export {
  articleOf,
  type EvalDocument,
  type EvalQuestion,
  evalDataDir,
  readCorpus,
  readJsonl,
  readQuestions,
  withArticles,
} from './qa-data.ts';
export {
  escapeHtml,
  formatSummaryTable,
  latencySvg,
  metricBarsSvg,
  renderReportHtml,
} from './report-html.ts';
export { squad2DevSplit, squadArticles } from './splits.ts';
export { exactMatch, normalizeAnswer, tokenF1 } from './squad-metrics.ts';
export {
  parseStrategyFile,
  parseStrategyList,
  type Strategy,
  StrategyError,
  type StrategyKind,
  strategyKinds,
  strategySchema,
  usesAdapter,
  usesRetrieval,
} from './strategy.ts';
export {
  freezeTestSet,
  matchesGold,
  readTestQuestions,
  type TestQuestion,
  type TestSet,
  TestSetError,
  TestSetStore,
  testSetHash,
  unknownGoldDocuments,
} from './test-set.ts';
