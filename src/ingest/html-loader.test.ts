import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadFile, parseHtml } from './index.ts';

const page = `<!doctype html>
<html lang="en"><head><title>Support &amp; Refunds</title>
<meta name="description" content="How refunds work">
<style>body { color: red }</style><script>var tracking = "SECRET_SCRIPT";</script></head>
<body>
<header><a href="/">Home</a> <a href="/pricing">Pricing</a></header>
<nav><ul><li>Menu one</li><li>Menu two</li></ul></nav>
<main>
<article>
<header><h1>Refunds</h1></header>
<p>We refund <b>annual</b> plans within&nbsp;30 days.<br>Monthly plans are not refunded.</p>
<h2>Steps</h2>
<ol><li>Open a ticket</li><li>Attach the invoice<ul><li>PDF preferred</li></ul></li></ol>
<h2>Windows</h2>
<table><caption>Refund windows</caption>
<thead><tr><th>Plan</th><th>Window</th></tr></thead>
<tbody><tr><td>Annual</td><td><p>30</p><p>days</p></td></tr><tr><td>Monthly</td><td>none</td></tr></tbody>
</table>
<pre>  code   stays
  as is</pre>
</article>
</main>
<footer>Copyright 2024 ACME</footer>
<script>document.write("more script")</script>
</body></html>`;

describe('HTML loader', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'attune-html-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps headings, lists and tables; drops scripts, styles, nav, page header and footer', () => {
    const { title, sections, metadata } = parseHtml(page);
    assert.equal(title, 'Support & Refunds');
    assert.deepEqual(metadata, { language: 'en', description: 'How refunds work' });
    assert.deepEqual(
      sections.map((s) => s.headingPath),
      [['Refunds'], ['Refunds', 'Steps'], ['Refunds', 'Windows']],
    );
    assert.equal(
      sections[0]!.text,
      'We refund annual plans within 30 days.\nMonthly plans are not refunded.',
    );
    assert.equal(sections[1]!.text, '1. Open a ticket\n2. Attach the invoice\n  - PDF preferred');
    assert.equal(
      sections[2]!.text,
      'Refund windows\nPlan | Window\nAnnual | 30 days\nMonthly | none\n\n  code   stays\n  as is',
    );
    const all = sections.map((s) => s.text).join('\n');
    for (const junk of ['SECRET_SCRIPT', 'more script', 'color: red', 'Menu one', 'Pricing', 'Copyright']) {
      assert.ok(!all.includes(junk), `"${junk}" should be dropped`);
    }
  });

  it('title falls back to the first h1, then the file name', () => {
    assert.equal(parseHtml('<h1>Only heading</h1><p>x</p>').title, 'Only heading');
  });

  it("fails a page that is nothing but scripts with 'no text'", async () => {
    await writeFile(
      join(dir, 'scripts.html'),
      `<html><head><script>${'var a = 1;'.repeat(500)}</script></head><body><script>alert(1)</script><noscript></noscript></body></html>`,
    );
    const [result] = await loadFile(join(dir, 'scripts.html'));
    assert.ok(result && !result.ok);
    assert.match(result.reason, /no text/);
    assert.match(result.source, /scripts\.html$/);
  });

  it('loads a file into a Document', async () => {
    await writeFile(join(dir, 'page.html'), page);
    const [result] = await loadFile(join(dir, 'page.html'));
    assert.ok(result?.ok);
    assert.equal(result.document.title, 'Support & Refunds');
    assert.equal(result.document.metadata.format, 'html');
  });
});
