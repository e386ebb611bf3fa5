import type { AdviceAnswers, AdviceKey } from './advice-inputs.ts';
import { type CostProjection, projectCosts, updatesPerMonth } from './cost.ts';
import type { EmbeddingMeasurement, MeasuredStrategy, TrainingMeasurement } from './measured-strategy.ts';
import { isTokenPrice, type PriceTable, priceOf } from './prices.ts';

/**
 * The advisor: the rules of thumb practitioners use to choose between RAG, fine-tuning and the
 * hybrid, each scored from one answer, then checked against what the eval measured. A measurement
 * whose interval clears another's beats any rule of thumb, and the disagreement is reported.
 */

export type Recommendation = 'rag' | 'ft' | 'hybrid';
export const recommendations: readonly Recommendation[] = ['rag', 'ft', 'hybrid'];

export type AdviceReason = {
  text: string;
  basis: 'answer' | 'measurement';
  /** The answer key or metric name the reason rests on. */
  ref: string;
};

export type Advice = {
  recommendation: Recommendation;
  confidence: 'low' | 'medium' | 'high';
  reasons: AdviceReason[];
  /** Where the measurements contradict a rule of thumb. */
  contradictions: string[];
  costs: CostProjection;
  /** Rules of thumb and measurements added up; the recommendation is the highest option allowed. */
  scores: Record<Recommendation, number>;
  /** Options ruled out by an answer (fine-tuning alone cannot cite sources). */
  excluded: Recommendation[];
  /** What would make the advice firmer. */
  nextSteps: string[];
};

export type AdviseInput = {
  answers: AdviceAnswers;
  /** Strategies the eval measured; empty before the first `attune eval`. */
  measured: MeasuredStrategy[];
  prices: PriceTable;
  training?: TrainingMeasurement;
  embedding?: EmbeddingMeasurement;
  storageGb?: number;
};

/** Fewer labelled examples than this rarely fine-tune reliably: the practitioners' rule of thumb. */
export const minimumExamplesForFinetuning = 500;
/** A p95 budget under this leaves little room for a retrieval step and a longer prompt. */
const tightLatencyMs = 1000;
/** Without an interval, differences in a 0..1 measure smaller than this are treated as noise. */
const clearMargin = 0.1;
/** A rule moving two options this far apart is a major one; its contradiction is reported. */
const majorRule = 2;

type Effect = Partial<Record<Recommendation, number>>;
type ScoredReason = AdviceReason & { effect: Effect; rule?: string };
type Family = Recommendation | 'base';

