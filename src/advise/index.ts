export {
  type AdviceAnswers,
  type AdviceKey,
  type AdviceQuestion,
  adviceAnswersSchema,
  adviceQuestions,
  allowedValues,
  answerFromText,
  type ChangeFrequency,
  changeFrequencies,
  parseAdviceAnswers,
  parsePartialAdviceAnswers,
} from './advice-inputs.ts';
export { formatAdvice } from './advice-text.ts';
export {
  type Advice,
  type AdviceReason,
  type AdviseInput,
  advise,
  minimumExamplesForFinetuning,
  type Recommendation,
  recommendations,
} from './advisor.ts';
export {
  type ApproachCost,
  type BreakEven,
  type CostInput,
  type CostProjection,
  type CostRatio,
  type MonthlyCosts,
  projectCosts,
  projectionMonths,
  updatesPerMonth,
} from './cost.ts';
export { renderCostCurveSvg } from './cost-curve.ts';
export { measurementsFromReport } from './eval-measurements.ts';
export {
  type Approach,
  type EmbeddingMeasurement,
  type EvalRunMeasurements,
  type MeasuredStrategy,
  measuredStrategySchema,
  parseEvalRun,
  type TrainingMeasurement,
} from './measured-strategy.ts';
export {
  defaultPrices,
  type HardwarePrice,
  isTokenPrice,
  type ModelPrice,
  type PriceTable,
  parsePriceTable,
  priceOf,
  type TokenPrice,
  trainingPricePerHour,
} from './prices.ts';
