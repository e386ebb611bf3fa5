import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AttuneError } from '../models/model-error.ts';
import {
  adviceQuestions,
  answerFromText,
  parseAdviceAnswers,
  parsePartialAdviceAnswers,
} from './advice-inputs.ts';

const good = {
  changeFrequency: 'weekly',
  citationsRequired: true,
  latencyBudgetMs: 3000,
  labelledExamples: 200,
  mlSkills: 'some',
  wrongAnswerCost: 'high',
  dataSensitivity: 'internal',
  queriesPerMonth: 20000,
  styleOrFormatNeeds: false,
};

function messageOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    assert.ok(AttuneError.isInstance(error), String(error));
    return error.message;
  }
  assert.fail('expected an error');
}

describe('advice answers', () => {
  it('a complete answers file parses to the same values', () => {
    assert.deepEqual(parseAdviceAnswers(good, 'answers.json'), good);
    const { styleOrFormatNeeds: _, ...withoutOptional } = good;
    assert.equal(parseAdviceAnswers(withoutOptional, 'answers.json').styleOrFormatNeeds, undefined);
  });
  it('an unknown key is named, with the file and the known keys', () => {
    const message = messageOf(() => parseAdviceAnswers({ ...good, foo: 1 }, 'answers.json'));
    assert.match(message, /unknown question 'foo' in answers\.json; known: changeFrequency, /);
    assert.match(message, /queriesPerMonth/);
  });
  it('a bad enum value, a wrong type and a missing answer name the field and what is allowed', () => {
    const badEnum = messageOf(() => parseAdviceAnswers({ ...good, changeFrequency: 'hourly' }, 'a.json'));
    assert.match(
      badEnum,
      /changeFrequency in a\.json is "hourly"; allowed: one of daily, weekly, monthly, quarterly, rarely/,
    );
    const badType = messageOf(() => parseAdviceAnswers({ ...good, citationsRequired: 'yes' }, 'a.json'));
    assert.match(badType, /citationsRequired .*allowed: true or false/);
    const { latencyBudgetMs: _, ...missing } = good;
    assert.match(
      messageOf(() => parseAdviceAnswers(missing, 'a.json')),
      /latencyBudgetMs in a\.json is missing/,
    );
    assert.match(
      messageOf(() => parseAdviceAnswers({ ...good, labelledExamples: 2.5 }, 'a.json')),
      /labelledExamples .*whole number/,
    );
  });
  it('a partial file may leave questions out but still rejects unknown keys', () => {
    assert.deepEqual(parsePartialAdviceAnswers({ mlSkills: 'none' }, 'p.json'), { mlSkills: 'none' });
    assert.match(
      messageOf(() => parsePartialAdviceAnswers({ mlskills: 'none' }, 'p.json')),
      /'mlskills'/,
    );
  });
  it('typed answers are read per kind, and a bad one names the flag', () => {
    const q = (key: string) => adviceQuestions.find((x) => x.key === key)!;
    assert.equal(answerFromText(q('citationsRequired'), 'Yes'), true);
    assert.equal(answerFromText(q('citationsRequired'), 'no'), false);
    assert.equal(answerFromText(q('latencyBudgetMs'), '2500'), 2500);
    assert.equal(answerFromText(q('changeFrequency'), 'Daily'), 'daily');
    assert.match(
      messageOf(() => answerFromText(q('latencyBudgetMs'), '0')),
      /--latency-budget-ms "0"/,
    );
    assert.match(
      messageOf(() => answerFromText(q('labelledExamples'), '1.5')),
      /--labelled-examples/,
    );
    assert.match(
      messageOf(() => answerFromText(q('mlSkills'), 'expert')),
      /one of none, some, strong/,
    );
  });
});
