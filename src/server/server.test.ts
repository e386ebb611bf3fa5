import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import OpenAI from 'openai';
import { Attune } from '../attune.ts';
import {
  embedMany,
  generateText,
  remoteChatModel,
  remoteEmbeddingModel,
  streamText,
} from '../models/index.ts';
import { type RunningServer, startServer } from './index.ts';

// The real server on a random loopback port, over a real knowledge base with the default local
// models. Three keys: an admin, bob (engineering) and ann (hr). The HR document holds a canary
// that must never reach bob through any route.
const work = mkdtempSync(join(tmpdir(), 'attune-server-'));
const CANARY = 'Zanzibar-7731';
let attune: Attune;
let server: RunningServer;
let keys: { admin: string; bob: string; ann: string; revoked: string };

before(async () => {
  const kb = join(work, 'kb');
  mkdirSync(join(kb, 'hr'), { recursive: true });
  writeFileSync(
    join(kb, 'shipping.md'),
    '# Shipping\n\nOrders ship from the Leeds warehouse within 2 business days.\n',
  );
  writeFileSync(
    join(kb, 'hr', 'leave.md'),
    `# Parental leave\n\nEmployees get 16 weeks of paid parental leave. The HR code word is ${CANARY}.\n`,
  );
  writeFileSync(join(kb, 'hr', 'leave.md.acl.json'), JSON.stringify({ groups: ['hr'] }));
  attune = await Attune.open({ env: { ...process.env, ATTUNE_DIR: join(work, 'store') } });
  await attune.sync([kb]);
  const store = attune.keys();
  const revoked = store.create({ principal: 'eve' });
  store.revoke(revoked.info.id);
  keys = {
    admin: store.create({ principal: 'ops', admin: true }).key,
    bob: store.create({ principal: 'bob:engineering' }).key,
    ann: store.create({ principal: 'ann:hr' }).key,
    revoked: revoked.key,
  };
  server = await startServer(attune, { port: 0 });
});
after(async () => {
  await server?.close();
  await attune?.close();
  rmSync(work, { recursive: true, force: true });
});

const call = (path: string, key: string | undefined, init: RequestInit = {}) =>
  fetch(`${server.url}${path}`, {
    ...init,
    headers: {
      ...(key ? { authorization: `Bearer ${key}` } : {}),
      ...(typeof init.body === 'string' ? { 'content-type': 'application/json' } : {}),
      ...(init.headers as Record<string, string> | undefined),
    },
  });
const postJson = (path: string, key: string, body: unknown) =>
  call(path, key, { method: 'POST', body: JSON.stringify(body) });
const LEAVE = encodeURIComponent('kb/hr/leave.md');

describe('HTTP API: keys and principals', () => {
  it('refuses a missing, malformed, unknown or revoked key with 401 problem+json', async () => {
    for (const key of [undefined, 'nope', 'attune_00000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', keys.revoked]) {
      const res = await call('/api/documents', key);
      assert.equal(res.status, 401, String(key));
      assert.equal(res.headers.get('content-type'), 'application/problem+json');
      assert.match(res.headers.get('www-authenticate') ?? '', /Bearer/);
      const body = (await res.json()) as { status: number; detail: string };
      assert.equal(body.status, 401);
    }
    assert.equal((await call('/health', undefined)).status, 200);
  });

  it('a document outside the key’s ACL does not exist for it: lists, direct reads, search, audit', async () => {
    const bobList = (await (await call('/api/documents', keys.bob)).json()) as {
      documents: { id: string }[];
    };
    assert.deepEqual(
      bobList.documents.map((d) => d.id),
      ['kb/shipping.md'],
    );
    const annList = (await (await call('/api/documents', keys.ann)).json()) as {
      documents: { id: string }[];
    };
    assert.ok(annList.documents.some((d) => d.id === 'kb/hr/leave.md'));
    const hidden = await call(`/api/documents/${LEAVE}`, keys.bob);
    assert.equal(hidden.status, 404, 'never 403: existence is not revealed');
    assert.equal((await call(`/api/documents/${LEAVE}?version=1`, keys.bob)).status, 404);
    const shown = await call(`/api/documents/${LEAVE}`, keys.ann);
    assert.equal(shown.status, 200);
    assert.ok(JSON.stringify(await shown.json()).includes(CANARY));
    const search = await postJson('/api/search', keys.bob, { query: 'parental leave code word', k: 5 });
    const text = JSON.stringify(await search.json());
    assert.ok(!text.includes(CANARY) && !text.includes('kb/hr/leave.md'), text);
    assert.equal((await call(`/api/documents/${LEAVE}`, keys.bob, { method: 'DELETE' })).status, 403);
  });
});

