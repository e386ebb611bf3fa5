import type { AdviceAnswers } from './advice-inputs.ts';
import type { MeasuredStrategy } from './measured-strategy.ts';

/** A measured strategy with plausible figures; tests override what they are about. */
export function measured(
  overrides: Partial<MeasuredStrategy> & Pick<MeasuredStrategy, 'approach'>,
): MeasuredStrategy {
  return {
    strategy: `${overrides.approach}-default`,
    model: 'vm-model',
    questions: 200,
    accuracy: 0.5,
    latencyP50Ms: 800,
    latencyP95Ms: 1500,
    inputTokensPerQuestion: 1200,
    outputTokensPerQuestion: 60,
    secondsPerQuestion: 0.5,
    ...overrides,
  };
}

export const neutralAnswers: AdviceAnswers = {
  changeFrequency: 'monthly',
  citationsRequired: false,
  latencyBudgetMs: 3000,
  labelledExamples: 1000,
  mlSkills: 'some',
  wrongAnswerCost: 'medium',
  dataSensitivity: 'internal',
  queriesPerMonth: 10_000,
};
