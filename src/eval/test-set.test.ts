import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseStrategyFile, parseStrategyList } from './strategy.ts';
import {
  freezeTestSet,
  readTestQuestions,
  TestSetStore,
  testSetHash,
  unknownGoldDocuments,
} from './test-set.ts';

const dir = mkdtempSync(join(tmpdir(), 'attune-testset-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

describe('test-set import', () => {
  it('reads the shared-data layout from JSONL', () => {
    const path = file(
      'ok.jsonl',
      '{"id":"1","question":"Who?","answers":["Ann"],"answerable":true,"gold_doc_ids":["a.md"]}\n\n{"id":"2","question":"Why?","answers":[],"answerable":false,"gold_doc_ids":[]}\n',
    );
    const questions = readTestQuestions(path);
    assert.equal(questions.length, 2);
    assert.equal(questions[1]!.answerable, false);
  });

  it('names the line and the field of a malformed question', () => {
    const bad = file(
      'bad.jsonl',
      '{"id":"1","question":"Who?","answers":["Ann"]}\n{"id":"2","question":"","answers":["x"]}\n',
    );
    assert.throws(() => readTestQuestions(bad), /bad\.jsonl:2: field "question" is missing or empty/);
    const notJson = file('nj.jsonl', '{"id":"1","question":"Who?","answers":["Ann"]}\n{oops\n');
    assert.throws(() => readTestQuestions(notJson), /nj\.jsonl:2: not JSON/);
    const answers = file('ans.jsonl', '{"id":"1","question":"Who?","answers":"Ann"}\n');
    assert.throws(
      () => readTestQuestions(answers),
      /ans\.jsonl:1: field "answers" must be an array of strings/,
    );
    const noGold = file('ng.jsonl', '{"id":"1","question":"Who?","answerable":true}\n');
    assert.throws(
      () => readTestQuestions(noGold),
      /ng\.jsonl:1: field "answers" is empty, but the question is answerable/,
    );
    const twice = file(
      'tw.jsonl',
      '{"id":"1","question":"Who?","answers":["a"]}\n{"id":"1","question":"What?","answers":["b"]}\n',
    );
    assert.throws(
      () => readTestQuestions(twice),
      /tw\.jsonl:2: field "id": "1" is used twice \(first at .*tw\.jsonl:1\)/,
    );
  });

  it('reads CSV with quoted fields and |-separated lists', () => {
    const path = file(
      'q.csv',
      'id,question,answers,answerable,gold_doc_ids\nq1,"Which plan, annual or monthly?",annual|the annual plan,true,policies.md\nq2,Is there a cafeteria?,,false,\n',
    );
    const [first, second] = readTestQuestions(path);
    assert.deepEqual(first!.answers, ['annual', 'the annual plan']);
    assert.equal(first!.question, 'Which plan, annual or monthly?');
    assert.equal(second!.answerable, false);
    const bad = file('bad.csv', 'id,question,answers,answerable\nq1,Who?,Ann,maybe\n');
    assert.throws(() => readTestQuestions(bad), /bad\.csv:2: field "answerable" is "maybe"/);
  });

  it('freezes with a content hash; an edit after freezing is refused on load', () => {
    const questions = readTestQuestions(join(dir, 'ok.jsonl'));
    const set = freezeTestSet(questions, { name: 'demo', origin: 'ok.jsonl', kbVersion: 4 });
    assert.equal(set.contentSha256, testSetHash(questions));
    assert.notEqual(set.contentSha256, testSetHash([{ ...questions[0]!, answers: ['Bob'] }, questions[1]!]));
    const store = new TestSetStore(join(dir, 'sets'));
    const path = store.save(set);
    assert.equal(store.load('demo').kbVersion, 4);
    assert.throws(() => store.save(set), /exists already/);
    writeFileSync(path, readFileSync(path, 'utf8').replace('"Ann"', '"Bob"'));
    assert.throws(() => store.load('demo'), /edited after it was frozen/);
    assert.throws(() => store.load('nope'), /No test set "nope"/);
    assert.throws(
      () => freezeTestSet(questions, { name: '../x', origin: '', kbVersion: 1 }),
      /not a test-set name/,
    );
  });

  it('finds gold ids that name no stored document, by record id or file name', () => {
    const questions = [
      {
        id: 'a',
        question: 'q',
        answers: ['x'],
        answerable: true,
        gold_doc_ids: ['Normans#3', 'policies.md'],
      },
      { id: 'b', question: 'q', answers: ['x'], answerable: true, gold_doc_ids: ['Normans#9'] },
    ];
    const unknown = unknownGoldDocuments(questions, ['squad/p.jsonl#Normans#3', 'handbook/policies.md']);
    assert.deepEqual(unknown, [{ questionId: 'b', goldDocId: 'Normans#9' }]);
  });
});

describe('strategies', () => {
  it('parses kinds and kind@model, and refuses unknown or repeated ones', () => {
    const list = parseStrategyList('base, rag,rag@openai-compatible:http://localhost:11434/v1#qwen2.5:7b');
    assert.deepEqual(
      list.map((s) => [s.name, s.kind, s.chatModel]),
      [
        ['base', 'base', undefined],
        ['rag', 'rag', undefined],
        [
          'rag@openai-compatible:http://localhost:11434/v1#qwen2.5:7b',
          'rag',
          'openai-compatible:http://localhost:11434/v1#qwen2.5:7b',
        ],
      ],
    );
    assert.throws(() => parseStrategyList('rag,magic'), /Unknown strategy "magic"/);
    assert.throws(() => parseStrategyList('rag,rag'), /listed twice/);
  });

  it('reads a strategy file and names the bad field', () => {
    const ok = parseStrategyFile({ strategies: [{ name: 'r8', kind: 'rag', k: 8 }] }, 's.json');
    assert.equal(ok[0]!.k, 8);
    assert.throws(
      () => parseStrategyFile([{ name: 'r', kind: 'rag', k: 0 }], 's.json'),
      /s\.json: strategies\[0\]\.k/,
    );
    assert.throws(
      () => parseStrategyFile([{ name: 'r', kind: 'rag', colour: 'red' }], 's.json'),
      /strategies\[0\]/,
    );
  });
});