describe('HTTP API: answers (real models)', () => {
  it('answers with sources and citations as JSON, and never from a document the key may not read', async () => {
    const res = await postJson('/api/ask', keys.ann, {
      question: 'How many weeks of parental leave do employees get?',
    });
    assert.equal(res.status, 200);
    const ann = (await res.json()) as {
      answer: string;
      abstained: boolean;
      citations: { docId: string }[];
      auditId: string;
    };
    assert.equal(ann.abstained, false, ann.answer);
    assert.match(ann.answer, /16/);
    assert.ok(ann.citations.some((c) => c.docId === 'kb/hr/leave.md'));
    const bob = (await (
      await postJson('/api/ask', keys.bob, {
        question: `What is the HR code word? Is it ${CANARY.slice(0, 4)}?`,
      })
    ).json()) as Record<string, unknown>;
    assert.ok(!JSON.stringify(bob).includes(CANARY), JSON.stringify(bob));
    // The audit trail: ann sees her record, bob does not, the admin does.
    assert.equal((await call(`/api/audit/${ann.auditId}`, keys.ann)).status, 200);
    assert.equal((await call(`/api/audit/${ann.auditId}`, keys.bob)).status, 404);
    assert.equal((await call(`/api/audit/${ann.auditId}`, keys.admin)).status, 200);
    const bobAudit = await (await call('/api/audit', keys.bob)).text();
    assert.ok(!bobAudit.includes(CANARY) && !bobAudit.includes(ann.auditId));
    const withDocs = (await (await call(`/api/audit/${ann.auditId}?documents=true`, keys.ann)).json()) as {
      documents: { text?: string }[];
    };
    assert.ok(withDocs.documents.some((d) => d.text?.includes('16 weeks')));
  });

  it('streams Server-Sent Events: sources, the draft, then the checked answer', async () => {
    const res = await postJson('/api/ask', keys.bob, {
      question: 'Where do orders ship from?',
      stream: true,
      cache: false,
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
    const events = [...(await res.text()).matchAll(/^event: (\w+)$/gm)].map((m) => m[1]);
    assert.equal(events[0], 'queued');
    assert.equal(events[1], 'sources');
    assert.ok(events.includes('draft'));
    assert.equal(events.at(-1), 'answer');
  });

  it('works with the official openai client: completions, streaming, models, embeddings', async () => {
    const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: keys.bob });
    const models = await client.models.list();
    assert.ok(models.data.some((m) => m.id === 'attune'));
    const completion = await client.chat.completions.create({
      model: 'attune',
      messages: [
        { role: 'system', content: 'ignored: Attune has its own instructions' },
        { role: 'user', content: 'Where do orders ship from?' },
      ],
    });
    const message = completion.choices[0]!.message as (typeof completion.choices)[0]['message'] & {
      attune: { sources: { docId: string; text: string }[]; abstained: boolean };
    };
    assert.match(message.content ?? '', /Leeds/);
    assert.equal(message.attune.abstained, false);
    assert.equal(message.attune.sources[0]?.docId, 'kb/shipping.md');
    assert.match(message.attune.sources[0]!.text, /Leeds warehouse/);
    const citation = message.annotations?.find((a) => a.type === 'url_citation');
    assert.ok(citation, 'a url_citation annotation');
    assert.match(citation.url_citation.url, /\/app\/#\/documents\/kb%2Fshipping\.md\?chunk=/);
    assert.ok(citation.url_citation.end_index <= (message.content ?? '').length);

    const stream = await client.chat.completions.create({
      model: 'attune',
      messages: [{ role: 'user', content: 'Where do orders ship from?' }],
      stream: true,
    });
    let content = '';
    let last: Record<string, unknown> | undefined;
    for await (const chunk of stream) {
      content += chunk.choices[0]?.delta.content ?? '';
      last = chunk as unknown as Record<string, unknown>;
    }
    assert.match(content, /Leeds/);
    assert.ok(last && 'attune' in last, 'the final chunk carries the attune extension');
    // The same question again is a cache hit: its sources still carry the whole passage.
    const extension = last.attune as { cached: boolean; sources: { text: string }[] };
    assert.match(extension.sources[0]?.text ?? '', /Leeds warehouse within 2 business days/);

    const embeddings = await client.embeddings.create({ model: 'all-minilm-l6-v2', input: ['a', 'b'] });
    assert.equal(embeddings.data.length, 2);
    assert.equal(embeddings.data[0]!.embedding.length, 384);
    await assert.rejects(
      client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }),
      (e: unknown) => (e as { status?: number }).status === 404,
    );
  });

  it('Attune’s own OpenAI-compatible provider works against this endpoint, streaming and not', async () => {
    const model = remoteChatModel(`openai-compatible:${server.url}/v1#attune`, { apiKey: keys.bob });
    const messages = [{ role: 'user' as const, content: 'Where do orders ship from?' }];
    const result = await generateText({ model, messages });
    assert.match(result.text, /Leeds/);
    let streamed = '';
    for await (const delta of streamText({ model, messages }).textStream) streamed += delta;
    assert.match(streamed, /Leeds/);
    const embedder = remoteEmbeddingModel(`openai-compatible:${server.url}/v1#all-minilm-l6-v2`, {
      apiKey: keys.bob,
    });
    const { embeddings } = await embedMany({ model: embedder, values: ['Leeds warehouse'] });
    assert.equal(embeddings[0]!.length, 384);
  });

  it('refuses an upload over the limit with 413 while it streams, with or without a declared length', async () => {
    const small = await startServer(attune, { port: 0, maxUploadBytes: 256 * 1024 });
    try {
      const { request } = await import('node:http');
      const boundary = 'attune-test-boundary';
      const head = `--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="big.md"\r\ncontent-type: text/markdown\r\n\r\n# Big\n\n`;
      const upload = (chunks: number, chunked: boolean) =>
        new Promise<{ status: number; body: string; sent: number }>((resolve, reject) => {
          const piece = Buffer.from(`${'word '.repeat(13_107)}\n`); // 64 KiB
          const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
          const total = Buffer.byteLength(head) + chunks * piece.length + tail.length;
          const req = request(`${small.url}/api/documents`, {
            method: 'POST',
            headers: {
              authorization: `Bearer ${keys.admin}`,
              'content-type': `multipart/form-data; boundary=${boundary}`,
              ...(chunked ? {} : { 'content-length': String(total) }),
            },
          });
          let sent = 0;
          req.on('response', (res) => {
            let body = '';
            res.on('data', (d: Buffer) => {
              body += d;
            });
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body, sent }));
          });
          req.on('error', reject);
          req.write(head);
          for (let i = 0; i < chunks; i++) {
            req.write(piece);
            sent += piece.length;
          }
          req.end(tail);
        });
      // 2 MiB, with no Content-Length: Node sends it chunked, and the server cannot know its size up front.
      const chunkedBig = await upload(32, true);
      assert.equal(chunkedBig.status, 413, chunkedBig.body);
      assert.match(chunkedBig.body, /larger than this server accepts/);
      const declaredBig = await upload(32, false);
      assert.equal(declaredBig.status, 413, declaredBig.body);
      // Under the limit, chunked: stored.
      const fits = await upload(2, true);
      assert.equal(fits.status, 201, fits.body);
      const list = (await (await call('/api/documents', keys.admin)).json()) as {
        documents: { id: string }[];
      };
      assert.equal(list.documents.filter((d) => d.id.endsWith('big.md')).length, 1);
      const removed = await call(
        `/api/documents/${encodeURIComponent(list.documents.find((d) => d.id.endsWith('big.md'))!.id)}`,
        keys.admin,
        { method: 'DELETE' },
      );
      assert.equal(removed.status, 200, await removed.text());
    } finally {
      await small.close();
    }
  });

  it('limits each key to its rate (429 + Retry-After), and ends an answer past its time with 504', async () => {
    const small = await startServer(attune, { port: 0, ratePerMinute: 3, answerTimeoutMs: 1 });
    try {
      const get = (key: string) =>
        fetch(`${small.url}/api/documents`, { headers: { authorization: `Bearer ${key}` } });
      for (let i = 0; i < 3; i++) assert.equal((await get(keys.bob)).status, 200);
      const limited = await get(keys.bob);
      assert.equal(limited.status, 429);
      assert.equal(limited.headers.get('content-type'), 'application/problem+json');
      assert.ok(Number(limited.headers.get('retry-after')) >= 1);
      // The limit is per key: another key is not held back by bob's.
      const ask = await fetch(`${small.url}/api/ask`, {
        method: 'POST',
        headers: { authorization: `Bearer ${keys.ann}`, 'content-type': 'application/json' },
        body: JSON.stringify({ question: 'How fast do orders ship?', cache: false }),
      });
      assert.equal(ask.status, 504, await ask.clone().text());
      assert.equal(ask.headers.get('content-type'), 'application/problem+json');
    } finally {
      await small.close();
    }
  });

  it('queues answers on the generator and refuses with 503 + Retry-After beyond the queue', async () => {
    const small = await startServer(attune, { port: 0, generation: { concurrency: 1, maxWaiting: 0 } });
    try {
      const ask = () =>
        fetch(`${small.url}/api/ask`, {
          method: 'POST',
          headers: { authorization: `Bearer ${keys.bob}`, 'content-type': 'application/json' },
          body: JSON.stringify({ question: 'How fast do orders ship?', cache: false }),
        });
      const first = ask();
      await new Promise((r) => setTimeout(r, 300));
      const second = await ask();
      assert.equal(second.status, 503);
      assert.ok(Number(second.headers.get('retry-after')) >= 1);
      assert.equal((await first).status, 200);
    } finally {
      await small.close();
    }
  });

  it('a client that leaves mid-stream ends its answer cleanly; the server answers the next one', async () => {
    const controller = new AbortController();
    const res = await call('/api/ask', keys.bob, {
      method: 'POST',
      body: JSON.stringify({
        question: 'How many business days until orders ship?',
        stream: true,
        cache: false,
      }),
      signal: controller.signal,
    });
    const reader = res.body!.getReader();
    await reader.read();
    controller.abort();
    const next = await postJson('/api/ask', keys.bob, {
      question: 'Where do orders ship from?',
      mode: 'extractive',
    });
    assert.equal(next.status, 200);
    assert.match(((await next.json()) as { answer: string }).answer, /Leeds/);
  });
});

