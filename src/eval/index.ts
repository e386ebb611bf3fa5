export { bootstrapMeanInterval, wilsonInterval } from './intervals.ts';
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
export { exactMatch, normalizeAnswer, tokenF1 } from './squad-metrics.ts';
