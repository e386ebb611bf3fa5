import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Models, Tokenizer } from '../models/index.ts';
import { testModels } from '../models/testing.ts';
import { planDraft, sourceBlock } from './draft-budget.ts';
import { draftFixedPrompt } from './draft-writer.ts';
import type { NewsItem } from './news-item.ts';

function item(i: number, sentences: number): NewsItem {
  const text = Array.from(
    { length: sentences },
    (_v, s) =>
      `Sentence ${s + 1} of item ${i} says that the harbour ferry carried ${1000 + s} passengers on day ${s + 1}.`,
  ).join(' ');
  return {
    id: `news/${i}`,
    feed: 'f',
    title: `Item ${i}`,
    text,
    authors: [],
    contentHash: String(i),
    firstSeen: '2026-12-01T00:00:00Z',
    seenIn: ['f'],
  };
}

describe('the draft budget, in the chat model’s own tokens', () => {
  let models: Models;
  let tokenizer: Tokenizer;
  const desk = { title: 'Test desk', styleGuide: 'Short sentences.' };
  before(async () => {
    models = await testModels();
    tokenizer = await models.tokenizer(models.defaultChatName);
  });
  after(() => models.dispose());

  const options = (overflow: 'split' | 'condense') => ({
    tokenizer,
    contextSize: 4096,
    reservedTokens: 900,
    fixedPrompt: draftFixedPrompt(desk),
    overflow,
    maxItems: 6,
  });

  it('a cluster that fits goes in whole', () => {
    const plan = planDraft([item(1, 3), item(2, 3)], options('split'));
    assert.equal(plan.parts.length, 1);
    assert.equal(plan.notes.length, 0);
    assert.ok(plan.parts[0]!.every((s) => !s.condensed && s.text === s.item.text));
  });

  it('a cluster that does not fit is split into parts that each fit; no item is cut', () => {
    const cluster = Array.from({ length: 5 }, (_v, i) => item(i, 40));
    const total = cluster.reduce((n, c) => n + tokenizer.countTokens(sourceBlock(c, 99)), 0);
    const plan = planDraft(cluster, options('split'));
    assert.ok(total > plan.available, `the test cluster must overflow (${total} ≤ ${plan.available})`);
    assert.ok(plan.parts.length >= 2);
    assert.match(plan.notes[0]!, /split into \d+ drafts/);
    const used = plan.parts.flat();
    assert.deepEqual(used.map((s) => s.item.id).sort(), cluster.map((c) => c.id).sort());
    for (const part of plan.parts) {
      const measured = part.reduce(
        (n, s, i) => n + tokenizer.countTokens(sourceBlock(s.item, i + 1, s.text)),
        0,
      );
      assert.ok(measured <= plan.available, `${measured} > ${plan.available}`);
    }
    assert.ok(used.every((s) => s.text === s.item.text && !s.condensed));
  });

  it('with condense, one part that fits: the items keep their leading sentences, each marked', () => {
    const cluster = Array.from({ length: 5 }, (_v, i) => item(i, 40));
    const plan = planDraft(cluster, options('condense'));
    assert.equal(plan.parts.length, 1);
    const part = plan.parts[0]!;
    const measured = part.reduce(
      (n, s, i) => n + tokenizer.countTokens(sourceBlock(s.item, i + 1, s.text)),
      0,
    );
    assert.ok(measured <= plan.available);
    const condensed = part.filter((s) => s.condensed);
    assert.ok(condensed.length > 0);
    for (const s of condensed) {
      assert.ok(s.item.text.startsWith(s.text), 'leading sentences, in order');
      assert.ok(s.condensed!.keptSentences < s.condensed!.ofSentences);
    }
    assert.match(plan.notes.join(' '), /condensed to fit/);
  });

  it('one item longer than the whole budget is condensed, and says so', () => {
    const plan = planDraft([item(1, 300)], options('split'));
    assert.equal(plan.parts.length, 1);
    assert.ok(plan.parts[0]![0]!.condensed);
    assert.match(plan.notes[0]!, /alone takes \d+ tokens/);
  });

  it('a context too small for the instructions is an error, not an empty prompt', () => {
    assert.throws(
      () => planDraft([item(1, 1)], { ...options('split'), contextSize: 1000 }),
      /leaves no room for sources/,
    );
  });
});