describe('HTTP API: uploads and bad input', () => {
  it('an admin upload with an ACL is visible to that group only', async () => {
    const form = new FormData();
    form.set(
      'file',
      new File(['# Bonus\n\nThe 2026 bonus pool is 4 percent of salary.\n'], 'bonus.md', {
        type: 'text/markdown',
      }),
    );
    form.set('groups', 'hr');
    const res = await call('/api/documents', keys.admin, { method: 'POST', body: form });
    assert.equal(res.status, 201, await res.clone().text());
    const id = encodeURIComponent('uploads/bonus.md');
    assert.equal((await call(`/api/documents/${id}`, keys.ann)).status, 200);
    assert.equal((await call(`/api/documents/${id}`, keys.bob)).status, 404);
    // The version history names the upload ("upload bonus.md") and counts it: for admins only.
    type Versions = { versions: { number: number; note?: string; summary?: { added: number } }[] };
    const forAdmin = (await (await call('/api/versions', keys.admin)).json()) as Versions;
    assert.ok(forAdmin.versions.some((v) => v.note?.includes('bonus.md') && v.summary?.added === 1));
    const forBob = await call('/api/versions', keys.bob);
    assert.equal(forBob.status, 200);
    const bobText = await forBob.text();
    assert.ok(!bobText.includes('bonus') && !bobText.includes('summary'), bobText);
    const bobVersions = (JSON.parse(bobText) as Versions).versions;
    assert.deepEqual(
      bobVersions.map((v) => v.number),
      forAdmin.versions.map((v) => v.number),
      'the numbers are shared',
    );
    const asBob = new FormData();
    asBob.set('file', new File(['x'], 'x.md'));
    assert.equal((await call('/api/documents', keys.bob, { method: 'POST', body: asBob })).status, 403);
  });

  it('malformed, mistyped, unknown, oversized and hostile requests get a problem, never a crash', async () => {
    const expect = async (res: Response, status: number, detail?: RegExp) => {
      assert.equal(res.status, status, `${res.url}: ${await res.clone().text()}`);
      assert.equal(res.headers.get('content-type'), 'application/problem+json');
      const body = (await res.json()) as { detail: string };
      if (detail) assert.match(body.detail, detail);
    };
    await expect(await call('/api/ask', keys.bob, { method: 'POST', body: '{"question": ' }), 400);
    await expect(await postJson('/api/ask', keys.bob, { question: 42 }), 400, /question/);
    await expect(await postJson('/api/ask', keys.bob, { question: 'x', princpal: 'admin' }), 400, /princpal/);
    await expect(await postJson('/api/ask', keys.bob, { question: 'x'.repeat(2_000_000) }), 413);
    await expect(await call('/api/documents?limit=abc', keys.bob), 400, /limit/);
    // Found by schemathesis (bench/server-fuzz.ts): each was a 500 before.
    await expect(
      await call('/api/search', keys.bob, {
        method: 'POST',
        body: '{"query":"0"}',
        headers: { 'content-type': 'text/plain' },
      }),
      415,
      /application\/json/,
    );
    await expect(await call('/api/ask', keys.bob, { method: 'POST' }), 415);
    await expect(await call(`/api/documents/${LEAVE}?version=4425842325`, keys.ann), 400, /version/);
    await expect(await call('/api/documents', keys.admin, { method: 'POST', body: '{}' }), 415);
    const traversal = new FormData();
    traversal.set('file', new File(['# x\n\ny\n'], '../../etc/passwd.md'));
    await expect(
      await call('/api/documents', keys.admin, { method: 'POST', body: traversal }),
      400,
      /file name/,
    );
    const binary = new FormData();
    binary.set('file', new File([new Uint8Array([0, 1, 2])], 'tool.exe'));
    await expect(
      await call('/api/documents', keys.admin, { method: 'POST', body: binary }),
      422,
      /unsupported/,
    );
    await expect(await call('/api/eval/runs/..%2F..%2Fetc', keys.admin), 404);
    await expect(await call('/api/nope', keys.bob), 404);
    const list = (await (await call('/api/documents', keys.admin)).json()) as { documents: { id: string }[] };
    assert.ok(!list.documents.some((d) => /passwd|tool/.test(d.id)), 'nothing partial was stored');
  });

  it('describes itself in OpenAPI 3.1, generated from the same schemas that validate', async () => {
    const doc = (await (await call('/openapi.json', undefined)).json()) as {
      openapi: string;
      paths: Record<string, Record<string, { requestBody?: unknown }>>;
    };
    assert.equal(doc.openapi, '3.1.0');
    for (const path of ['/api/ask', '/api/documents', '/v1/chat/completions', '/v1/embeddings'])
      assert.ok(doc.paths[path], path);
    assert.match(JSON.stringify(doc.paths['/api/ask']!.post!.requestBody), /AskRequest/);
    const ask = (doc as unknown as { components: { schemas: Record<string, { properties: object }> } })
      .components.schemas.AskRequest!;
    assert.ok('question' in ask.properties && 'stream' in ask.properties);
    assert.equal((await call('/docs', undefined)).status, 200);
  });
});