export function advise(input: AdviseInput): Advice {
  const { answers } = input;
  const reasons: ScoredReason[] = [];
  const contradictions: string[] = [];
  const excluded = new Set<Recommendation>();
  const best = bestPerFamily(input.measured);
  const measuredAny = input.measured.length > 0;

  const answer = (ref: AdviceKey, text: string, effect: Effect = {}, rule?: string) =>
    reasons.push({ text, basis: 'answer', ref, effect, ...(rule ? { rule } : {}) });
  const measurement = (ref: string, text: string, effect: Effect = {}) =>
    reasons.push({ text, basis: 'measurement', ref, effect });

  // Freshness.
  const cf = answers.changeFrequency;
  if (cf === 'daily' || cf === 'weekly')
    answer(
      'changeFrequency',
      `knowledge changes ${cf}: retrieval serves an edit after the next ingest, while a fine-tuned model is stale until retrained (about ${updatesPerMonth[cf]} runs a month)`,
      { rag: 2, hybrid: 1, ft: -2 },
      `use retrieval when knowledge changes ${cf}`,
    );
  else if (cf === 'monthly')
    answer(
      'changeFrequency',
      'knowledge changes monthly: a monthly retrain is feasible, but only retrieval stays current between runs',
      { rag: 1, ft: -1 },
      'use retrieval when knowledge changes monthly',
    );
  else
    answer(
      'changeFrequency',
      `knowledge changes ${cf}: a fine-tuned model stays current between infrequent retrains`,
      { ft: 1 },
      'fine-tuning is fine for stable knowledge',
    );
  const fresh = families(best).filter((f) => best[f]?.freshShare !== undefined);
  if (fresh.length) {
    const shares = fresh.map((f) => `${f} ${percent(best[f]!.freshShare!)}`).join(', ');
    const top = Math.max(...fresh.map((f) => best[f]!.freshShare!));
    const weight = cf === 'rarely' || cf === 'quarterly' ? 1 : 2;
    const effect: Effect = {};
    for (const f of fresh) if (f !== 'base' && best[f]!.freshShare! < top - clearMargin) effect[f] = -weight;
    measurement('freshShare', `measured freshness (answers reflecting an updated fact): ${shares}`, effect);
    const rag = best.rag?.freshShare;
    const ft = best.ft?.freshShare;
    if (
      cf !== 'rarely' &&
      cf !== 'quarterly' &&
      rag !== undefined &&
      ft !== undefined &&
      ft > rag + clearMargin
    )
      contradictions.push(
        `the rule of thumb says retrieval keeps answers fresher, but ft reflected ${percent(ft)} of updated facts against rag's ${percent(rag)}`,
      );
  }

  // Citations.
  if (answers.citationsRequired) {
    answer(
      'citationsRequired',
      'answers must cite their sources: retrieval answers point at the passages they used; a fine-tuned model alone cannot say where a fact came from',
      { rag: 2, hybrid: 2 },
      'use retrieval when answers must cite sources',
    );
    excluded.add('ft');
  } else answer('citationsRequired', 'citations are not required: fine-tuning alone stays an option');

  // Data and skills.
  const enoughData = answers.labelledExamples >= minimumExamplesForFinetuning;
  if (!enoughData)
    answer(
      'labelledExamples',
      `only ${answers.labelledExamples} labelled examples (under ~${minimumExamplesForFinetuning}): too few to fine-tune reliably; attune dataset generate can draft more from the documents, to be reviewed`,
      { ft: -2, hybrid: -1.5 },
      'do not fine-tune with little labelled data',
    );
  else
    answer(
      'labelledExamples',
      `${answers.labelledExamples} labelled examples: enough to fine-tune and to hold some out for evaluation`,
    );
  if (answers.mlSkills === 'none')
    answer(
      'mlSkills',
      'no machine-learning skills in the team: training, evaluating and retraining adapters needs them; retrieval needs none',
      { ft: -2, hybrid: -2 },
      'do not fine-tune without ML skills',
    );
  else if (answers.mlSkills === 'some')
    answer(
      'mlSkills',
      'some machine-learning skills: fine-tuning is feasible, but each retrain is recurring work',
      { ft: -0.5, hybrid: -0.5 },
    );
  else
    answer('mlSkills', 'strong machine-learning skills: training and retraining adapters is routine', {
      ft: 0.5,
      hybrid: 0.5,
    });

  // Style and format.
  if (answers.styleOrFormatNeeds === true) {
    if (enoughData && answers.mlSkills !== 'none')
      answer(
        'styleOrFormatNeeds',
        'a fixed house style or format is needed: fine-tuning teaches it more reliably than prompt instructions; the hybrid adds retrieval for facts',
        { ft: 2, hybrid: 2 },
        'fine-tune for style',
      );
    else
      answer(
        'styleOrFormatNeeds',
        'a fixed house style or format is needed, but without the data or skills to fine-tune: describe the format in the prompt first',
        { ft: 0.5, hybrid: 0.5 },
        'fine-tune for style',
      );
  } else if (answers.styleOrFormatNeeds === false)
    answer(
      'styleOrFormatNeeds',
      "no special style or format: the base model's style with retrieved facts suffices",
      { rag: 0.5 },
    );

  // Latency.
  const budget = answers.latencyBudgetMs;
  const latencyMeasured = families(best).filter((f) => f !== 'base');
  if (budget < tightLatencyMs)
    answer(
      'latencyBudgetMs',
      `a tight ${budget} ms p95 budget: retrieval adds a search and a longer prompt to every answer, the hybrid pays both`,
      { ft: 1, rag: -0.5, hybrid: -1 },
      'retrieval is slower',
    );
  else answer('latencyBudgetMs', `a ${budget} ms p95 budget leaves room for a retrieval step`);
  for (const f of latencyMeasured) {
    const p95 = best[f]!.latencyP95Ms;
    if (p95 > budget)
      measurement('latencyP95Ms', `${f}'s measured p95 ${ms(p95)} is over the ${ms(budget)} budget`, {
        [f]: -3,
      });
    else measurement('latencyP95Ms', `${f}'s measured p95 ${ms(p95)} is within the ${ms(budget)} budget`);
  }
  if (budget < tightLatencyMs && best.ft && best.rag && best.ft.latencyP95Ms > best.rag.latencyP95Ms)
    contradictions.push(
      `the rule of thumb says retrieval is slower, but ft's measured p95 ${ms(best.ft.latencyP95Ms)} is above rag's ${ms(best.rag.latencyP95Ms)}`,
    );

  // Cost of a wrong answer.
  const harm = answers.wrongAnswerCost;
  if (harm === 'high')
    answer(
      'wrongAnswerCost',
      'a wrong answer is costly: grounded answers with sources can be checked, and retrieval can abstain when the evidence is weak',
      { rag: 1, hybrid: 1, ft: -1 },
      'prefer grounded answers when mistakes are costly',
    );
  else if (harm === 'medium')
    answer('wrongAnswerCost', 'a wrong answer has a moderate cost: grounding helps', {
      rag: 0.5,
      hybrid: 0.5,
    });
  else answer('wrongAnswerCost', 'a wrong answer is cheap: cost and speed weigh more than grounding');
  const harmWeight = harm === 'high' ? 2 : harm === 'medium' ? 1 : 0.5;
  compareMeasure(best, 'groundedness', 'higher', harmWeight, measurement);
  compareMeasure(best, 'hallucinationRate', 'lower', harmWeight, measurement);

  // Sensitivity.
  const sensitive = answers.dataSensitivity === 'confidential' || answers.dataSensitivity === 'regulated';
  if (sensitive) {
    answer(
      'dataSensitivity',
      `data is ${answers.dataSensitivity}: retrieval checks each reader's access to each document at answer time, while facts trained into weights reach everyone who can query the model`,
      { rag: 1, ft: -1 },
      'keep sensitive facts out of the weights',
    );
    const hosted = [
      ...new Set(input.measured.filter((s) => isHosted(input.prices, s.model)).map((s) => s.model)),
    ];
    answer(
      'dataSensitivity',
      hosted.length
        ? `data is ${answers.dataSensitivity}: ${hosted.join(', ')} ${hosted.length > 1 ? 'are' : 'is'} hosted, so questions, passages and any training data leave your machines; use local models (Attune's defaults), where training data leaves nowhere`
        : `data is ${answers.dataSensitivity}: use local models (Attune's defaults); questions, passages and training data then leave nowhere`,
    );
  } else
    answer(
      'dataSensitivity',
      `data is ${answers.dataSensitivity}: hosted and local models both fit; retrieval still applies each reader's access rights`,
    );
  if (!measuredAny)
    answer(
      'queriesPerMonth',
      `${answers.queriesPerMonth} questions a month: the cost of each approach needs measured tokens and seconds per answer`,
    );

  // Accuracy, with intervals where the eval gave them.
  const accuracyWinners: [Recommendation, Recommendation][] = [];
  const scored = recommendations.filter((r) => best[r]);
  for (let i = 0; i < scored.length; i++) {
    for (let j = i + 1; j < scored.length; j++) {
      const [x, y] = [best[scored[i]!]!, best[scored[j]!]!];
      const [hi, lo] = x.accuracy >= y.accuracy ? [scored[i]!, scored[j]!] : [scored[j]!, scored[i]!];
      const verdict = compareAccuracy(best[hi]!, best[lo]!);
      if (verdict === 'clear') {
        accuracyWinners.push([hi, lo]);
        measurement(
          'accuracy',
          `${describe(hi, best[hi]!)} is above ${describe(lo, best[lo]!)}: the intervals do not overlap`,
          { [hi]: 3 },
        );
      } else if (verdict === 'likely')
        measurement(
          'accuracy',
          `${describe(hi, best[hi]!)} is above ${describe(lo, best[lo]!)} by more than ${clearMargin}, without intervals to confirm it`,
          { [hi]: 1 },
        );
      else
        measurement(
          'accuracy',
          `${describe(hi, best[hi]!)} and ${describe(lo, best[lo]!)} are not measurably different`,
        );
    }
  }
  if (best.base)
    for (const r of scored) {
      if (
        compareAccuracy(best[r]!, best.base) !== 'clear' &&
        best[r]!.accuracy - best.base.accuracy < clearMargin
      )
        measurement(
          'accuracy',
          `${describe(r, best[r]!)} is not measurably above the base model alone (${fmtAccuracy(best.base)}): ${r} added nothing measurable`,
          { [r]: -1 },
        );
    }

  // Cost, from the measured resources and the price table.
  const projected = families(best).map((f) => best[f]!);
  const costs = projectCosts({
    strategies: projected,
    queriesPerMonth: answers.queriesPerMonth,
    changeFrequency: cf,
    prices: input.prices,
    ...(input.training ? { training: input.training } : {}),
    ...(input.embedding ? { embedding: input.embedding } : {}),
    ...(input.storageGb !== undefined ? { storageGb: input.storageGb } : {}),
  });
  const options = costs.approaches.filter((a) => a.approach !== 'base');
  if (options.length >= 2) {
    const cheapest = options.reduce((a, b) => (b.total < a.total ? b : a));
    const family = familyOf(cheapest.approach) as Recommendation;
    const dearest = options.reduce((a, b) => (b.total > a.total ? b : a));
    const ratio = costs.ratios.find((r) => r.more === dearest.label && r.less === cheapest.label);
    measurement(
      'cost12Months',
      `${cheapest.label} is the cheapest over 12 months at ${answers.queriesPerMonth} questions a month${ratio && dearest !== cheapest ? `; ${ratio.text}` : ''}`,
      { [family]: harm === 'low' ? 2 : 1 },
    );
  }

  // Rules first, then the measurements on top.
  const ruleScores = total(reasons.filter((r) => r.basis === 'answer'));
  const scores = total(reasons);
  const allowed = recommendations.filter((r) => !excluded.has(r));
  let recommendation = argmax(allowed, scores);
  const ruleChoice = argmax(allowed, ruleScores);
  // A clear accuracy gap beats the rules, unless the winner is stale or too slow by measurement.
  let overridden = false;
  for (let guard = 0; guard < recommendations.length; guard++) {
    const beater = accuracyWinners.find(
      ([hi, lo]) => lo === recommendation && allowed.includes(hi) && !measuredWorse(best, hi, lo, answers),
    );
    if (!beater) break;
    recommendation = beater[0];
    overridden = true;
  }

  for (const [hi, lo] of accuracyWinners) {
    if (excluded.has(hi)) {
      contradictions.push(
        `${describe(hi, best[hi]!)} is above ${describe(lo, best[lo]!)}, but answers must cite sources, which ${hi} alone cannot: the hybrid keeps its gains and adds sources`,
      );
      continue;
    }
    const rule = strongestRule(reasons, lo, hi);
    if (rule)
      contradictions.push(
        `the rule of thumb says ${rule}, but ${describe(lo, best[lo]!)} is below ${hi}'s ${fmtAccuracy(best[hi]!)}`,
      );
  }
  if (overridden && recommendation !== ruleChoice)
    contradictions.push(
      `the rules of thumb alone would choose ${ruleChoice}; the measurements choose ${recommendation}`,
    );

  const nextSteps: string[] = [];
  if (!measuredAny)
    nextSteps.push(
      'run attune eval to measure rag, ft and the hybrid on your own questions: this advice rests on answers alone',
    );
  else {
    const missing = recommendations.filter((r) => !best[r] && !excluded.has(r));
    if (missing.length) nextSteps.push(`run attune eval on ${missing.join(' and ')} too: not measured yet`);
    if (input.measured.some((s) => !s.accuracyInterval))
      nextSteps.push(
        'measure with intervals (attune eval reports them) so differences can be told from noise',
      );
  }
  for (const note of costs.notes) nextSteps.push(note);

  const others = allowed.filter((r) => r !== recommendation).map((r) => scores[r]);
  const margin = scores[recommendation] - Math.max(Number.NEGATIVE_INFINITY, ...others);
  const confidence: Advice['confidence'] =
    !measuredAny || !best[recommendation]
      ? 'low'
      : contradictions.length
        ? 'medium'
        : margin >= 3
          ? 'high'
          : margin >= 1
            ? 'medium'
            : 'low';

  return {
    recommendation,
    confidence,
    reasons: reasons.map(({ text, basis, ref }) => ({ text, basis, ref })),
    contradictions,
    costs,
    scores,
    excluded: [...excluded],
    nextSteps,
  };
}

