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

  it('stops a zip bomb whose headers lie about its size, counting the bytes really inflated', async () => {
    // 100 MB of one letter, with every size field in the archive rewritten to claim 1,000 bytes.
    const bomb = Buffer.from(await makeZipBombDocx(100 * 1024 * 1024));
    const claim = (offset: number) => bomb.writeUInt32LE(1000, offset);
    for (let i = 0; i + 4 <= bomb.length; i++) {
      const signature = bomb.readUInt32LE(i);
      if (signature === 0x04034b50) claim(i + 22); // local file header: uncompressed size
      if (signature === 0x02014b50) claim(i + 24); // central directory: uncompressed size
    }
    await writeFile(join(dir, 'liar.docx'), bomb);
    const before = process.memoryUsage().rss;
    const [result] = await loadFile(join(dir, 'liar.docx'), { maxFileBytes: 10 * 1024 * 1024 });
    const grew = process.memoryUsage().rss - before;
    assert.ok(result && !result.ok);
    assert.match(result.reason, /inflates past .* although its directory claims less/);
    // Inflating it whole would take 100 MB; the check stops at the 10 MB limit, a chunk at a time.
    assert.ok(grew < 60 * 1024 * 1024, `RSS grew by ${Math.round(grew / 2 ** 20)} MB`);
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
