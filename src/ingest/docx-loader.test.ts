import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import JSZip from 'jszip';
import { loadFile } from './index.ts';
import { makeDocx, makeZipBombDocx } from './testing.ts';

describe('DOCX loader', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'attune-docx-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('turns Word headings into sections and tables into rows', async () => {
    await writeFile(join(dir, 'handbook.docx'), await makeDocx());
    const [result] = await loadFile(join(dir, 'handbook.docx'));
    assert.ok(result?.ok, JSON.stringify(result));
    const doc = result.document;
    assert.equal(doc.title, 'Employee Handbook');
    assert.equal(doc.metadata.format, 'docx');
    assert.deepEqual(doc.sections, [
      { headingPath: ['Employee Handbook'], text: 'Welcome to the company.' },
      {
        headingPath: ['Employee Handbook', 'Leave'],
        text: 'Everyone gets 25 days of annual leave.\n\nType | Days\nAnnual | 25\nSick | 10',
      },
      { headingPath: ['Employee Handbook', 'Expenses'], text: 'Submit receipts within 60 days.' },
    ]);
  });

  it('refuses a zip bomb before inflating it', async () => {
    const bomb = await makeZipBombDocx(12 * 1024 * 1024);
    assert.ok(bomb.length < 200 * 1024, 'the archive itself is small');
    await writeFile(join(dir, 'bomb.docx'), bomb);
    const [byRatio] = await loadFile(join(dir, 'bomb.docx'));
    assert.ok(byRatio && !byRatio.ok);
    assert.match(byRatio.reason, /zip bomb/);
    // The uncompressed total alone is also a limit, whatever the ratio.
    const [bySize] = await loadFile(join(dir, 'bomb.docx'), { maxFileBytes: 10 * 1024 * 1024 });
    assert.ok(bySize && !bySize.ok);
    assert.match(bySize.reason, /expands to 12\.0 MB/);
  });

  it('reports a file that is not a zip, or a zip that is not Word', async () => {
    await writeFile(join(dir, 'fake.docx'), 'plain text pretending to be a docx');
    const [fake] = await loadFile(join(dir, 'fake.docx'));
    assert.ok(fake && !fake.ok);
    assert.match(fake.reason, /not a valid DOCX/);
    const zip = new JSZip();
    zip.file('notes.txt', 'not word');
    await writeFile(join(dir, 'other.docx'), await zip.generateAsync({ type: 'uint8array' }));
    const [other] = await loadFile(join(dir, 'other.docx'));
    assert.ok(other && !other.ok);
    assert.match(other.reason, /word\/document\.xml is missing/);
  });
});
