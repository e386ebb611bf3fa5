import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type CatalogEntry, ModelCatalog } from './catalog.ts';
import { ModelCache } from './model-cache.ts';
import {
  AttuneError,
  ChecksumError,
  ModelMissingError,
  NoSourceError,
  UnknownModelError,
} from './model-error.ts';

// The fetcher moves bytes; these tests use small files of known content, served by a real HTTP
// server standing in for the Hugging Face hub, so every failure mode can be produced on demand.
const good = Buffer.from('GGUF pretend weights '.repeat(4096));
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('ModelCache', () => {
  let server: Server;
  let endpoint: string;
  const requests: string[] = [];
  let mode: 'good' | 'corrupt' | 'truncate' = 'good';

  before(async () => {
    server = createServer((req, res) => {
      requests.push(req.url ?? '');
      if (mode === 'truncate') {
        res.writeHead(200, { 'content-length': String(good.length) });
        res.write(good.subarray(0, 1000));
        res.destroy();
        return;
      }
      const body = mode === 'corrupt' ? Buffer.concat([good.subarray(0, -1), Buffer.from('X')]) : good;
      res.writeHead(200, { 'content-length': String(body.length) });
      res.end(body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => server.close());

  const entry = (extraSources: CatalogEntry['sources'] = []): CatalogEntry => ({
    name: 'tiny',
    task: 'chat',
    format: 'gguf',
    description: 'test bytes',
    licence: 'MIT',
    contextSize: 128,
    files: [{ name: 'tiny.gguf', sha256: sha(good), size: good.length }],
    sources: [
      { kind: 'hf', repo: 'org/tiny', revision: 'main', paths: { 'tiny.gguf': 'tiny.gguf' } },
      ...extraSources,
    ],
  });
  const cacheFor = (e: CatalogEntry) =>
    new ModelCache({
      home: mkdtempSync(join(tmpdir(), 'attune-cache-')),
      catalog: new ModelCatalog([e]),
      hfEndpoint: endpoint,
    });

  it('downloads, verifies and then serves from cache without another request', async () => {
    mode = 'good';
    const cache = cacheFor(entry());
    const progress: number[] = [];
    requests.length = 0;
    const first = await cache.pull('tiny', { onProgress: (p) => progress.push(p.received) });
    assert.equal(first.downloaded, true);
    assert.equal(requests.length, 1);
    assert.ok(progress.length > 0, 'progress was reported');
    assert.deepEqual(readFileSync(first.path), good);
    const second = await cache.pull('tiny');
    assert.equal(second.downloaded, false);
    assert.equal(requests.length, 1, 'cache hit made no request');
    assert.equal(cache.resolve('tiny'), first.path);
    assert.equal(await cache.verify('tiny'), true);
  });

  it('discards a file whose checksum does not match and leaves nothing behind', async () => {
    mode = 'corrupt';
    const cache = cacheFor(entry());
    await assert.rejects(cache.pull('tiny'), (error: unknown) => {
      assert.ok(error instanceof NoSourceError);
      assert.match(error.message, /Checksum mismatch for tiny\.gguf/);
      assert.match(error.message, /hf:org\/tiny@main/);
      return true;
    });
    assert.deepEqual(readdirSync(cache.modelDir('tiny')), [], 'no partial or corrupt file remains');
    assert.throws(() => cache.resolve('tiny'), ModelMissingError);
  });

  it('never exposes a truncated download', async () => {
    mode = 'truncate';
    const cache = cacheFor(entry());
    await assert.rejects(cache.pull('tiny'), NoSourceError);
    assert.equal(cache.isPresent('tiny'), false);
    assert.deepEqual(readdirSync(cache.modelDir('tiny')), []);
  });

  it('falls back to the next source and says why each failed', async () => {
    mode = 'corrupt';
    const local = join(mkdtempSync(join(tmpdir(), 'attune-src-')), 'tiny.gguf');
    writeFileSync(local, good);
    const cache = cacheFor(entry([{ kind: 'file', paths: { 'tiny.gguf': local } }]));
    const result = await cache.pull('tiny');
    assert.equal(result.source, `file:${local}`);
    assert.ok(existsSync(result.path));
  });

  it('lists every source tried when none is reachable', async () => {
    const e = entry([{ kind: 'file', paths: { 'tiny.gguf': '/nonexistent/tiny.gguf' } }]);
    const cache = new ModelCache({
      home: mkdtempSync(join(tmpdir(), 'attune-cache-')),
      catalog: new ModelCatalog([e]),
      hfEndpoint: 'http://127.0.0.1:1',
    });
    await assert.rejects(cache.pull('tiny'), (error: unknown) => {
      assert.ok(error instanceof NoSourceError);
      assert.equal(error.attempts.length, 2);
      assert.match(error.attempts[0]!.reason, /cannot reach 127\.0\.0\.1:1/);
      assert.match(error.attempts[1]!.reason, /does not exist/);
      return true;
    });
  });

  it('names the pull command for a missing model and rejects unknown names', () => {
    const cache = cacheFor(entry());
    assert.throws(
      () => cache.resolve('tiny'),
      (e: unknown) => {
        assert.ok(AttuneError.isInstance(e));
        assert.equal(e.hint, 'Run: attune models pull tiny');
        return true;
      },
    );
    assert.throws(() => cache.resolve('nope'), UnknownModelError);
    assert.throws(() => cache.resolve('/no/such/model.gguf'), /Model file not found/);
  });

  it('ChecksumError says the file was discarded', () => {
    assert.match(new ChecksumError('a.gguf', 'x', 'y').message, /discarded/);
  });
});
