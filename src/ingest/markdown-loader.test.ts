import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Document, loadFile, parseMarkdown } from './index.ts';

const handbook = `---
owner: support
version: 3
---
# Handbook

Intro paragraph.

## Refunds

General refund rules.

### Annual plans

Annual plans can be refunded within 30 days.

\`\`\`bash
# not a heading
echo hi
\`\`\`

Monthly plans
-------------

- item one
- item two

## Contact *us* about \`snake_case_name\` #

Write to support.
`;

describe('markdown loader', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'attune-md-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('splits nested headings into sections with heading paths', () => {
    const { title, sections, metadata } = parseMarkdown(handbook);
    assert.equal(title, 'Handbook');
    assert.deepEqual(metadata, { owner: 'support', version: 3 });
    assert.deepEqual(
      sections.map((s) => s.headingPath),
      [
        ['Handbook'],
        ['Handbook', 'Refunds'],
        ['Handbook', 'Refunds', 'Annual plans'],
        ['Handbook', 'Monthly plans'],
        ['Handbook', 'Contact us about snake_case_name'],
      ],
    );
    const annual = sections[2]!.text;
    assert.match(annual, /refunded within 30 days/);
    assert.match(annual, /# not a heading/, 'a # line inside a code fence stays text');
    assert.equal(sections[3]!.text, '- item one\n- item two');
  });

  it('loads a file into a Document, title falling back to the file name', async () => {
    await writeFile(join(dir, 'handbook.md'), handbook);
    await writeFile(join(dir, 'notes.md'), 'Just some notes.\n\nNo headings at all.\n');
    const [result] = await loadFile(join(dir, 'handbook.md'));
    assert.ok(result?.ok);
    const doc: Document = result.document;
    assert.equal(doc.id, 'handbook.md');
    assert.equal(doc.title, 'Handbook');
    assert.equal(doc.metadata.format, 'markdown');
    assert.match(doc.text, /^Handbook\n\nIntro paragraph\./);
    assert.match(doc.contentHash, /^[0-9a-f]{64}$/);
    const [notes] = await loadFile(join(dir, 'notes.md'));
    assert.ok(notes?.ok);
    assert.equal(notes.document.title, 'notes.md');
    assert.deepEqual(notes.document.sections, [
      { headingPath: [], text: 'Just some notes.\n\nNo headings at all.' },
    ]);
  });

  it('hashes text, not line endings or trailing spaces', async () => {
    await writeFile(join(dir, 'lf.md'), '# T\n\nSame text.  \n');
    await writeFile(join(dir, 'crlf.md'), '# T\r\n\r\nSame text.\r\n');
    const [lf] = await loadFile(join(dir, 'lf.md'));
    const [crlf] = await loadFile(join(dir, 'crlf.md'));
    assert.ok(lf?.ok && crlf?.ok);
    assert.equal(lf.document.contentHash, crlf.document.contentHash);
  });
});
