import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AnswerResult } from '../answer/index.ts';
import { failedOutcome, ndcgAt10, type QuestionOutcome, scoreAnswer, summarize } from './metrics.ts';
import { comparePaired, repeatSpread } from './paired.ts';
import { percentile } from './percentile.ts';
import type { TestQuestion } from './test-set.ts';

// Answers are written out here (the scorer's input), so each expected number is computed by hand.
function result(
  over: Partial<AnswerResult> & { sentences?: { cited: number[]; supported: boolean }[] },
): AnswerResult {
  const sentences = (over.sentences ?? []).map((s) => ({
    text: 'x',
    cited: s.cited,
    origin: 'model' as const,
    lexicalSupport: 1,
    semanticSupport: 1,
    supported: s.supported,
  }));
  const supported = sentences.filter((s) => s.supported).length;
  return {
    auditId: 'a',
    question: 'q',
    answer: '',
    abstained: false,
    sources: [],
    citations: [],
    invalidCitations: [],
    groundedness: { score: sentences.length ? supported / sentences.length : 0, sentences },
    retrievalConfidence: undefined,
    kbVersion: 3,
    mode: 'rag',
    cached: false,
    timings: { embedMs: 0, searchMs: 0, rerankMs: 0, firstTokenMs: 100, generateMs: 0, totalMs: 400 },
    usage: { inputTokens: 200, outputTokens: 10 },
    warnings: [],
    ...over,
  };
}
const source = (n: number, docId: string) => ({
  n,
  docId,
  chunkId: `${docId}:0`,
  title: docId,
  source: docId,
  location: '',
  snippet: '',
  text: '',
  version: 1,
  score: 1,
});
const q = (id: string, answers: string[], gold: string[] = []): TestQuestion => ({
  id,
  question: `question ${id}`,
  answers,
  answerable: answers.length > 0,
  gold_doc_ids: gold,
});

describe('scoring one answer', () => {
  it('scores F1 and EM with SQuAD normalisation, the gold rank, and citations', () => {
    // prediction "Eiffel Tower in Paris" vs gold "Eiffel Tower": P 2/4, R 1, F1 2/3
    const partial = scoreAnswer(
      'rag',
      q('0', ['Eiffel Tower']),
      result({ answer: 'Eiffel Tower in Paris [1]' }),
      {
        retrieval: true,
      },
    );
    assert.ok(Math.abs(partial.f1 - 2 / 3) < 1e-9, String(partial.f1));
    const o = scoreAnswer(
      'rag',
      q('1', ['the Eiffel Tower'], ['b.md']),
      result({
        answer: 'Eiffel Tower [2]',
        sources: [source(1, 'kb/a.md'), source(2, 'kb/b.md'), source(3, 'kb/b.md')],
        sentences: [{ cited: [2], supported: true }],
      }),
      { retrieval: true },
    );
    // Scored without "[2]", and "the" is dropped by SQuAD normalisation: an exact match.
    assert.equal(o.exactMatch, 1);
    assert.equal(o.f1, 1);
    assert.equal(o.correct, true);
    assert.deepEqual(o.retrieved, ['kb/a.md', 'kb/b.md']);
    assert.equal(o.goldRank, 2);
    assert.ok(Math.abs(o.ndcg10! - 1 / Math.log2(3)) < 1e-9);
    assert.equal(o.citationPrecision, 1);
    assert.equal(o.citationRecall, 1);
    assert.equal(o.hallucinated, false);
  });

  it('counts an unanswerable question right only when abstained, and a wrong unsupported answer as hallucinated', () => {
    const abstained = scoreAnswer(
      'rag',
      q('2', []),
      result({ abstained: true, answer: 'The knowledge base does not say.' }),
      {
        retrieval: true,
      },
    );
    assert.equal(abstained.correct, true);
    assert.equal(abstained.f1, 1);
    const made = scoreAnswer('base', q('3', []), result({ answer: 'In 1889.' }), { retrieval: false });
    assert.equal(made.correct, false);
    assert.equal(made.f1, 0);
    assert.equal(made.hallucinated, true);
    assert.equal(made.groundedness, undefined);
    // A wrong answer the sources do support is wrong, not hallucinated (the gold or the source disagree).
    const sourced = scoreAnswer(
      'rag',
      q('4', ['1889']),
      result({ answer: 'In 1900 [1]', sentences: [{ cited: [1], supported: true }] }),
      {
        retrieval: true,
      },
    );
    assert.equal(sourced.correct, false);
    assert.equal(sourced.hallucinated, false);
    // Half the citations support their sentence.
    const mixed = scoreAnswer(
      'rag',
      q('5', ['x']),
      result({
        answer: 'a [1]. b [2].',
        sentences: [
          { cited: [1], supported: true },
          { cited: [2], supported: false },
        ],
      }),
      { retrieval: true },
    );
    assert.equal(mixed.citationPrecision, 0.5);
    assert.equal(mixed.citationRecall, 0.5);
  });

  it('nDCG@10 with two gold documents', () => {
    // gold at ranks 1 and 3: (1 + 1/log2 4) / (1 + 1/log2 3)
    const expected = (1 + 0.5) / (1 + 1 / Math.log2(3));
    assert.ok(Math.abs(ndcgAt10(['a', 'x', 'b'], ['a', 'b']) - expected) < 1e-12);
    assert.equal(ndcgAt10(['x', 'y'], ['a']), 0);
  });
});