function familyOf(approach: MeasuredStrategy['approach']): Family {
  return approach === 'extractive' ? 'rag' : approach;
}

/** The most accurate measured strategy of each family; extractive answers count as retrieval. */
function bestPerFamily(measured: MeasuredStrategy[]): Partial<Record<Family, MeasuredStrategy>> {
  const best: Partial<Record<Family, MeasuredStrategy>> = {};
  for (const s of measured) {
    const f = familyOf(s.approach);
    if (!best[f] || s.accuracy > best[f]!.accuracy) best[f] = s;
  }
  return best;
}

function families(best: Partial<Record<Family, MeasuredStrategy>>): Family[] {
  return (['rag', 'ft', 'hybrid', 'base'] as const).filter((f) => best[f]);
}

function compareAccuracy(hi: MeasuredStrategy, lo: MeasuredStrategy): 'clear' | 'likely' | 'none' {
  if (hi.accuracyInterval && lo.accuracyInterval)
    return hi.accuracyInterval[0] > lo.accuracyInterval[1] ? 'clear' : 'none';
  return hi.accuracy - lo.accuracy > clearMargin ? 'likely' : 'none';
}

/** Whether `hi` loses to `lo` on a measurement the accuracy test set cannot see. */
function measuredWorse(
  best: Partial<Record<Family, MeasuredStrategy>>,
  hi: Recommendation,
  lo: Recommendation,
  answers: AdviceAnswers,
): boolean {
  const [h, l] = [best[hi]!, best[lo]!];
  const changes = answers.changeFrequency !== 'rarely' && answers.changeFrequency !== 'quarterly';
  if (
    changes &&
    h.freshShare !== undefined &&
    l.freshShare !== undefined &&
    h.freshShare < l.freshShare - clearMargin
  )
    return true;
  return h.latencyP95Ms > answers.latencyBudgetMs && l.latencyP95Ms <= answers.latencyBudgetMs;
}