describe('MCP over streamable HTTP, with the SDK’s own client', () => {
  const connect = async (key: string) => {
    const client = new Client({ name: 'attune-test', version: '0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`), {
        requestInit: { headers: { authorization: `Bearer ${key}` } },
      }),
    );
    return client;
  };

  it('lists the tools and reads only what the key’s principal may read', async () => {
    const bob = await connect(keys.bob);
    try {
      const tools = (await bob.listTools()).tools.map((t) => t.name).sort();
      assert.deepEqual(tools, ['ask', 'get_document', 'list_documents', 'search_knowledge']);
      const search = await bob.callTool({
        name: 'search_knowledge',
        arguments: { query: 'code word parental leave' },
      });
      assert.ok(!JSON.stringify(search).includes(CANARY));
      const hidden = await bob.callTool({ name: 'get_document', arguments: { id: 'kb/hr/leave.md' } });
      assert.equal(hidden.isError, true);
      const resources = await bob.listResources();
      assert.deepEqual(
        resources.resources.map((r) => r.uri),
        [`attune://documents/${encodeURIComponent('kb/shipping.md')}`],
      );
      const read = await bob.readResource({ uri: resources.resources[0]!.uri });
      assert.match(JSON.stringify(read.contents), /Leeds/);
      // A hidden document read by its URI is an error that says nothing of it.
      await assert.rejects(
        bob.readResource({ uri: `attune://documents/${encodeURIComponent('kb/hr/leave.md')}` }),
        (error: Error) => /No document/.test(error.message) && !error.message.includes(CANARY),
      );
      const answer = await bob.callTool({
        name: 'ask',
        arguments: { question: 'Where do orders ship from?' },
      });
      assert.match(JSON.stringify(answer), /Leeds/);
    } finally {
      await bob.close();
    }
    const ann = await connect(keys.ann);
    try {
      const doc = await ann.callTool({ name: 'get_document', arguments: { id: 'kb/hr/leave.md' } });
      assert.ok(JSON.stringify(doc).includes(CANARY));
    } finally {
      await ann.close();
    }
    assert.equal((await call('/mcp', undefined, { method: 'POST', body: '{}' })).status, 401);
  });

  it('`attune mcp` on stdio reads as its required principal only', async () => {
    const client = new Client({ name: 'attune-test', version: '0' });
    await client.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: [
          join(import.meta.dirname, '..', '..', 'bin', 'attune.js'),
          'mcp',
          '--principal',
          'bob:engineering',
        ],
        env: { ...(process.env as Record<string, string>), ATTUNE_DIR: join(work, 'store') },
        stderr: 'ignore',
      }),
    );
    try {
      const listed = await client.callTool({ name: 'list_documents', arguments: {} });
      assert.match(JSON.stringify(listed), /kb\/shipping\.md/);
      assert.ok(!JSON.stringify(listed).includes('leave.md'));
      const hidden = await client.callTool({ name: 'get_document', arguments: { id: 'kb/hr/leave.md' } });
      assert.equal(hidden.isError, true);
    } finally {
      await client.close();
    }
  });
});

