import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { adviceQuestions } from './advice-inputs.ts';
import { formatAdvice } from './advice-text.ts';
import { advise } from './advisor.ts';
import { parsePriceTable } from './prices.ts';
import { measured, neutralAnswers } from './testing.ts';

const prices = parsePriceTable(
  {
    models: { 'vm-model': { hardwarePerHour: 0.1 }, gpu: { hardwarePerHour: 2 } },
    embeddingPerMillion: 0.02,
    storagePerGbMonth: 0.1,
  },
  'prices.json',
);
const training = { secondsPerRun: 1800, hardware: 'gpu' };
const embedding = { tokensInKb: 1_000_000 };
const three = [
  measured({ approach: 'rag', accuracy: 0.55, accuracyInterval: [0.49, 0.61] }),
  measured({ approach: 'ft', accuracy: 0.53, accuracyInterval: [0.47, 0.59] }),
  measured({ approach: 'hybrid', accuracy: 0.56, accuracyInterval: [0.5, 0.62] }),
];

describe('advisor', () => {
  it('daily changes and required citations → rag; with nothing measured, low confidence and "run attune eval"', () => {
    const advice = advise({
      answers: { ...neutralAnswers, changeFrequency: 'daily', citationsRequired: true },
      measured: [],
      prices,
    });
    assert.equal(advice.recommendation, 'rag');
    assert.equal(advice.confidence, 'low');
    assert.ok(advice.excluded.includes('ft'));
    assert.match(advice.nextSteps.join('\n'), /run attune eval/);
    assert.ok(advice.reasons.every((r) => r.basis === 'answer'));
    const refs = advice.reasons.map((r) => r.ref);
    assert.ok(refs.includes('changeFrequency') && refs.includes('citationsRequired'));
    assert.deepEqual(advice.costs.approaches, []);
  });
  it('rarely changing, a house style, 5000 examples and strong skills → ft or hybrid', () => {
    const advice = advise({
      answers: {
        ...neutralAnswers,
        changeFrequency: 'rarely',
        styleOrFormatNeeds: true,
        labelledExamples: 5000,
        mlSkills: 'strong',
        wrongAnswerCost: 'low',
      },
      measured: [],
      prices,
    });
    assert.ok(['ft', 'hybrid'].includes(advice.recommendation), advice.recommendation);
  });
  it('every reason cites a question or a measured metric', () => {
    const advice = advise({ answers: neutralAnswers, measured: three, prices, training, embedding });
    const keys = new Set<string>(adviceQuestions.map((q) => q.key));
    const metrics = new Set([
      'accuracy',
      'latencyP95Ms',
      'groundedness',
      'hallucinationRate',
      'freshShare',
      'cost12Months',
    ]);
    for (const r of advice.reasons)
      assert.ok(r.basis === 'answer' ? keys.has(r.ref) : metrics.has(r.ref), `${r.basis} ${r.ref}`);
    assert.ok(advice.reasons.some((r) => r.ref === 'cost12Months'));
  });
  it('more questions a month raise every approach’s 12-month cost', () => {
    const at = (queriesPerMonth: number) =>
      advise({
        answers: { ...neutralAnswers, queriesPerMonth },
        measured: three,
        prices,
        training,
        embedding,
      }).costs.approaches;
    const low = at(1000);
    const high = at(100_000);
    assert.equal(low.length, 3);
    for (const [i, a] of low.entries()) assert.ok(high[i]!.total > a.total, a.label);
  });
  it('a dearer training run raises ft’s total and not rag’s', () => {
    const total = (secondsPerRun: number, label: string) =>
      advise({
        answers: neutralAnswers,
        measured: three,
        prices,
        training: { ...training, secondsPerRun },
        embedding,
      }).costs.approaches.find((a) => a.label === label)!.total;
    assert.ok(total(18_000, 'ft') > total(1800, 'ft'));
    assert.equal(total(18_000, 'rag'), total(1800, 'rag'));
  });
  it('a clear measured accuracy gap beats the rule of thumb, and says so', () => {
    const answers = { ...neutralAnswers, changeFrequency: 'weekly' as const };
    const rulesOnly = advise({ answers, measured: [], prices });
    assert.equal(rulesOnly.recommendation, 'rag');
    const advice = advise({
      answers,
      measured: [
        measured({ approach: 'rag', accuracy: 0.3, accuracyInterval: [0.25, 0.35], accuracyMetric: 'F1' }),
        measured({ approach: 'ft', accuracy: 0.7, accuracyInterval: [0.64, 0.76], accuracyMetric: 'F1' }),
      ],
      prices,
      training,
      embedding,
    });
    assert.equal(advice.recommendation, 'ft');
    assert.ok(
      advice.contradictions.some((c) =>
        /the rule of thumb says use retrieval when knowledge changes weekly, but rag's F1 0\.30 \[0\.25,0\.35\] is below ft's 0\.70 \[0\.64,0\.76\]/.test(
          c,
        ),
      ),
      advice.contradictions.join('\n'),
    );
    assert.ok(advice.reasons.some((r) => r.basis === 'measurement' && r.ref === 'accuracy'));
  });
  it('a major rule contradicted by a clear gap is reported even when the recommendation agrees', () => {
    const advice = advise({
      answers: { ...neutralAnswers, changeFrequency: 'weekly', styleOrFormatNeeds: true },
      measured: [
        measured({ approach: 'rag', accuracy: 0.55, accuracyInterval: [0.49, 0.61], accuracyMetric: 'F1' }),
        measured({ approach: 'ft', accuracy: 0.21, accuracyInterval: [0.15, 0.28], accuracyMetric: 'F1' }),
      ],
      prices,
      training,
      embedding,
    });
    assert.equal(advice.recommendation, 'rag');
    assert.deepEqual(advice.contradictions, [
      "the rule of thumb says fine-tune for style, but ft's F1 0.21 [0.15,0.28] is below rag's 0.55 [0.49,0.61]",
    ]);
  });
  it('overlapping intervals leave the rules in charge, with no contradiction', () => {
    const advice = advise({
      answers: { ...neutralAnswers, changeFrequency: 'weekly' },
      measured: three,
      prices,
      training,
      embedding,
    });
    assert.equal(advice.recommendation, 'rag');
    assert.deepEqual(
      advice.contradictions.filter((c) => c.includes('accuracy')),
      [],
    );
  });
  it('a clearly better ft cannot win when citations are required: the contradiction points at the hybrid', () => {
    const advice = advise({
      answers: { ...neutralAnswers, citationsRequired: true },
      measured: [
        measured({ approach: 'rag', accuracy: 0.3, accuracyInterval: [0.25, 0.35] }),
        measured({ approach: 'ft', accuracy: 0.7, accuracyInterval: [0.64, 0.76] }),
      ],
      prices,
      training,
      embedding,
    });
    assert.notEqual(advice.recommendation, 'ft');
    assert.match(advice.contradictions.join('\n'), /must cite sources.*hybrid/);
  });
  it('a measured p95 over the budget counts against that approach', () => {
    const answers = { ...neutralAnswers, latencyBudgetMs: 2000 };
    const fast = advise({ answers, measured: three, prices, training, embedding });
    const slowRag = advise({
      answers,
      measured: [{ ...three[0]!, latencyP95Ms: 4000 }, three[1]!, three[2]!],
      prices,
      training,
      embedding,
    });
    assert.ok(slowRag.scores.rag < fast.scores.rag);
    assert.ok(
      slowRag.reasons.some(
        (r) => r.ref === 'latencyP95Ms' && /rag's measured p95 4000 ms is over/.test(r.text),
      ),
    );
  });
  it('high wrong-answer cost prefers the measured more grounded approach', () => {
    const answers = { ...neutralAnswers, wrongAnswerCost: 'high' as const };
    const grounded = [
      { ...three[0]!, groundedness: 0.9, hallucinationRate: 0.05 },
      { ...three[1]!, groundedness: 0.4, hallucinationRate: 0.3 },
    ];
    const advice = advise({ answers, measured: grounded, prices, training, embedding });
    const without = advise({ answers, measured: [three[0]!, three[1]!], prices, training, embedding });
    assert.ok(advice.scores.ft < without.scores.ft);
    assert.equal(advice.scores.rag, without.scores.rag);
  });
  it('sensitive data with a hosted model says the data leaves', () => {
    const hostedPrices = parsePriceTable(
      { models: { hosted: { inputPerMillion: 1, outputPerMillion: 2 } }, embeddingPerMillion: 0.02 },
      'p.json',
    );
    const advice = advise({
      answers: { ...neutralAnswers, dataSensitivity: 'regulated' },
      measured: [measured({ approach: 'rag', model: 'hosted' })],
      prices: hostedPrices,
      embedding,
    });
    assert.ok(advice.reasons.some((r) => r.ref === 'dataSensitivity' && /hosted is hosted/.test(r.text)));
  });
  it('formats as plain text with the recommendation, reasons and costs', () => {
    const text = formatAdvice(
      advise({ answers: neutralAnswers, measured: three, prices, training, embedding }),
    );
    assert.match(text, /^Recommendation: /);
    assert.match(text, /answer {3}changeFrequency/);
    assert.match(text, /Projected cost over 12 months/);
    assert.match(text, /ft costs .*× rag over 12 months/);
  });
});