function compareMeasure(
  best: Partial<Record<Family, MeasuredStrategy>>,
  key: 'groundedness' | 'hallucinationRate',
  better: 'higher' | 'lower',
  weight: number,
  measurement: (ref: string, text: string, effect: Effect) => void,
): void {
  const have = recommendations.filter((r) => best[r]?.[key] !== undefined);
  if (!have.length) return;
  const value = (r: Recommendation) => best[r]![key]!;
  const top = better === 'higher' ? Math.max(...have.map(value)) : Math.min(...have.map(value));
  const effect: Effect = {};
  for (const r of have) if (Math.abs(value(r) - top) > clearMargin) effect[r] = -weight;
  const name = key === 'groundedness' ? 'groundedness' : 'hallucination rate';
  measurement(
    key,
    `measured ${name} (${better} is better): ${have.map((r) => `${r} ${value(r).toFixed(2)}`).join(', ')}`,
    effect,
  );
}

function total(reasons: ScoredReason[]): Record<Recommendation, number> {
  const scores: Record<Recommendation, number> = { rag: 0, ft: 0, hybrid: 0 };
  for (const r of reasons) for (const o of recommendations) scores[o] += r.effect[o] ?? 0;
  return scores;
}

/** Ties go to the simpler option: retrieval, then the hybrid, then fine-tuning alone. */
function argmax(options: Recommendation[], scores: Record<Recommendation, number>): Recommendation {
  const order: Recommendation[] = ['rag', 'hybrid', 'ft'];
  return order.filter((o) => options.includes(o)).reduce((a, b) => (scores[b] > scores[a] ? b : a));
}