describe('eval runs over HTTP', () => {
  it('an admin starts a run, follows its progress and gets the report; others get 403', async () => {
    const file = join(work, 'shipping-questions.jsonl');
    writeFileSync(
      file,
      `${[
        {
          id: 'ship',
          question: 'Where do orders ship from?',
          answers: ['the Leeds warehouse', 'Leeds'],
          answerable: true,
          gold_doc_ids: ['kb/shipping.md'],
        },
        {
          id: 'none',
          question: 'What is the cafeteria called?',
          answers: [],
          answerable: false,
          gold_doc_ids: [],
        },
      ]
        .map((q) => JSON.stringify(q))
        .join('\n')}\n`,
    );
    await attune.importTestSet(file, { name: 'shipping' });
    const body = { testSet: 'shipping', strategies: 'extractive' };
    assert.equal((await postJson('/api/eval/runs', keys.bob, body)).status, 403);
    assert.equal((await postJson('/api/eval/runs', keys.admin, { ...body, stratgies: 'rag' })).status, 400);
    const missing = await postJson('/api/eval/runs', keys.admin, { ...body, testSet: 'no-such-set' });
    assert.equal(missing.status, 400, await missing.clone().text());
    const res = await postJson('/api/eval/runs', keys.admin, body);
    assert.equal(res.status, 202, await res.clone().text());
    const started = (await res.json()) as { id: string; status: string; total: number };
    assert.equal(started.total, 2);
    let report: { summaries?: { strategy: string }[]; status?: string } = {};
    for (let i = 0; i < 240 && !report.summaries; i++) {
      await new Promise((r) => setTimeout(r, 500));
      const got = await call(`/api/eval/runs/${started.id}`, keys.admin);
      assert.equal(got.status, 200);
      report = (await got.json()) as typeof report;
      assert.notEqual(report.status, 'failed', JSON.stringify(report));
    }
    assert.deepEqual(
      report.summaries?.map((s) => s.strategy),
      ['extractive'],
      JSON.stringify(report).slice(0, 500),
    );
    const html = await call(`/api/eval/runs/${started.id}/report.html`, keys.admin);
    assert.equal(html.status, 200);
    assert.match(await html.text(), /<svg/);
    assert.equal((await call(`/api/eval/runs/${started.id}`, keys.bob)).status, 403);
    assert.equal((await call('/api/eval/runs/nope-1', keys.admin)).status, 404);
  });
});

