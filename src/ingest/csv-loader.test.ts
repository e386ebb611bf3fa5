import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadFile, parseCsv } from './index.ts';

describe('CSV loader', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'attune-csv-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('parses RFC 4180 quoting: delimiters, quotes and newlines inside fields, CRLF', () => {
    const text = 'a,b,c\r\n"x, y","say ""hi""","line1\nline2"\r\nplain,,last\n';
    assert.deepEqual(parseCsv(text), [
      ['a', 'b', 'c'],
      ['x, y', 'say "hi"', 'line1\nline2'],
      ['plain', '', 'last'],
    ]);
    assert.deepEqual(parseCsv('a\tb\n1\t2', '\t'), [
      ['a', 'b'],
      ['1', '2'],
    ]);
    assert.throws(() => parseCsv('a,b\n"open,2\n'), /quoted field starting on line 2 is never closed/);
  });

  it('loads each row as a section of "header: value" lines', async () => {
    await writeFile(
      join(dir, 'plans.csv'),
      'plan,price,notes\nAnnual,"1,200","Refundable within 30 days, minus fees"\nMonthly,100,\n\n',
    );
    const [result] = await loadFile(join(dir, 'plans.csv'));
    assert.ok(result?.ok, JSON.stringify(result));
    const doc = result.document;
    assert.equal(doc.title, 'plans.csv');
    assert.deepEqual(doc.metadata, { format: 'csv', rows: 2, columns: 'plan, price, notes' });
    assert.deepEqual(doc.sections, [
      {
        headingPath: ['row 1'],
        text: 'plan: Annual\nprice: 1,200\nnotes: Refundable within 30 days, minus fees',
      },
      { headingPath: ['row 2'], text: 'plan: Monthly\nprice: 100' },
    ]);
  });

  it('reports a CSV with an unterminated quote or no data rows', async () => {
    await writeFile(join(dir, 'broken.csv'), 'a,b\n1,"unterminated\n');
    await writeFile(join(dir, 'header-only.csv'), 'a,b\n');
    const [broken] = await loadFile(join(dir, 'broken.csv'));
    assert.ok(broken && !broken.ok);
    assert.match(broken.reason, /never closed/);
    const [headerOnly] = await loadFile(join(dir, 'header-only.csv'));
    assert.ok(headerOnly && !headerOnly.ok);
    assert.match(headerOnly.reason, /no data rows/);
  });
});