/**
 * The rule of thumb that did most to favour `favoured` over `other`, if it did so by at least
 * `majorRule` points: minor nudges are not worth reporting as contradicted.
 */
function strongestRule(
  reasons: ScoredReason[],
  favoured: Recommendation,
  other: Recommendation,
): string | undefined {
  let best: ScoredReason | undefined;
  let gap = majorRule - Number.EPSILON;
  for (const r of reasons) {
    if (r.basis !== 'answer' || !r.rule) continue;
    const g = (r.effect[favoured] ?? 0) - (r.effect[other] ?? 0);
    if (g > gap) [best, gap] = [r, g];
  }
  return best?.rule;
}

function isHosted(prices: PriceTable, model: string): boolean {
  return Object.hasOwn(prices.models, model) && isTokenPrice(priceOf(prices, model));
}

export function fmtAccuracy(s: MeasuredStrategy): string {
  const i = s.accuracyInterval;
  return `${s.accuracy.toFixed(2)}${i ? ` [${i[0].toFixed(2)},${i[1].toFixed(2)}]` : ''}`;
}

function describe(name: string, s: MeasuredStrategy): string {
  return `${name}'s ${s.accuracyMetric ?? 'accuracy'} ${fmtAccuracy(s)}`;
}

function percent(share: number): string {
  return `${Math.round(share * 100)}%`;
}

function ms(value: number): string {
  return `${Math.round(value)} ms`;
}
