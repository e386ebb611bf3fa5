import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Tokenizer } from '../models/model-spec.ts';
import type { Models } from '../models/models.ts';
import { testModels } from '../models/testing.ts';
import { buildDocument } from './build-document.ts';
import { type Chunk, chunkDocument, type Document, type Section } from './index.ts';

function makeDoc(sections: Section[], id = 'handbook.md'): Document {
  return buildDocument({
    id,
    source: `/kb/${id}`,
    title: 'Handbook',
    sections,
    metadata: {},
    acl: { public: true, groups: [], users: [] },
  });
}

const sentencesPool = [
  'Customers on annual plans may request a full refund within thirty days of purchase.',
  'After thirty days, refunds are prorated to the remaining months of the subscription.',
  'Monthly plans renew automatically and can be cancelled at any time from the billing page.',
  'Gift cards, professional services and hardware are never refundable, whatever the plan.',
  'Refunds are paid to the original payment method within five to ten business days.',
  'Enterprise contracts follow the terms negotiated in the order form instead.',
  'Support staff must record every refund decision in the ticket, with the reason given.',
];

/** Numbered sentences, a paragraph break every `paragraph` sentences. */
function prose(sentences: number, offset = 0, paragraph = 4): string {
  const out: string[] = [];
  for (let i = 0; i < sentences; i++) {
    out.push(sentencesPool[(i + offset) % sentencesPool.length]!.replace('.', ` (clause ${i + 1}).`));
    if (i % paragraph === paragraph - 1) out.push('\n\n');
  }
  return out.join(' ').replace(/ \n\n /g, '\n\n');
}

