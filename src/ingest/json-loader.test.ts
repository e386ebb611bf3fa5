import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Document, type LoadResult, loadFile } from './index.ts';

function documents(results: LoadResult[]): Document[] {
  return results.flatMap((r) => (r.ok ? [r.document] : []));
}

describe('JSON and JSONL loaders', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'attune-json-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('loads each JSONL record as a document and names the malformed line', async () => {
    const lines = [
      JSON.stringify({
        id: 'kb-1',
        title: 'Refunds',
        body: 'Annual plans: 30 days.',
        team: 'support',
        views: 12,
      }),
      '{"id": "kb-2", "title": "Broken", "body": "missing brace"',
      '',
      JSON.stringify({ name: 'Shipping', content: '## Domestic\n\n3 days.\n\n## International\n\n10 days.' }),
      JSON.stringify({ id: 'kb-4', title: 'No text here' }),
    ];
    await writeFile(join(dir, 'kb.jsonl'), lines.join('\n'));
    const results = await loadFile(join(dir, 'kb.jsonl'));
    assert.equal(results.length, 4);
    const [first, broken, shipping, noText] = results;
    assert.ok(first?.ok);
    assert.equal(first.document.id, 'kb.jsonl#kb-1');
    assert.equal(first.document.title, 'Refunds');
    assert.deepEqual(first.document.metadata, { format: 'jsonl', id: 'kb-1', team: 'support', views: 12 });
    assert.deepEqual(first.document.sections, [{ headingPath: ['Refunds'], text: 'Annual plans: 30 days.' }]);
    assert.ok(broken && !broken.ok);
    assert.match(broken.reason, /^line 2: invalid JSON/);
    assert.match(broken.source, /kb\.jsonl$/);
    assert.ok(shipping?.ok);
    assert.equal(shipping.document.id, 'kb.jsonl#4', 'no id field: the line number');
    assert.deepEqual(
      shipping.document.sections.map((s) => s.headingPath),
      [
        ['Shipping', 'Domestic'],
        ['Shipping', 'International'],
      ],
    );
    assert.ok(noText && !noText.ok);
    assert.match(noText.reason, /line 5: no text in fields text, content, body; set json\.textFields/);
  });

  it('takes text, title, metadata and id fields from options', async () => {
    const records = [
      {
        sku: 'A1',
        question: 'Can I return it?',
        answer: 'Within 30 days.',
        category: 'returns',
        internal: 'x',
      },
      { sku: 'A2', question: 'Warranty?', answer: 'Two years.', category: 'warranty', internal: 'y' },
    ];
    await writeFile(join(dir, 'faq.json'), JSON.stringify(records));
    const docs = documents(
      await loadFile(join(dir, 'faq.json'), {
        json: {
          textFields: ['question', 'answer'],
          titleFields: ['question'],
          metadataFields: ['category'],
          idField: 'sku',
        },
      }),
    );
    assert.deepEqual(
      docs.map((d) => [d.id, d.title, d.sections[0]?.text, d.metadata]),
      [
        [
          'faq.json#A1',
          'Can I return it?',
          'Can I return it?\n\nWithin 30 days.',
          { format: 'json', category: 'returns' },
        ],
        ['faq.json#A2', 'Warranty?', 'Warranty?\n\nTwo years.', { format: 'json', category: 'warranty' }],
      ],
    );
  });

  it('reports malformed JSON and duplicate ids', async () => {
    await writeFile(join(dir, 'bad.json'), '[{"text": "a"},');
    const [bad] = await loadFile(join(dir, 'bad.json'));
    assert.ok(bad && !bad.ok);
    assert.match(bad.reason, /^invalid JSON/);
    await writeFile(join(dir, 'dupes.jsonl'), '{"id":1,"text":"a"}\n{"id":1,"text":"b"}\n');
    const [one, two] = await loadFile(join(dir, 'dupes.jsonl'));
    assert.ok(one?.ok);
    assert.ok(two && !two.ok);
    assert.match(two.reason, /duplicate record id "1"/);
  });
});