describe('summaries', () => {
  it('keeps a failed question in every average, as wrong, and counts it', () => {
    const rows: QuestionOutcome[] = [
      scoreAnswer('rag', q('1', ['Paris']), result({ answer: 'Paris' }), { retrieval: true }),
      failedOutcome('rag', q('2', ['Rome']), new Error('model crashed'), 12),
    ];
    const s = summarize('rag', rows);
    assert.equal(s.questions, 2);
    assert.equal(s.failed, 1);
    assert.equal(s.f1.value, 0.5);
    assert.equal(s.accuracy.value, 0.5);
    // Wilson 1/2: [0.0945, 0.9055]
    assert.ok(Math.abs(s.accuracy.low - 0.0945) < 5e-4 && Math.abs(s.accuracy.high - 0.9055) < 5e-4);
  });

  it('gives the same intervals for the same outcomes and seed', () => {
    const rows = Array.from({ length: 30 }, (_, i) =>
      scoreAnswer('rag', q(String(i), ['yes']), result({ answer: i % 3 ? 'yes' : 'no' }), {
        retrieval: false,
      }),
    );
    assert.deepEqual(summarize('rag', rows, 7).f1, summarize('rag', rows, 7).f1);
    assert.ok(Math.abs(summarize('rag', rows).f1.value - 20 / 30) < 1e-12);
  });

  it('abstention precision and recall from unanswerable questions', () => {
    const rows = [
      scoreAnswer('rag', q('u1', []), result({ abstained: true }), { retrieval: true }),
      scoreAnswer('rag', q('u2', []), result({ answer: 'made up' }), { retrieval: true }),
      scoreAnswer('rag', q('a1', ['x']), result({ abstained: true }), { retrieval: true }),
      scoreAnswer('rag', q('a2', ['x']), result({ answer: 'x' }), { retrieval: true }),
    ];
    const s = summarize('rag', rows);
    assert.equal(s.abstentionRecall.value, 0.5); // 1 of 2 unanswerable
    assert.equal(s.abstentionPrecision.value, 0.5); // 1 of 2 abstentions was on an unanswerable question
    assert.equal(s.overAbstention.value, 0.5);
  });

  it('uses the nearest-rank percentile everywhere', () => {
    assert.equal(percentile([1, 2, 3, 4], 50), 2);
    assert.equal(percentile([1, 2, 3, 4], 95), 4);
    assert.ok(Number.isNaN(percentile([], 50)));
  });
});

describe('paired comparison', () => {
  const rows = (strategy: string, f1s: number[]) =>
    f1s.map((f1, i) => ({
      ...failedOutcome(strategy, q(String(i), ['x']), '', 0),
      status: 'ok' as const,
      f1,
    }));

  it('finds a consistent improvement significant and lists regressions worst first', () => {
    const a = rows('a', Array(12).fill(0));
    const b = rows(
      'b',
      [...Array(10).fill(1), 0.2, 0.5].map((x, i) => (i === 11 ? 0 : x)),
    );
    b[11] = { ...b[11]!, f1: 0 };
    const c = comparePaired(a, b, 'f1', { seed: 3 });
    assert.equal(c.matched, 12);
    assert.ok(c.meanDelta > 0.8);
    assert.ok(c.low > 0.6, String(c.low));
    // 10 of 12 deltas are +1: a sign flip that keeps the mean this large is rare.
    assert.ok(c.pValue < 0.01, String(c.pValue));
    const worse = comparePaired(b, a, 'f1', { seed: 3 });
    assert.equal(worse.regressions.length, 11);
    assert.equal(worse.regressions[0]!.delta, -1);
    assert.equal(worse.regressions.at(-1)!.delta, -0.2);
  });

  it('finds no difference between identical runs, and reports unmatched questions', () => {
    const a = rows('a', [0.2, 0.4, 0.6]);
    const c = comparePaired(a, [...rows('b', [0.2, 0.4, 0.6]), ...rows('b', [0, 0, 0, 1]).slice(3)], 'f1');
    assert.equal(c.meanDelta, 0);
    assert.equal(c.pValue, 1);
    assert.deepEqual(c.unmatched, ['3']);
    assert.equal(c.regressions.length, 0);
  });

  it('measures run-to-run spread over repeats', () => {
    const first = rows('a', [1, 0, 1, 0]);
    const second = rows('a', [1, 1, 1, 0]).map((o) => ({ ...o, repeat: 1 }));
    const spread = repeatSpread([...first, ...second], 'a');
    assert.deepEqual(spread.means, [0.5, 0.75]);
    assert.equal(spread.meanAbsChange, 0.25);
    assert.ok(Math.abs(spread.sd - Math.sqrt(0.03125)) < 1e-12);
  });
});