describe('chunkDocument', () => {
  let models: Models;
  let tokenizer: Tokenizer;
  before(async () => {
    models = await testModels();
    tokenizer = await models.tokenizer(models.defaultEmbeddingName);
  });
  after(async () => {
    await models.dispose();
  });

  function assertBounded(chunks: Chunk[], maxTokens: number) {
    for (const chunk of chunks) {
      const tokens = tokenizer.countTokens(chunk.text);
      assert.ok(
        tokens <= maxTokens,
        `chunk of ${tokens} tokens exceeds ${maxTokens}: ${chunk.text.slice(0, 80)}`,
      );
      assert.equal(chunk.tokenCount, tokens, 'tokenCount is in the model tokens of the final text');
      assert.ok(chunk.text.trim().length > 0);
    }
  }

  it('keeps short sections whole, one chunk each, with heading path and page', () => {
    const doc = makeDoc([
      { headingPath: ['Handbook'], text: 'Welcome.', page: 1 },
      { headingPath: ['Handbook', 'Refunds'], text: 'Thirty days.', page: 2 },
    ]);
    const chunks = chunkDocument(doc, { tokenizer });
    assert.deepEqual(
      chunks.map((c) => [c.ordinal, c.docId, c.text, c.headingPath, c.page, c.tokenCount]),
      [
        [0, 'handbook.md', 'Welcome.', ['Handbook'], 1, tokenizer.countTokens('Welcome.')],
        [1, 'handbook.md', 'Thirty days.', ['Handbook', 'Refunds'], 2, tokenizer.countTokens('Thirty days.')],
      ],
    );
    for (const chunk of chunks) assert.match(chunk.id, /^[0-9a-f]{32}$/);
  });

  it('never exceeds maxTokens, never mixes sections, and loses no sentence', () => {
    const sections: Section[] = [
      { headingPath: ['Handbook', 'Refunds'], text: prose(40) },
      { headingPath: ['Handbook', 'Billing'], text: prose(25, 3) },
    ];
    const doc = makeDoc(sections);
    for (const maxTokens of [24, 64, 128, 256]) {
      const chunks = chunkDocument(doc, { tokenizer, maxTokens, overlapTokens: Math.floor(maxTokens / 8) });
      assertBounded(chunks, maxTokens);
      assert.deepEqual(
        chunks.map((c) => c.ordinal),
        chunks.map((_, i) => i),
      );
      for (const section of doc.sections) {
        const own = chunks.filter((c) => c.headingPath.join('/') === section.headingPath.join('/'));
        const joined = own.map((c) => c.text).join(' ');
        for (const chunk of own) {
          // Words of a chunk come from its own section only.
          for (const word of chunk.text.split(/\s+/)) assert.ok(section.text.includes(word), word);
        }
        for (const clause of section.text.match(/\(clause \d+\)/g) ?? []) {
          assert.ok(joined.includes(clause), `${clause} lost at maxTokens ${maxTokens}`);
        }
      }
    }
  });

  it('packs greedily and overlaps trailing sentences when a section is split', () => {
    // One long paragraph: split between sentences. (Whole paragraphs that fill a chunk are not cut
    // to make room for overlap.)
    const doc = makeDoc([{ headingPath: ['Refunds'], text: prose(30, 0, 1000) }]);
    const chunks = chunkDocument(doc, { tokenizer, maxTokens: 96, overlapTokens: 32 });
    assert.ok(chunks.length >= 3);
    let overlapped = 0;
    for (let i = 1; i < chunks.length; i++) {
      const previous = chunks[i - 1]!.text;
      const firstSentence = /^.*?\(clause \d+\)\./s.exec(chunks[i]!.text)?.[0];
      assert.ok(firstSentence);
      if (previous.endsWith(firstSentence)) {
        overlapped++;
        assert.ok(tokenizer.countTokens(firstSentence) <= 32);
      }
      // Greedy: the chunk before could not also take the next whole sentence.
      assert.ok(
        tokenizer.countTokens(`${previous} ${firstSentence}`) > 96 || previous.endsWith(firstSentence),
      );
    }
    assert.equal(overlapped, chunks.length - 1, 'every chunk after the first opens with overlap');
    const none = chunkDocument(doc, { tokenizer, maxTokens: 96, overlapTokens: 0 });
    assert.ok(none.length <= chunks.length);
    for (let i = 1; i < none.length; i++) {
      assert.ok(
        !none[i - 1]!.text.includes(none[i]!.text.slice(0, 40)),
        'no overlap when overlapTokens is 0',
      );
    }
  });

  it('splits tables and lists between rows, not inside them', () => {
    const rows = Array.from(
      { length: 60 },
      (_, i) => `Plan ${i + 1} | ${(i % 12) + 1} months | refund within ${i + 5} days`,
    );
    const items = Array.from(
      { length: 40 },
      (_, i) => `- Step ${i + 1}: open the billing page and check invoice ${i}`,
    );
    const doc = makeDoc([
      { headingPath: ['Plans'], text: `Plan | Term | Refund\n${rows.join('\n')}` },
      { headingPath: ['Steps'], text: items.join('\n') },
    ]);
    const chunks = chunkDocument(doc, { tokenizer, maxTokens: 64, overlapTokens: 16 });
    assertBounded(chunks, 64);
    const whole = new Set(['Plan | Term | Refund', ...rows, ...items]);
    for (const chunk of chunks) {
      for (const line of chunk.text.split('\n')) assert.ok(whole.has(line), `split inside a row: "${line}"`);
    }
    const seen = new Set(chunks.flatMap((c) => c.text.split('\n')));
    for (const line of whole) assert.ok(seen.has(line), `lost row: ${line}`);
  });

  it('chunks one 200,000-word paragraph without overflowing the stack, every chunk within the bound', () => {
    const words = Array.from(
      { length: 200_000 },
      (_v, i) => ['refund', 'within', 'days', `w${i % 997}`][i % 4],
    );
    const text = words.join(' ');
    const started = performance.now();
    const chunks = chunkDocument(makeDoc([{ headingPath: ['Huge'], text }]), {
      tokenizer,
      maxTokens: 128,
      overlapTokens: 16,
    });
    console.log(
      `200,000 words: ${chunks.length} chunks in ${((performance.now() - started) / 1000).toFixed(1)} s`,
    );
    assertBounded(chunks, 128);
    const covered = new Set(chunks.flatMap((c) => c.text.split(' ')));
    for (const w of ['refund', 'w0', 'w996']) assert.ok(covered.has(w), w);
  });

  it('cuts a run of text with no spaces by characters, within the bound', () => {
    const blob = 'QmFzZTY0'.repeat(400);
    const doc = makeDoc([{ headingPath: [], text: `Key follows. ${blob} End.` }]);
    const chunks = chunkDocument(doc, { tokenizer, maxTokens: 48, overlapTokens: 8 });
    assertBounded(chunks, 48);
    assert.ok(
      chunks
        .map((c) => c.text)
        .join('')
        .replaceAll(' ', '')
        .includes(blob),
    );
  });

  it('gives ids that survive re-chunking and edits to other sections', () => {
    const base = [
      { headingPath: ['Handbook', 'Refunds'], text: prose(20) },
      { headingPath: ['Handbook', 'Billing'], text: prose(20, 2) },
      { headingPath: ['Handbook', 'Contact'], text: 'Write to support.' },
    ];
    const options = { tokenizer, maxTokens: 64, overlapTokens: 16 };
    const first = chunkDocument(makeDoc(base), options);
    const again = chunkDocument(makeDoc(structuredClone(base)), options);
    assert.deepEqual(
      again.map((c) => c.id),
      first.map((c) => c.id),
    );
    assert.equal(new Set(first.map((c) => c.id)).size, first.length, 'ids are unique');

    const edited = structuredClone(base);
    edited[1]!.text = `${edited[1]!.text} One more sentence about invoices.`;
    const changed = chunkDocument(makeDoc(edited), options);
    const idsOf = (chunks: Chunk[], heading: string) =>
      chunks.filter((c) => c.headingPath.at(-1) === heading).map((c) => c.id);
    assert.deepEqual(idsOf(changed, 'Refunds'), idsOf(first, 'Refunds'));
    assert.deepEqual(idsOf(changed, 'Contact'), idsOf(first, 'Contact'));
    assert.notDeepEqual(idsOf(changed, 'Billing'), idsOf(first, 'Billing'));

    const otherDoc = chunkDocument(makeDoc(base, 'other.md'), options);
    assert.notEqual(otherDoc[0]!.id, first[0]!.id, 'the document id is part of the chunk id');
  });

  it('keeps ids unique when the same text repeats under one heading', () => {
    const doc = makeDoc([
      { headingPath: ['FAQ'], text: 'Contact support.', page: 1 },
      { headingPath: ['FAQ'], text: 'Contact support.', page: 2 },
    ]);
    const chunks = chunkDocument(doc, { tokenizer });
    assert.equal(chunks.length, 2);
    assert.notEqual(chunks[0]!.id, chunks[1]!.id);
  });

  it('rejects a maxTokens too small to hold anything', () => {
    assert.throws(
      () => chunkDocument(makeDoc([{ headingPath: [], text: 'x' }]), { tokenizer, maxTokens: 2 }),
      RangeError,
    );
  });
});
