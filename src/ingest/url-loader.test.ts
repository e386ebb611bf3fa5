import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { documentIdForUrl, loadSources, loadUrl } from './index.ts';
import { makePdf } from './testing.ts';

describe('URL loader', () => {
  let server: Server;
  let base: string;
  before(async () => {
    const pdf = await makePdf();
    server = createServer((req, res) => {
      switch (req.url) {
        case '/page':
          res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
          res.end(
            '<html><head><title>Intranet</title><script>x()</script></head><body><h1>News</h1><p>Café opens.</p></body></html>',
          );
          return;
        case '/latin1':
          res.writeHead(200, { 'content-type': 'text/plain; charset=iso-8859-1' });
          res.end(Buffer.from([0x63, 0x61, 0x66, 0xe9]));
          return;
        case '/docs/guide.md':
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.end('# Guide\n\n## Setup\n\nRun it.\n');
          return;
        case '/policy':
          res.writeHead(200, { 'content-type': 'application/pdf' });
          res.end(Buffer.from(pdf));
          return;
        case '/big':
          // No Content-Length: the limit must hold on what actually arrives.
          res.writeHead(200, { 'content-type': 'text/plain', 'transfer-encoding': 'chunked' });
          for (let i = 0; i < 10; i++) res.write('x'.repeat(1024));
          res.end();
          return;
        case '/slow':
          setTimeout(() => res.end('late'), 2000).unref();
          return;
        case '/image':
          res.writeHead(200, { 'content-type': 'image/png' });
          res.end(Buffer.from([0x89, 0x50]));
          return;
        default:
          res.writeHead(404, { 'content-type': 'text/plain' });
          res.end('not found');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('dispatches by content type: HTML', async () => {
    const [result] = await loadUrl(`${base}/page#section-2`);
    assert.ok(result?.ok, JSON.stringify(result));
    assert.equal(result.document.id, `${base}/page`, 'the fragment is not part of the id');
    assert.equal(result.document.source, `${base}/page#section-2`);
    assert.equal(result.document.title, 'Intranet');
    assert.equal(result.document.text, 'News\n\nCafé opens.');
    assert.equal(result.document.metadata.contentType, 'text/html');
  });

  it('dispatches by content type: PDF, and by extension for generic types', async () => {
    const [pdf] = await loadUrl(`${base}/policy`);
    assert.ok(pdf?.ok);
    assert.equal(pdf.document.sections[0]?.page, 1);
    const [md] = await loadUrl(`${base}/docs/guide.md`);
    assert.ok(md?.ok);
    assert.deepEqual(md.document.sections[0]?.headingPath, ['Guide', 'Setup']);
  });

  it('decodes the declared charset', async () => {
    const [result] = await loadUrl(`${base}/latin1`);
    assert.ok(result?.ok);
    assert.equal(result.document.text, 'café');
  });

  it('reports HTTP errors, unsupported types, size and time limits', async () => {
    const [missing] = await loadUrl(`${base}/missing`);
    assert.ok(missing && !missing.ok);
    assert.equal(missing.reason, 'HTTP 404 Not Found');
    const [image] = await loadUrl(`${base}/image`);
    assert.ok(image && !image.ok);
    assert.match(image.reason, /unsupported content type "image\/png"/);
    const [big] = await loadUrl(`${base}/big`, { maxFileBytes: 4096 });
    assert.ok(big && !big.ok);
    assert.match(big.reason, /over the 4\.0 KB limit/);
    const [slow] = await loadUrl(`${base}/slow`, { fetchTimeoutMs: 200 });
    assert.ok(slow && !slow.ok);
    assert.match(slow.reason, /timed out after 200 ms/);
  });

  it('reports an unreachable URL with the error code', async () => {
    // A port that was just free: nothing listens there.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    const [refused] = await loadUrl(`http://127.0.0.1:${port}/`);
    assert.ok(refused && !refused.ok);
    assert.match(refused.reason, /^unreachable: ECONNREFUSED/);
    assert.equal(refused.source, `http://127.0.0.1:${port}/`);
    const [blocked] = await loadUrl('http://127.0.0.1:1/');
    assert.ok(blocked && !blocked.ok);
    assert.match(blocked.reason, /^unreachable: .*bad port/);
  });

  it('normalises ids and mixes URLs with paths in loadSources', async () => {
    assert.equal(documentIdForUrl('HTTP://Example.COM/a/b?x=1#frag'), 'http://example.com/a/b?x=1');
    const results = await loadSources([`${base}/page`, '/definitely/not/here']);
    assert.equal(results.length, 2);
    assert.ok(results[0]?.ok);
    assert.ok(results[1] && !results[1].ok);
  });
});