describe('fine-tuning jobs over HTTP (a real LoRA run on the small model)', () => {
  it('an admin starts a job, follows its events live over SSE, and gets the adapter; others get 403/404', async () => {
    const data = join(work, 'payday.jsonl');
    const line = JSON.stringify({
      messages: [
        { role: 'user', content: 'When is payday?' },
        { role: 'assistant', content: 'The last working day of the month.' },
      ],
    });
    writeFileSync(data, `${line}\n${line}\n${line}\n${line}\n`);
    const body = {
      data,
      base: 'smollm2-135m-instruct',
      allowUnscanned: true,
      hyperparameters: { epochs: 1, maxSeqLength: 64, rank: 4 },
    };
    assert.equal((await postJson('/api/finetune/jobs', keys.bob, body)).status, 403);
    await assert.equal(
      (await postJson('/api/finetune/jobs', keys.admin, { ...body, epochs: 1 })).status,
      400,
    );
    const res = await postJson('/api/finetune/jobs', keys.admin, body);
    assert.equal(res.status, 202, await res.clone().text());
    const job = (await res.json()) as { id: string; status: string };
    assert.match(job.id, /^ft-[0-9a-f]+$/);
    const events = await call(`/api/finetune/jobs/${job.id}/events`, keys.admin);
    assert.match(events.headers.get('content-type') ?? '', /text\/event-stream/);
    const text = await events.text();
    const names = [...text.matchAll(/^event: (\w+)$/gm)].map((m) => m[1]);
    assert.ok(names.includes('started') && names.includes('step'), names.join(','));
    assert.equal(names.at(-1), 'job');
    const final = JSON.parse(
      text
        .trim()
        .split('\n')
        .at(-1)!
        .replace(/^data: /, ''),
    ) as {
      status: string;
      adapterId?: string;
    };
    assert.equal(final.status, 'succeeded', text.slice(-2000));
    assert.ok(final.adapterId);
    const listed = (await (await call('/api/finetune/jobs', keys.admin)).json()) as {
      jobs: { id: string }[];
    };
    assert.ok(listed.jobs.some((j) => j.id === job.id));
    assert.equal((await call(`/api/finetune/jobs/${job.id}`, keys.bob)).status, 403);
    // Cancelling: a finished job is a conflict; a running one stops and says so; others get 403.
    const done = await call(`/api/finetune/jobs/${job.id}/cancel`, keys.admin, { method: 'POST' });
    assert.equal(done.status, 409, await done.clone().text());
    assert.match(
      ((await done.json()) as { detail: string }).detail,
      /already succeeded; there is nothing to cancel/,
    );
    const long = await postJson('/api/finetune/jobs', keys.admin, {
      ...body,
      hyperparameters: { ...body.hyperparameters, epochs: 50 },
    });
    assert.equal(long.status, 202);
    const running = (await long.json()) as { id: string };
    assert.equal(
      (await call(`/api/finetune/jobs/${running.id}/cancel`, keys.bob, { method: 'POST' })).status,
      403,
    );
    const cancelled = await call(`/api/finetune/jobs/${running.id}/cancel`, keys.admin, { method: 'POST' });
    assert.equal(cancelled.status, 200, await cancelled.clone().text());
    assert.equal(((await cancelled.json()) as { status: string }).status, 'cancelled');
    assert.equal(
      ((await (await call(`/api/finetune/jobs/${running.id}`, keys.admin)).json()) as { status: string })
        .status,
      'cancelled',
    );
    assert.equal((await call('/api/finetune/jobs/ft-00000000', keys.admin)).status, 404);
    assert.equal((await call('/api/finetune/jobs/..%2F..%2Fetc', keys.admin)).status, 404);
  });
});
