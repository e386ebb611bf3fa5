import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadFile } from './index.ts';
import { makeEncryptedPdf, makeImageOnlyPdf, makePdf } from './testing.ts';

describe('PDF loader', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'attune-pdf-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('extracts text per page, headings by font size, and tables as rows', async () => {
    await writeFile(join(dir, 'policy.pdf'), await makePdf());
    const [result] = await loadFile(join(dir, 'policy.pdf'));
    assert.ok(result?.ok, JSON.stringify(result));
    const doc = result.document;
    assert.equal(doc.title, 'Refund Policy', 'no metadata title: the top heading');
    assert.deepEqual(doc.metadata, { format: 'pdf', pages: 2 });
    assert.deepEqual(
      doc.sections.map((s) => [s.page, s.headingPath]),
      [
        [1, ['Refund Policy']],
        [2, ['Refund Policy', 'Exceptions']],
      ],
    );
    const page1 = doc.sections[0]!.text;
    assert.match(
      page1,
      /^Customers may request a refund within 30 days of purchase\. Refunds are paid to the original payment method\.\n\n/,
      'wrapped lines of one paragraph are joined',
    );
    assert.match(page1, /\nPlan \| Window \| Fee\nMonthly \| 14 days \| none\nAnnual \| 30 days \| 5%$/);
    assert.equal(doc.sections[1]!.text, 'Gift cards cannot be refunded.');
  });

  it('uses the metadata title when there is one', async () => {
    await writeFile(join(dir, 'titled.pdf'), await makePdf({ title: 'Policies 2024' }));
    const [result] = await loadFile(join(dir, 'titled.pdf'));
    assert.ok(result?.ok);
    assert.equal(result.document.title, 'Policies 2024');
  });

  it('reports a corrupt PDF', async () => {
    await writeFile(join(dir, 'corrupt.pdf'), '%PDF-1.7\nthis is not really a pdf\n');
    const truncated = await makePdf();
    await writeFile(join(dir, 'truncated.pdf'), truncated.subarray(0, 200));
    for (const name of ['corrupt.pdf', 'truncated.pdf']) {
      const [result] = await loadFile(join(dir, name));
      assert.ok(result && !result.ok, name);
      assert.match(result.reason, /corrupt or unreadable PDF|no extractable text/, name);
      assert.equal(result.id, name);
    }
  });

  it('reports an encrypted PDF as encrypted', async () => {
    await writeFile(join(dir, 'locked.pdf'), makeEncryptedPdf());
    const [result] = await loadFile(join(dir, 'locked.pdf'));
    assert.ok(result && !result.ok);
    assert.match(result.reason, /^encrypted PDF/);
  });

  it('reports a PDF without a text layer as probably scanned', async () => {
    await writeFile(join(dir, 'scan.pdf'), await makeImageOnlyPdf());
    const [result] = await loadFile(join(dir, 'scan.pdf'));
    assert.ok(result && !result.ok);
    assert.match(result.reason, /no extractable text \(scanned\?\)/);
  });
});
