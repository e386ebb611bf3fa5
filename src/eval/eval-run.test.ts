import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { AnswerResult } from '../answer/index.ts';
import {
  type AnswerFn,
  buildReport,
  EvalRunStore,
  type ResolvedStrategy,
  runEvaluation,
} from './eval-run.ts';
import { renderReportHtml } from './report-html.ts';
import { freezeTestSet } from './test-set.ts';

// The runner's control flow (resume, failures, a torn last line) with a scripted answer function;
// what the answers are worth is measured with real models in eval-e2e.test.ts.
const dir = mkdtempSync(join(tmpdir(), 'attune-evalrun-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const testSet = freezeTestSet(
  Array.from({ length: 5 }, (_, i) => ({
    id: `q${i}`,
    question: `What is ${i}?`,
    answers: [String(i)],
    answerable: true,
    gold_doc_ids: [],
  })),
  { name: 'five', origin: 'test', kbVersion: 1 },
);
const strategy = (name: string): ResolvedStrategy => ({ name, kind: 'base', model: { name: 'm', id: 'm' } });
const answerOf = (text: string): AnswerResult => ({
  auditId: 'a',
  question: '',
  answer: text,
  abstained: false,
  sources: [],
  citations: [],
  invalidCitations: [],
  groundedness: { score: 0, sentences: [] },
  retrievalConfidence: undefined,
  kbVersion: 1,
  mode: 'fine-tuned',
  cached: false,
  timings: { embedMs: 0, searchMs: 0, rerankMs: 0, firstTokenMs: 1, generateMs: 1, totalMs: 2 },
  usage: { inputTokens: 5, outputTokens: 1 },
  warnings: [],
});
const newRun = (store: EvalRunStore) =>
  store.create({
    testSet: { name: 'five', contentSha256: testSet.contentSha256, kbVersion: 1, questions: 5 },
    kbVersion: 1,
    strategies: [strategy('a'), strategy('b')],
    repeats: 1,
    seed: 1,
    principal: { user: 'eval', groups: [] },
    notes: [],
  });

describe('eval runs', () => {
  it('records a failing question as failed and goes on', async () => {
    const store = new EvalRunStore(join(dir, 'runs1'));
    const run = newRun(store);
    const answer: AnswerFn = async (s, q) => {
      if (s.name === 'b' && q.id === 'q2') throw new Error('context overflow');
      return answerOf(q.answers[0]!);
    };
    const { outcomes } = await runEvaluation({ store, run, testSet, answer });
    assert.equal(outcomes.length, 10);
    const failed = outcomes.filter((o) => o.status === 'failed');
    assert.deepEqual(
      failed.map((o) => [o.strategy, o.questionId, o.error]),
      [['b', 'q2', 'context overflow']],
    );
    const report = buildReport(run, outcomes, { answerMs: 1, runMs: 2 }, { questions: testSet.questions });
    const b = report.summaries.find((s) => s.strategy === 'b')!;
    assert.equal(b.failed, 1);
    assert.equal(b.f1.value, 0.8); // the failure counts as 0, it is not dropped
    assert.match(renderReportHtml(report), /context overflow/);
  });

  it('resumes an interrupted run without answering finished questions again, past a torn last line', async () => {
    const store = new EvalRunStore(join(dir, 'runs2'));
    const run = newRun(store);
    const asked: string[] = [];
    const controller = new AbortController();
    const answer: AnswerFn = async (s, q) => {
      asked.push(`${s.name}/${q.id}`);
      if (asked.length === 3) controller.abort();
      return answerOf(q.answers[0]!);
    };
    await assert.rejects(runEvaluation({ store, run, testSet, answer, abortSignal: controller.signal }));
    assert.equal(store.outcomes(run.id).length, 3);
    // A crash in the middle of an append leaves half a line.
    appendFileSync(join(store.dir, run.id, 'outcomes.jsonl'), '{"strategy":"a","questionId":"q3"');
    asked.length = 0;
    const { outcomes } = await runEvaluation({ store, run: store.config(run.id), testSet, answer });
    assert.deepEqual(asked, ['a/q3', 'a/q4', 'b/q0', 'b/q1', 'b/q2', 'b/q3', 'b/q4']);
    assert.equal(outcomes.length, 10);
    assert.equal(store.outcomes(run.id).length, 10);
    assert.deepEqual(
      [...new Set(store.outcomes(run.id).map((o) => `${o.strategy}/${o.questionId}`))].length,
      10,
    );
  });

  it('stores the judge verdict with the outcome, and a failing judge leaves the answer unjudged', async () => {
    const store = new EvalRunStore(join(dir, 'runs4'));
    const run = newRun(store);
    await runEvaluation({
      store,
      run,
      testSet,
      answer: async (_s, q) => answerOf(q.id === 'q1' ? 'wrong' : q.answers[0]!),
      judge: async (q) => {
        if (q.id === 'q4') throw new Error('judge down');
        return true;
      },
    });
    const stored = store.outcomes(run.id).filter((o) => o.strategy === 'a');
    assert.deepEqual(stored.find((o) => o.questionId === 'q1')!.judge, {
      correct: true,
      agreesWithGold: false,
    });
    assert.deepEqual(stored.find((o) => o.questionId === 'q0')!.judge, {
      correct: true,
      agreesWithGold: true,
    });
    const q4 = stored.find((o) => o.questionId === 'q4')!;
    assert.equal(q4.status, 'ok');
    assert.equal(q4.judge, undefined);
  });

  it('warms each strategy up before timing it, and refuses a second run with the same id', async () => {
    const store = new EvalRunStore(join(dir, 'runs3'));
    const run = newRun(store);
    const warmed: string[] = [];
    await runEvaluation({
      store,
      run,
      testSet,
      answer: async (_s, q) => answerOf(q.answers[0]!),
      warmup: async (s) => {
        warmed.push(s.name);
      },
    });
    assert.deepEqual(warmed, ['a', 'b']);
    assert.throws(() => store.create({ ...run }), /exists already/);
  });
});
