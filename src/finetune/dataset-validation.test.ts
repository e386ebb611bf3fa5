import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Tokenizer } from '../models/model-spec.ts';
import type { Models } from '../models/models.ts';
import { SMALL_CHAT_MODEL, testModels } from '../models/testing.ts';
import type { ChatExample } from './chat-example.ts';
import { formatIssue } from './dataset-issue.ts';
import { splitDataset, splitDatasetFile } from './dataset-split.ts';
import {
  countExampleTokens,
  datasetStats,
  distribution,
  validateDataset,
  validateDatasetFile,
} from './dataset-validation.ts';

const pair = (q: string, a: string): ChatExample => ({
  messages: [
    { role: 'user', content: q },
    { role: 'assistant', content: a },
  ],
});
const many = (n: number) => Array.from({ length: n }, (_, i) => pair(`Question ${i}?`, `Answer ${i}.`));

describe('validateDataset (with the base model tokenizer)', () => {
  let models: Models;
  let tokenizer: Tokenizer;
  const dir = mkdtempSync(join(tmpdir(), 'attune-validate-'));
  before(async () => {
    models = await testModels({ chat: SMALL_CHAT_MODEL });
    tokenizer = await models.tokenizer(models.defaultChatName);
  });
  after(async () => {
    await models.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('passes a clean dataset', () => {
    const report = validateDataset(many(12), { tokenizer, contextTokens: 2048 });
    assert.equal(report.ok, true, report.errors.map(formatIssue).join('\n'));
    assert.deepEqual(report.warnings, []);
  });

  it('separates errors (unusable) from warnings (suspicious), naming example and turn', () => {
    const examples: ChatExample[] = [
      ...many(10),
      { messages: [{ role: 'user', content: 'only a question' }] },
      {
        messages: [
          { role: 'user', content: '  ' },
          { role: 'assistant', content: 'x' },
        ],
      },
      { messages: [] },
      pair('Question 3?', 'Answer 3.'),
      {
        messages: [
          { role: 'user', content: 'a' },
          { role: 'assistant', content: 'b' },
          { role: 'user', content: 'c' },
        ],
      },
      {
        messages: [
          { role: 'user', content: 'a' },
          { role: 'user', content: 'b' },
          { role: 'assistant', content: 'c' },
        ],
      },
      {
        messages: [
          { role: 'user', content: 'a' },
          { role: 'system', content: 'late' },
          { role: 'assistant', content: 'c' },
        ],
      },
      {
        messages: [
          { role: 'narrator' as never, content: 'a' },
          { role: 'assistant', content: 'c' },
        ],
      },
    ];
    const report = validateDataset(examples, { tokenizer, contextTokens: 2048 });
    assert.equal(report.ok, false);
    assert.deepEqual(
      report.errors.map((e) => [e.code, e.example, e.turn]),
      [
        ['no-assistant', 10, undefined],
        ['empty-content', 11, 0],
        ['no-messages', 12, undefined],
        ['role', 17, 0],
      ],
    );
    assert.deepEqual(
      report.warnings.map((w) => [w.code, w.example]),
      [
        ['duplicate', 13],
        ['trailing-turn', 14],
        ['same-role', 15],
        ['system-position', 16],
      ],
    );
    assert.equal(report.warnings[0]!.message, 'example 14: duplicates example 4');
    assert.equal(report.errors[1]!.message, 'example 12 messages[0]: content is empty');
    assert.equal(report.stats.duplicates, 1);
  });

  it('measures length in the base model tokens and refuses examples over the context', () => {
    const long = pair('Summarise this. '.repeat(300), 'Done.');
    const tokens = countExampleTokens(long, tokenizer);
    // Content tokens plus ChatML framing: never less than the text alone, at most a few tokens per turn more.
    const content = tokenizer.countTokens(long.messages[0]!.content) + tokenizer.countTokens('Done.');
    assert.ok(tokens > content && tokens <= content + 12, `${tokens} vs ${content}`);
    const report = validateDataset([...many(10), long], { tokenizer, contextTokens: 1024 });
    assert.deepEqual(
      report.errors.map((e) => e.code),
      ['too-long'],
    );
    assert.match(
      report.errors[0]!.message,
      new RegExp(`example 11: ${tokens} tokens, over the 1024-token limit`),
    );
    assert.equal(report.stats.longest?.example, 10);
    assert.equal(report.stats.longest?.tokens, tokens);
  });

  it('refuses too few examples, and says when lengths were not checked', () => {
    const report = validateDataset(many(3), { minExamples: 10 });
    assert.deepEqual(
      report.errors.map((e) => e.message),
      ['3 examples; at least 10 are needed'],
    );
    assert.deepEqual(
      report.warnings.map((w) => w.code),
      ['no-tokenizer'],
    );
    assert.equal(report.stats.tokens, undefined);
  });

  it('reports statistics per role', () => {
    const examples: ChatExample[] = [
      {
        messages: [
          { role: 'system', content: 'Be brief.' },
          ...pair('What is the refund window for annual plans?', '30 days.').messages,
        ],
      },
      pair('Who approves leave?', 'Your manager, in the HR portal, within five working days.'),
      pair('Who approves leave?', 'Your manager, in the HR portal, within five working days.'),
    ];
    const stats = datasetStats(examples, { tokenizer });
    assert.equal(stats.examples, 3);
    assert.deepEqual(stats.turns, { total: 7, system: 1, user: 3, assistant: 3 });
    assert.equal(stats.duplicates, 1);
    assert.equal(stats.tokens!.perRole.system!.count, 1);
    assert.equal(stats.tokens!.perRole.user!.count, 3);
    const assistant = stats.tokens!.perRole.assistant!;
    assert.ok(
      assistant.min < assistant.max && assistant.min <= assistant.mean && assistant.mean <= assistant.max,
    );
    assert.equal(
      stats.tokens!.total,
      examples.reduce((n, e) => n + countExampleTokens(e, tokenizer), 0),
    );
    const sizes = examples.map((e) => countExampleTokens(e, tokenizer));
    assert.equal(stats.longest!.example, sizes.indexOf(Math.max(...sizes)));
    assert.equal(stats.longest!.tokens, Math.max(...sizes));
  });

  it('validates a file: malformed lines are errors with their location', async () => {
    const file = join(dir, 'data.jsonl');
    const lines = many(10).map((e) => JSON.stringify(e));
    lines.splice(3, 0, '{"messages":[{"role":"user","content":"q"},{"role":"assistant","content":""}]}');
    lines.splice(5, 0, '{"messages":[{"role":"user","content":"q"},{"role":"function","content":"f"}]}');
    writeFileSync(file, `${lines.join('\n')}\n`);
    const report = await validateDatasetFile(file, { tokenizer, contextTokens: 2048 });
    assert.deepEqual(report.errors.map(formatIssue), [
      'data.jsonl:6: messages[1].role must be system, user or assistant (got "function")',
      'data.jsonl:4: example 4 messages[1]: content is empty',
    ]);
    assert.equal(report.examples.length, 11);
  });
});

describe('splitDataset', () => {
  const examples = many(200);

  it('is deterministic for a seed and differs across seeds', () => {
    const a = splitDataset(examples, { validationShare: 0.1, seed: 1 });
    const b = splitDataset(examples, { validationShare: 0.1, seed: 1 });
    const c = splitDataset(examples, { validationShare: 0.1, seed: 2 });
    assert.deepEqual(a, b);
    assert.equal(a.validation.length, 20);
    assert.equal(a.train.length, 180);
    assert.notDeepEqual(a.validation, c.validation);
    const all = [...a.train, ...a.validation].map((e) => e.messages[0]!.content).sort();
    assert.deepEqual(
      all,
      examples.map((e) => e.messages[0]!.content).sort(),
      'a partition: nothing lost or repeated',
    );
  });

  it('pins the split: the same seed gives the same examples in a later release', () => {
    const { validation } = splitDataset(many(20), { validationShare: 0.2, seed: 1 });
    // mulberry32 + Fisher–Yates; a change here silently changes every user's split.
    assert.deepEqual(
      validation.map((e) => e.messages[0]!.content),
      ['Question 3?', 'Question 6?', 'Question 11?', 'Question 13?'],
    );
  });

  it('keeps duplicates on one side', () => {
    const withCopies = [...many(50), ...Array.from({ length: 5 }, () => pair('Question 7?', 'Answer 7.'))];
    for (let seed = 0; seed < 20; seed++) {
      const { train, validation } = splitDataset(withCopies, { validationShare: 0.2, seed });
      const inTrain = train.some((e) => e.messages[0]!.content === 'Question 7?');
      const inValidation = validation.some((e) => e.messages[0]!.content === 'Question 7?');
      assert.ok(!(inTrain && inValidation), `seed ${seed}`);
    }
  });

  it('holds out at least one example when asked, and none for share 0', () => {
    assert.equal(splitDataset(many(3), { validationShare: 0.1, seed: 1 }).validation.length, 1);
    assert.equal(splitDataset(many(3), { validationShare: 0, seed: 1 }).validation.length, 0);
    assert.throws(() => splitDataset(many(3), { validationShare: 1, seed: 1 }), /validationShare/);
  });

  it('splits a file into train and validation JSONL beside it (or in outDir), meta dropped unless kept', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'attune-split-'));
    try {
      const file = join(dir, 'support.jsonl');
      const rows = many(10).map((e, i) => ({ ...e, meta: { source: `doc-${i}` } }));
      writeFileSync(file, `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`);
      const split = await splitDatasetFile(file, { validationShare: 0.2, seed: 1 });
      assert.equal(split.train.file, join(dir, 'support.train.jsonl'));
      assert.deepEqual([split.train.examples, split.validation.examples], [8, 2]);
      const lines = readFileSync(split.validation.file, 'utf8').trim().split('\n');
      assert.equal(lines.length, 2);
      assert.ok(
        lines.every((l) => !('meta' in JSON.parse(l))),
        'plain chat JSONL for a trainer',
      );
      const kept = await splitDatasetFile(file, {
        validationShare: 0.2,
        seed: 1,
        outDir: join(dir, 'out'),
        keepMeta: true,
      });
      assert.equal(kept.train.file, join(dir, 'out', 'support.train.jsonl'));
      assert.ok(readFileSync(kept.train.file, 'utf8').includes('"meta"'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('nearest-rank p95', () => {
    assert.deepEqual(distribution([5, 1, 3, 2, 4]), { count: 5, min: 1, mean: 3, p95: 5, max: 5 });
    assert.equal(distribution(Array.from({ length: 100 }, (_, i) => i + 1)).p95, 95);
  });
});
