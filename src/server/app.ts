import { createRoute, OpenAPIHono, type z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { HTTPException } from 'hono/http-exception';
import { streamSSE } from 'hono/streaming';
import { type AnswerPart, type AnswerResult, type AskOptions, answerJson } from '../answer/index.ts';
import type { Attune } from '../attune.ts';
import { type FinetuneJobRecord, JobEndedError, jobEnded } from '../finetune/index.ts';
import type { ApiKeyInfo } from '../keys/index.ts';
import { AttuneError, embedMany } from '../models/index.ts';
import type { Principal } from '../store/index.ts';
import { docsPage } from './docs-page.ts';
import { GenerationQueue, RateLimiter } from './limits.ts';
import { handleMcpRequest } from './mcp.ts';
import {
  annotationsFor,
  attuneExtension,
  completionId,
  OPENAI_MODELS,
  questionOf,
  usageOf,
} from './openai-shape.ts';
import { Problem, problemResponse } from './problem.ts';
import {
  AnyJson,
  AskBody,
  AuditQuery,
  AuditShowQuery,
  ChatCompletionBody,
  DocumentQuery,
  EmbeddingsBody,
  EvalRunBody,
  FinetuneBody,
  IdParam,
  JobIdParam,
  ListQuery,
  ProblemSchema,
  PullBody,
  SearchBody,
  SyncBody,
} from './schemas.ts';
import { serveWebApp } from './web-app.ts';

export type ServerOptions = {
  /** Largest JSON request body. Default 1 MiB. */
  maxBodyBytes?: number;
  /** Largest upload. Default the ingest file limit. */
  maxUploadBytes?: number;
  /** Requests per key per minute. Default 600. */
  ratePerMinute?: number;
  /** Answers generated at once (default 1: a CPU) and how many may wait (default 16). */
  generation?: { concurrency?: number; maxWaiting?: number };
  /** An answer that takes longer ends with 504. Default 5 minutes. */
  answerTimeoutMs?: number;
  /** Where links to passages point (the web app's origin). Default: the request's own origin. */
  publicUrl?: string;
};

export type ServerEnv = { Variables: { principal: Principal; key: ApiKeyInfo } };

const json = (schema: z.ZodTypeAny, description: string) => ({
  content: { 'application/json': { schema } },
  description,
});
const problems = {
  400: json(ProblemSchema, 'invalid request'),
  401: json(ProblemSchema, 'no valid API key'),
  404: json(ProblemSchema, 'not found (or not visible to this key)'),
};
const security = [{ bearer: [] }];

/**
 * The HTTP API over one Attune instance: a thin layer that authenticates a key to a principal,
 * validates, calls the library and renders. Every read passes the key's principal, so a document
 * outside its ACL does not exist for it (404, never 403), in any route.
 */
export function createApp(attune: Attune, options: ServerOptions = {}) {
  const app = new OpenAPIHono<ServerEnv>({
    defaultHook: (result) => {
      if (!result.success) {
        const errors = result.error.issues.map((i) => ({
          path: i.path.join('.') || '(body)',
          message: i.message,
        }));
        throw new Problem(400, 'Bad Request', errors.map((e) => `${e.path}: ${e.message}`).join('; '), {
          extra: { errors },
        });
      }
    },
  });
  const keys = attune.keys();
  const limiter = new RateLimiter(options.ratePerMinute ?? 600);
  const queue = new GenerationQueue(options.generation ?? {});
  const maxBody = options.maxBodyBytes ?? 1024 * 1024;
  const maxUpload = options.maxUploadBytes ?? attune.config.ingest.maxFileBytes;
  const answerTimeoutMs = options.answerTimeoutMs ?? 5 * 60_000;

  app.onError((error, c) => {
    if (error instanceof Problem) return problemResponse(error);
    if (error instanceof HTTPException) {
      const status = error.status;
      const detail =
        status === 413
          ? 'The request body is larger than this server accepts.'
          : error.message || 'The request could not be read.';
      return problemResponse(
        new Problem(status, status === 413 ? 'Payload Too Large' : 'Bad Request', detail),
      );
    }
    if (AttuneError.isInstance(error)) {
      const missing = /There is no knowledge base/.test(error.message);
      const locked = error.name === 'StoreLockedError';
      return problemResponse(
        new Problem(
          locked ? 409 : missing ? 404 : 400,
          locked ? 'Conflict' : missing ? 'Not Found' : 'Bad Request',
          error.message,
          {
            ...(error.hint ? { extra: { hint: error.hint } } : {}),
            ...(locked ? { headers: { 'retry-after': '10' } } : {}),
          },
        ),
      );
    }
    // Unexpected: log the error for the operator, tell the client nothing that could carry data.
    process.stderr.write(`attune serve: ${c.req.method} ${c.req.path}: ${(error as Error).stack ?? error}\n`);
    return problemResponse(
      new Problem(500, 'Internal Server Error', 'The server failed; the operator log has the details.'),
    );
  });
  app.notFound((c) =>
    problemResponse(new Problem(404, 'Not Found', `No route ${c.req.method} ${c.req.path}.`)),
  );

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', {
    type: 'http',
    scheme: 'bearer',
    description: 'An Attune API key (attune keys create); it maps to one principal.',
  });

  // Authentication and limits for everything but health and the API description.
  const authenticate = async (c: Context<ServerEnv>, next: () => Promise<void>) => {
    const header = c.req.header('authorization') ?? '';
    const match = /^Bearer (\S+)$/i.exec(header);
    const found = match ? keys.authenticate(match[1]!) : undefined;
    if (!found)
      throw new Problem(
        401,
        'Unauthorized',
        header ? 'The API key is not valid.' : 'An API key is required.',
        {
          headers: { 'www-authenticate': 'Bearer realm="attune"' },
        },
      );
    limiter.take(found.key.id);
    c.set('principal', found.principal);
    c.set('key', found.key);
    await next();
  };
  for (const path of ['/api/*', '/v1/*', '/mcp', '/mcp/*']) app.use(path, authenticate);
  app.use('/api/*', async (c, next) => {
    if (c.req.method === 'POST' && c.req.path === '/api/documents') return next();
    return bodyLimit({ maxSize: maxBody, onError: refuseTooLarge })(c, next);
  });
  app.use('/v1/*', bodyLimit({ maxSize: maxBody, onError: refuseTooLarge }));
  // A JSON route given another content type would skip validation (the validator only reads JSON
  // bodies) and reach its handler without a body: refuse it before that.
  const jsonRoutes = new Set([
    '/api/ask',
    '/api/search',
    '/api/sync',
    '/api/models/pull',
    '/api/finetune/jobs',
    '/api/eval/runs',
    '/v1/chat/completions',
    '/v1/embeddings',
  ]);
  app.use('*', async (c, next) => {
    if (c.req.method === 'POST' && jsonRoutes.has(c.req.path)) {
      const type = c.req.header('content-type') ?? '';
      if (!/^application\/(.+\+)?json\b/i.test(type))
        throw new Problem(
          415,
          'Unsupported Media Type',
          `Send the body as JSON with Content-Type: application/json${type ? `, not ${type.slice(0, 80)}` : ''}.`,
        );
    }
    await next();
  });
  app.use('/mcp', bodyLimit({ maxSize: maxBody, onError: refuseTooLarge }));

  const requireAdmin = (c: Context<ServerEnv>) => {
    if (!c.get('principal').admin)
      throw new Problem(403, 'Forbidden', 'This needs an admin key (attune keys create --admin).');
  };
  const passageUrl = (c: Context<ServerEnv>) => {
    const base = options.publicUrl ?? new URL(c.req.url).origin;
    return (docId: string, chunkId: string) =>
      `${base}/app/#/documents/${encodeURIComponent(docId)}?chunk=${encodeURIComponent(chunkId)}`;
  };

  /** One answer through the generation queue, ended by a timeout or by the client leaving. */
  const answerStream = async function* (
    question: string,
    ask: Omit<AskOptions, 'principal' | 'abortSignal'>,
    principal: Principal,
    clientSignal: AbortSignal | undefined,
  ): AsyncGenerator<AnswerPart | { type: 'queued'; waitedMs: number }> {
    const signal = AbortSignal.any([
      AbortSignal.timeout(answerTimeoutMs),
      ...(clientSignal ? [clientSignal] : []),
    ]);
    const answerer = await attune.answerer();
    const parts: (AnswerPart | { type: 'queued'; waitedMs: number })[] = [];
    let wake: (() => void) | undefined;
    let finished = false;
    let failure: unknown;
    const push = (p: (typeof parts)[number]) => {
      parts.push(p);
      wake?.();
    };
    const queuedAt = performance.now();
    const done = queue
      .run(async () => {
        push({ type: 'queued', waitedMs: performance.now() - queuedAt });
        for await (const part of answerer.stream(question, { ...ask, principal, abortSignal: signal }))
          push(part);
      }, signal)
      .catch((error: unknown) => {
        failure = error;
      })
      .finally(() => {
        finished = true;
        wake?.();
      });
    while (true) {
      if (parts.length) {
        yield parts.shift()!;
        continue;
      }
      if (finished) break;
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
      wake = undefined;
    }
    await done;
    if (failure) {
      if (signal.aborted && !clientSignal?.aborted)
        throw new Problem(
          504,
          'Gateway Timeout',
          `The answer took longer than ${Math.round(answerTimeoutMs / 1000)} s.`,
        );
      throw failure;
    }
  };
  const answerOnce = async (
    question: string,
    ask: Omit<AskOptions, 'principal' | 'abortSignal'>,
    principal: Principal,
    clientSignal: AbortSignal | undefined,
  ): Promise<AnswerResult> => {
    let result: AnswerResult | undefined;
    for await (const part of answerStream(question, ask, principal, clientSignal))
      if (part.type === 'done') result = part.result;
    if (!result) throw new Problem(500, 'Internal Server Error', 'The answer ended without a result.');
    return result;
  };

  // --- health and description ---------------------------------------------------------------
  app.openapi(
    createRoute({
      method: 'get',
      path: '/health',
      summary: 'Liveness, and the generation queue (no key needed)',
      responses: { 200: json(AnyJson, 'ok, with the queue depth') },
    }),
    (c) => c.json({ ok: true, queue: queue.stats() }, 200),
  );
  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: {
      title: 'Attune',
      version: '0.1.0',
      description:
        'Grounded answers over your knowledge base; documents, audit, eval, models; OpenAI-compatible /v1.',
    },
  });
  app.get('/docs', (c) => c.html(docsPage()));
  serveWebApp(app); // the web app at /app/: no bearer header, the page sends the key on each call

  // --- documents ------------------------------------------------------------------------------
  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/documents',
      summary: 'Documents this key may read',
      security,
      request: { query: ListQuery },
      responses: { 200: json(AnyJson, 'documents'), ...problems },
    }),
    async (c) => {
      const q = c.req.valid('query');
      const documents = await attune.listDocuments(c.get('principal'), {
        limit: q.limit ?? 100,
        ...(q.offset !== undefined ? { offset: q.offset } : {}),
      });
      return c.json({ documents }, 200);
    },
  );
  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/documents/{id}',
      summary: 'A document and its chunks, now or at a version',
      security,
      request: { params: IdParam, query: DocumentQuery },
      responses: { 200: json(AnyJson, 'the document'), ...problems },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const { version } = c.req.valid('query');
      const snapshot = await attune.document(
        id,
        c.get('principal'),
        version !== undefined ? { version } : {},
      );
      if (!snapshot)
        throw new Problem(404, 'Not Found', `No document "${id}"${version ? ` at version ${version}` : ''}.`);
      return c.json(snapshot, 200);
    },
  );
  app.openapi(
    createRoute({
      method: 'delete',
      path: '/api/documents/{id}',
      summary: 'Remove a document (admin)',
      security,
      request: { params: IdParam },
      responses: { 200: json(AnyJson, 'removed'), ...problems },
    }),
    async (c) => {
      requireAdmin(c);
      const { id } = c.req.valid('param');
      if (!(await attune.removeDocument(id))) throw new Problem(404, 'Not Found', `No document "${id}".`);
      return c.json({ removed: id }, 200);
    },
  );
  // Documented, but not validated by the OpenAPI layer: its form validator would read the whole
  // multipart body before the handler could count it, and a chunked body declares no length.
  const uploadRoute = createRoute({
    method: 'post',
    path: '/api/documents',
    summary: 'Upload a document (admin; multipart: file, and groups / users / public for its ACL)',
    security,
    request: {
      body: {
        content: { 'multipart/form-data': { schema: AnyJson } },
        description:
          'file: the document; groups, users: comma-separated; public: "true". No ACL field: admins only.',
      },
    },
    responses: {
      201: json(AnyJson, 'stored'),
      413: json(ProblemSchema, 'over the upload limit'),
      415: json(ProblemSchema, 'not multipart/form-data'),
      422: json(ProblemSchema, 'the file could not be loaded'),
      ...problems,
    },
  });
  app.openAPIRegistry.registerPath(uploadRoute);
  app.post(uploadRoute.path, async (c) => {
    requireAdmin(c);
    const type = c.req.header('content-type') ?? '';
    if (!type.startsWith('multipart/form-data'))
      throw new Problem(
        415,
        'Unsupported Media Type',
        'Upload a document as multipart/form-data with a "file" field.',
      );
    const length = Number(c.req.header('content-length') ?? 0);
    if (length > maxUpload + 64 * 1024) throw tooLarge();
    // Counted as it arrives: a chunked body declares no length, and must not be read whole first.
    const body = await readCapped(c.req.raw, maxUpload + 64 * 1024);
    if (body === undefined) throw tooLarge();
    const parsed = await new Response(body, { headers: { 'content-type': type } }).formData().catch(() => {
      throw new Problem(400, 'Bad Request', 'The multipart body could not be read.');
    });
    const form: Record<string, string | File> = {};
    parsed.forEach((value, name) => {
      form[name] = value;
    });
    const file = form.file;
    if (!(file instanceof File)) throw new Problem(400, 'Bad Request', 'file: a file field is required.');
    if (file.size > maxUpload) throw tooLarge();
    const list = (v: unknown) =>
      typeof v === 'string' && v.trim()
        ? v
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean)
        : [];
    const acl = { public: form.public === 'true', users: list(form.users), groups: list(form.groups) };
    for (const name of [...acl.users, ...acl.groups])
      if (!/^[\p{L}\p{N}][\p{L}\p{N}._@+-]*$/u.test(name))
        throw new Problem(400, 'Bad Request', `users/groups: "${name}" is not a valid name.`);
    const summary = await attune.addDocument({
      name: file.name,
      bytes: new Uint8Array(await file.arrayBuffer()),
      ...(file.type ? { mediaType: file.type } : {}),
      acl,
    });
    if (summary.failed > 0 && summary.added + summary.changed + summary.unchanged === 0)
      throw new Problem(
        422,
        'Unprocessable Content',
        summary.failures.map((f) => `${f.id ?? f.source}: ${f.reason}`).join('; '),
        {
          extra: { failures: summary.failures },
        },
      );
    return c.json(summary, 201);
  });
  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/sync',
      summary: 'Sync folders, files or URLs the server can read (admin)',
      security,
      request: { body: { content: { 'application/json': { schema: SyncBody } } } },
      responses: { 200: json(AnyJson, 'sync summary'), ...problems },
    }),
    async (c) => {
      requireAdmin(c);
      const body = c.req.valid('json');
      const run = body.mirror === false ? attune.ingest.bind(attune) : attune.sync.bind(attune);
      return c.json(await run(body.sources, body.note ? { note: body.note } : {}), 200);
    },
  );
  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/versions',
      summary: 'Knowledge-base versions (what changed, counts and notes, for admin keys only)',
      security,
      responses: { 200: json(AnyJson, 'versions'), ...problems },
    }),
    async (c) => c.json({ versions: await attune.versions(c.get('principal')) }, 200),
  );

  // --- search and answers ---------------------------------------------------------------------
  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/search',
      summary: 'Hybrid retrieval as this key: passages with scores, no generation',
      security,
      request: { body: { content: { 'application/json': { schema: SearchBody } } } },
      responses: { 200: json(AnyJson, 'evidence'), ...problems },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const result = await attune.search(body.query, {
        principal: c.get('principal'),
        k: body.k ?? 5,
        ...(body.rerank !== undefined ? { rerank: body.rerank } : {}),
      });
      return c.json(
        {
          query: result.query,
          results: result.evidence.map((e) => ({
            docId: e.document.id,
            title: e.document.title,
            source: e.document.source,
            chunkId: e.chunk.id,
            text: e.chunk.text,
            headingPath: e.chunk.headingPath,
            version: e.chunk.version,
            score: e.score,
            rank: e.rank,
          })),
          timings: result.timings,
        },
        200,
      );
    },
  );
  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/ask',
      summary: 'A grounded answer with sources and citations (JSON, or SSE with "stream": true)',
      description:
        'SSE events: `queued` (time waited for the generator), `sources`, `draft` (the unchecked draft as it is generated), `answer` (the checked answer: what to show), `error`.',
      security,
      request: { body: { content: { 'application/json': { schema: AskBody } } } },
      responses: {
        200: {
          content: { 'application/json': { schema: AnyJson }, 'text/event-stream': { schema: AnyJson } },
          description: 'the answer',
        },
        503: json(ProblemSchema, 'too many answers waiting; Retry-After says when to try again'),
        ...problems,
      },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const principal = c.get('principal');
      const ask = {
        ...(body.k !== undefined ? { k: body.k } : {}),
        ...(body.mode ? { mode: body.mode } : {}),
        ...(body.rerank !== undefined ? { rerank: body.rerank } : {}),
        ...(body.cache !== undefined ? { cache: body.cache } : {}),
        maxTokens: body.maxTokens ?? 128,
      };
      if (!body.stream)
        return c.json(answerJson(await answerOnce(body.question, ask, principal, c.req.raw.signal)), 200);
      return streamSSE(c, async (stream) => {
        const aborted = new AbortController();
        stream.onAbort(() => aborted.abort(new Error('client disconnected')));
        try {
          for await (const part of answerStream(body.question, ask, principal, aborted.signal)) {
            if (aborted.signal.aborted) break;
            if (part.type === 'queued')
              await stream.writeSSE({ event: 'queued', data: JSON.stringify(part) });
            else if (part.type === 'sources')
              await stream.writeSSE({ event: 'sources', data: JSON.stringify(part.sources) });
            else if (part.type === 'text-delta')
              await stream.writeSSE({ event: 'draft', data: JSON.stringify(part.delta) });
            else await stream.writeSSE({ event: 'answer', data: JSON.stringify(answerJson(part.result)) });
          }
        } catch (error) {
          if (aborted.signal.aborted) return;
          const problem = error instanceof Problem ? error : toProblem(error);
          await stream.writeSSE({
            event: 'error',
            data: JSON.stringify({ title: problem.title, status: problem.status, detail: problem.message }),
          });
        }
      }) as unknown as Response;
    },
  );

  // --- audit ----------------------------------------------------------------------------------
  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/audit',
      summary: "Audit records: this key's principal's own (all for admins), newest first",
      security,
      request: { query: AuditQuery },
      responses: { 200: json(AnyJson, 'records'), ...problems },
    }),
    async (c) => {
      const q = c.req.valid('query');
      const records = await (await attune.audit()).list(c.get('principal'), {
        limit: q.limit ?? 50,
        ...(q.status ? { status: q.status } : {}),
        ...(q.since ? { since: q.since } : {}),
      });
      return c.json({ records }, 200);
    },
  );
  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/audit/export',
      summary: "Every audit record this key's principal may read, as JSON lines",
      security,
      responses: {
        200: { content: { 'application/x-ndjson': { schema: AnyJson } }, description: 'one record a line' },
        ...problems,
      },
    }),
    async (c) => {
      const records = await (await attune.audit()).list(c.get('principal'));
      const body = records.map((r) => JSON.stringify(r)).join('\n') + (records.length ? '\n' : '');
      // Typed routes check JSON-ish media types against their schema; JSON lines are one text.
      return new Response(body, {
        status: 200,
        headers: { 'content-type': 'application/x-ndjson' },
      }) as never;
    },
  );
  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/audit/{id}',
      summary: 'One audit record, with the cited documents as they were (?documents=true)',
      security,
      request: { params: IdParam, query: AuditShowQuery },
      responses: { 200: json(AnyJson, 'record'), ...problems },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const record = await (await attune.audit()).get(id, c.get('principal'));
      if (!record) throw new Problem(404, 'Not Found', `No audit record "${id}".`);
      const documents =
        c.req.valid('query').documents === 'true' ? await attune.documentsAt(record) : undefined;
      return c.json(documents ? { ...record, documents } : record, 200);
    },
  );

  // --- eval (admin: reports hold questions and answers across every reader's documents) ----------
  // Runs this server started: a run's files say what it answered, not whether it is still going.
  const evalStates = new Map<string, { status: 'running' } | { status: 'failed'; error: string }>();
  const runState = (id: string) => {
    const runs = attune.evalRuns();
    if (!runs.list().includes(id)) throw new Problem(404, 'Not Found', `No eval run "${id}".`);
    // A run written by another version, or by hand, may lack what progress is computed from.
    let total: number | undefined;
    let answered = 0;
    try {
      const config = runs.config(id);
      total = config.testSet.questions * config.strategies.length * config.repeats;
      answered = runs.outcomes(id).length;
    } catch {
      total = undefined;
    }
    const finished = runs.hasReport(id);
    return {
      id,
      ...summaryOf(runs, id),
      answered,
      ...(total !== undefined && Number.isFinite(total) ? { total } : {}),
      ...(evalStates.get(id) ?? { status: finished ? 'finished' : 'stopped' }),
    };
  };
  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/eval/runs',
      summary: 'Eval runs, oldest first (admin)',
      security,
      responses: { 200: json(AnyJson, 'runs'), ...problems },
    }),
    (c) => {
      requireAdmin(c);
      const runs = attune.evalRuns();
      return c.json({ runs: runs.list().map((id) => ({ id, ...summaryOf(runs, id) })) }, 200);
    },
  );
  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/eval/runs',
      summary:
        'Start an eval run of a test set through strategies (admin); 202 once the run is recorded, it answers in the background',
      security,
      request: { body: { content: { 'application/json': { schema: EvalRunBody } } } },
      responses: { 202: json(AnyJson, 'the started run'), ...problems },
    }),
    async (c) => {
      requireAdmin(c);
      const body = c.req.valid('json');
      let started: string | undefined;
      const created = new Promise<string>((resolve, reject) => {
        attune
          .evaluate({
            testSet: body.testSet,
            strategies: body.strategies,
            ...(body.adapter ? { adapter: body.adapter } : {}),
            ...(body.repeats !== undefined ? { repeats: body.repeats } : {}),
            ...(body.freshness !== undefined ? { freshness: body.freshness } : {}),
            onCreated: (run) => {
              started = run.id;
              evalStates.set(run.id, { status: 'running' });
              resolve(run.id);
            },
          })
          .then(
            () => {
              if (started) evalStates.delete(started);
            },
            (error: unknown) => {
              // Before the run existed the failure is the request's answer; after, the run's state.
              if (!started) return reject(error);
              evalStates.set(started, { status: 'failed', error: (error as Error).message });
              process.stderr.write(`attune serve: eval run ${started} failed: ${(error as Error).message}\n`);
            },
          );
      });
      return c.json(runState(await created), 202);
    },
  );
  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/eval/runs/{id}',
      summary: "A finished run's report; while it answers, its progress (admin)",
      security,
      request: { params: JobIdParam },
      responses: { 200: json(AnyJson, 'the report, or the progress'), ...problems },
    }),
    (c) => {
      requireAdmin(c);
      const state = runState(runId(c.req.valid('param').id));
      if (state.status !== 'finished') return c.json(state, 200);
      return c.json(attune.evalRuns().report(state.id), 200);
    },
  );
  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/eval/runs/{id}/report.html',
      summary: "A finished run's HTML report, its charts inline (admin)",
      security,
      request: { params: JobIdParam },
      responses: {
        200: { content: { 'text/html': { schema: AnyJson } }, description: 'the report' },
        ...problems,
      },
    }),
    async (c) => {
      requireAdmin(c);
      const id = runId(c.req.valid('param').id);
      const { readFile } = await import('node:fs/promises');
      const html = await readFile(`${attune.evalRuns().dir}/${id}/report.html`, 'utf8').catch(() => {
        throw new Problem(404, 'Not Found', `Run "${id}" has no HTML report.`);
      });
      return c.html(html, 200);
    },
  );

  // --- fine-tuning (admin: training data comes from the whole knowledge base) ------------------
  const jobOr404 = (id: string) => {
    const jobs = attune.finetuneJobs();
    if (!/^ft-[0-9a-f]+$/.test(id) || !jobs.store.has(id))
      throw new Problem(404, 'Not Found', `No fine-tuning job "${id}".`);
    return jobs.get(id);
  };
  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/finetune/jobs',
      summary: 'Fine-tuning jobs (admin)',
      security,
      responses: { 200: json(AnyJson, 'jobs'), ...problems },
    }),
    (c) => {
      requireAdmin(c);
      return c.json({ jobs: attune.finetuneJobs().list() }, 200);
    },
  );
  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/finetune/jobs/{id}',
      summary: 'One fine-tuning job (admin)',
      security,
      request: { params: JobIdParam },
      responses: { 200: json(AnyJson, 'the job'), ...problems },
    }),
    (c) => {
      requireAdmin(c);
      return c.json(jobOr404(c.req.valid('param').id), 200);
    },
  );
  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/finetune/jobs',
      summary:
        'Start a fine-tuning job (admin); 202 once the job is recorded, training runs in the background',
      security,
      request: { body: { content: { 'application/json': { schema: FinetuneBody } } } },
      responses: { 202: json(AnyJson, 'the queued job'), ...problems },
    }),
    async (c) => {
      requireAdmin(c);
      const body = c.req.valid('json');
      const created = new Promise<FinetuneJobRecord>((resolve, reject) => {
        attune
          .finetune({
            ...body,
            ...(body.fromKnowledgeBase
              ? {
                  fromKnowledgeBase: {
                    ...(body.fromKnowledgeBase.count !== undefined
                      ? { count: body.fromKnowledgeBase.count }
                      : {}),
                    ...(body.fromKnowledgeBase.raft !== undefined
                      ? { raft: body.fromKnowledgeBase.raft }
                      : {}),
                  },
                }
              : {}),
            hyperparameters: Object.fromEntries(
              Object.entries(body.hyperparameters ?? {}).filter(([, v]) => v !== undefined),
            ),
            onCreated: resolve,
          })
          // The job record holds the outcome; a failure before it existed is the request's answer.
          .catch(reject);
      });
      return c.json(await created, 202);
    },
  );
  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/finetune/jobs/{id}/cancel',
      summary: 'Cancel a queued or running job (admin); 409 once it has ended',
      security,
      request: { params: JobIdParam },
      responses: {
        200: json(AnyJson, 'the cancelled job'),
        409: json(ProblemSchema, 'the job has already ended'),
        ...problems,
      },
    }),
    async (c) => {
      requireAdmin(c);
      const { id } = jobOr404(c.req.valid('param').id);
      const cancelled = await attune.cancelFinetune(id).catch((error: unknown) => {
        throw error instanceof JobEndedError ? new Problem(409, 'Conflict', error.message) : error;
      });
      return c.json(cancelled, 200);
    },
  );
  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/finetune/jobs/{id}/events',
      summary: "A job's events as Server-Sent Events, replayed and then followed until it ends (admin)",
      security,
      request: { params: JobIdParam },
      responses: {
        200: { content: { 'text/event-stream': { schema: AnyJson } }, description: 'its events, then `job`' },
        ...problems,
      },
    }),
    (c) => {
      requireAdmin(c);
      const id = c.req.valid('param').id;
      jobOr404(id);
      const jobs = attune.finetuneJobs();
      // The job's event log is the source of truth (a job may run in another process): replay it,
      // then follow it until the job ends.
      return streamSSE(c, async (stream) => {
        let sent = 0;
        let open = true;
        stream.onAbort(() => {
          open = false;
        });
        while (open) {
          const events = jobs.store.events(id);
          for (const event of events.slice(sent))
            await stream.writeSSE({ event: event.type, data: JSON.stringify(event) });
          sent = events.length;
          const record = jobs.get(id);
          if (jobEnded(record.status)) {
            await stream.writeSSE({ event: 'job', data: JSON.stringify(record) });
            break;
          }
          await stream.sleep(500);
        }
      }) as unknown as Response;
    },
  );

  // --- models ---------------------------------------------------------------------------------
  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/models',
      summary: 'The model catalog: present or missing, licence, size',
      security,
      responses: { 200: json(AnyJson, 'models'), ...problems },
    }),
    (c) => c.json({ models: attune.modelCatalog() }, 200),
  );
  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/models/pull',
      summary: 'Fetch models into the cache (admin; default: the configured local models)',
      security,
      request: { body: { content: { 'application/json': { schema: PullBody } } } },
      responses: { 200: json(AnyJson, 'pulled'), ...problems },
    }),
    async (c) => {
      requireAdmin(c);
      return c.json({ results: await attune.pullModels(c.req.valid('json').names) }, 200);
    },
  );

  // --- OpenAI-compatible ----------------------------------------------------------------------
  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/models',
      summary: 'OpenAI-compatible: the models /v1 answers with',
      security,
      responses: { 200: json(AnyJson, 'list'), ...problems },
    }),
    (c) =>
      c.json(
        {
          object: 'list',
          data: [
            ...Object.keys(OPENAI_MODELS).map((id) => ({
              id,
              object: 'model',
              created: 0,
              owned_by: 'attune',
            })),
            { id: attune.config.models.embedding, object: 'model', created: 0, owned_by: 'attune' },
          ],
        },
        200,
      ),
  );
  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/chat/completions',
      summary: 'OpenAI-compatible chat completion: a grounded answer to the last user message',
      description:
        'Citations are in `choices[0].message.annotations` (url_citation) and in the `attune` extension object; when streaming, on the final chunk. The content streamed is the checked answer, not the unchecked draft.',
      security,
      request: { body: { content: { 'application/json': { schema: ChatCompletionBody } } } },
      responses: {
        200: {
          content: { 'application/json': { schema: AnyJson }, 'text/event-stream': { schema: AnyJson } },
          description: 'chat.completion or chat.completion.chunk stream',
        },
        ...problems,
      },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const model = OPENAI_MODELS[body.model as keyof typeof OPENAI_MODELS];
      if (!model)
        throw new Problem(
          404,
          'Model Not Found',
          `The model "${body.model}" does not exist; use one of ${Object.keys(OPENAI_MODELS).join(', ')}.`,
        );
      const question = questionOf(body.messages);
      const ask = {
        mode: model.mode,
        maxTokens: body.max_completion_tokens ?? body.max_tokens ?? 128,
        ...(body.temperature !== undefined ? { temperature: body.temperature } : {}),
        ...(body.seed !== undefined ? { seed: body.seed } : {}),
      };
      const principal = c.get('principal');
      const links = passageUrl(c);
      const created = Math.floor(Date.now() / 1000);
      if (!body.stream) {
        const result = await answerOnce(question, ask, principal, c.req.raw.signal);
        return c.json(
          {
            id: completionId(result.auditId),
            object: 'chat.completion',
            created,
            model: body.model,
            choices: [
              {
                index: 0,
                message: {
                  role: 'assistant',
                  content: result.answer,
                  refusal: null,
                  annotations: annotationsFor(result, links),
                  attune: attuneExtension(result),
                },
                finish_reason: 'stop',
                logprobs: null,
              },
            ],
            usage: usageOf(result),
            attune: attuneExtension(result),
          },
          200,
        );
      }
      return streamSSE(c, async (stream) => {
        const aborted = new AbortController();
        stream.onAbort(() => aborted.abort(new Error('client disconnected')));
        const chunk = (id: string, delta: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
          stream.writeSSE({
            data: JSON.stringify({
              id,
              object: 'chat.completion.chunk',
              created,
              model: body.model,
              choices: [{ index: 0, delta, finish_reason: null, logprobs: null, ...extra }],
            }),
          });
        const pendingId = `chatcmpl-pending-${created}`;
        try {
          await chunk(pendingId, { role: 'assistant', content: '' });
          for await (const part of answerStream(question, ask, principal, aborted.signal)) {
            if (aborted.signal.aborted) return;
            // The draft is not sent: the checks may withhold it. A comment keeps proxies from timing out.
            if (part.type !== 'done') {
              if (part.type === 'text-delta') await stream.write(': drafting\n\n');
              continue;
            }
            const result = part.result;
            const id = completionId(result.auditId);
            await chunk(id, { content: result.answer });
            await stream.writeSSE({
              data: JSON.stringify({
                id,
                object: 'chat.completion.chunk',
                created,
                model: body.model,
                choices: [
                  {
                    index: 0,
                    delta: { annotations: annotationsFor(result, links), attune: attuneExtension(result) },
                    finish_reason: 'stop',
                    logprobs: null,
                  },
                ],
                usage: usageOf(result),
                attune: attuneExtension(result),
              }),
            });
          }
          await stream.writeSSE({ data: '[DONE]' });
        } catch (error) {
          if (aborted.signal.aborted) return;
          const problem = error instanceof Problem ? error : toProblem(error);
          await stream.writeSSE({
            data: JSON.stringify({
              error: { message: problem.message, type: 'server_error', code: problem.status },
            }),
          });
        }
      }) as unknown as Response;
    },
  );
  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/embeddings',
      summary: 'OpenAI-compatible embeddings with the knowledge base’s embedding model',
      security,
      request: { body: { content: { 'application/json': { schema: EmbeddingsBody } } } },
      responses: { 200: json(AnyJson, 'embeddings'), ...problems },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const name = attune.config.models.embedding;
      if (body.model !== name)
        throw new Problem(
          404,
          'Model Not Found',
          `The embedding model "${body.model}" does not exist; use "${name}".`,
        );
      const values = typeof body.input === 'string' ? [body.input] : body.input;
      const { embeddings, usage } = await embedMany({ model: await attune.models.embedding(name), values });
      return c.json(
        {
          object: 'list',
          // base64 is what the openai client asks for by default: little-endian float32 bytes.
          data: embeddings.map((embedding, index) => ({
            object: 'embedding',
            index,
            embedding:
              body.encoding_format === 'base64'
                ? Buffer.from(new Float32Array(embedding).buffer).toString('base64')
                : embedding,
          })),
          model: name,
          usage: { prompt_tokens: usage.tokens, total_tokens: usage.tokens },
        },
        200,
      );
    },
  );

  // Routes whose handlers are plain Hono (no body to validate) are still described.
  const describe = (
    method: 'get' | 'post',
    path: string,
    summary: string,
    options: { params?: boolean; open?: boolean; type?: string } = {},
  ) =>
    app.openAPIRegistry.registerPath({
      method,
      path,
      summary,
      ...(options.open ? {} : { security }),
      ...(options.params ? { request: { params: IdParam } } : {}),
      responses: {
        200: { description: 'ok', content: { [options.type ?? 'application/json']: { schema: AnyJson } } },
        ...(options.open ? {} : problems),
      },
    });
  describe('get', '/health', 'Liveness and the generation queue', { open: true });
  describe('get', '/api/audit/export', 'Every visible audit record as JSON lines', {
    type: 'application/x-ndjson',
  });
  describe('get', '/api/eval/runs', 'Eval runs (admin)');
  describe('get', '/api/eval/runs/{id}', 'An eval run’s report (admin)', { params: true });
  describe('get', '/api/eval/runs/{id}/report.html', 'An eval run’s HTML report (admin)', {
    params: true,
    type: 'text/html',
  });
  describe('get', '/api/finetune/jobs', 'Fine-tuning jobs (admin)');
  describe('get', '/api/finetune/jobs/{id}', 'One fine-tuning job (admin)', { params: true });
  describe('post', '/api/finetune/jobs/{id}/cancel', 'Stop a running job; it checkpoints first (admin)', {
    params: true,
  });
  describe('get', '/api/finetune/jobs/{id}/events', 'A job’s events, replayed then live, as SSE (admin)', {
    params: true,
    type: 'text/event-stream',
  });
  describe('get', '/api/models', 'The model catalog');
  describe('get', '/v1/models', 'OpenAI-compatible model list');

  // --- MCP (streamable HTTP) --------------------------------------------------------------------
  app.all('/mcp', (c) =>
    handleMcpRequest(c.req.raw, {
      attune,
      principal: c.get('principal'),
      answer: (question, principal, signal) => answerOnce(question, { maxTokens: 128 }, principal, signal),
    }),
  );
  return app;
}

/**
 * 413 after reading (and discarding) what the client is still sending, up to 64 MiB: a server that
 * answers and closes mid-upload leaves most clients with "connection reset" instead of the reason.
 */
async function refuseTooLarge(c: Context): Promise<Response> {
  const reader = c.req.raw.body?.getReader();
  if (reader) await discardRest(reader, 0);
  return problemResponse(
    new Problem(413, 'Payload Too Large', 'The request body is larger than this server accepts.'),
  );
}

/**
 * The request body, or undefined once it passes `max` bytes; then the rest is read and discarded
 * (up to 64 MiB), so the client gets the 413 instead of a reset connection.
 */
async function readCapped(request: Request, max: number): Promise<Uint8Array<ArrayBuffer> | undefined> {
  const reader = request.body?.getReader();
  if (!reader) return new Uint8Array();
  const parts: Uint8Array[] = [];
  let seen = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    seen += value.byteLength;
    if (seen > max) {
      await discardRest(reader, seen);
      return undefined;
    }
    parts.push(value);
  }
  const out = new Uint8Array(seen);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.byteLength;
  }
  return out;
}

/** Reads and drops what the client still sends, up to 64 MiB in all, before a 413 is answered. */
async function discardRest(reader: ReadableStreamDefaultReader<Uint8Array>, seen: number): Promise<void> {
  try {
    while (seen < 64 * 1024 * 1024) {
      const { done, value } = await reader.read();
      if (done) break;
      seen += value.byteLength;
    }
  } catch {
    // The client went away; nobody reads the answer.
  }
}

function tooLarge(): never {
  throw new Problem(413, 'Payload Too Large', 'The request body is larger than this server accepts.');
}

function toProblem(error: unknown): Problem {
  if (error instanceof Problem) return error;
  if (AttuneError.isInstance(error)) return new Problem(400, 'Bad Request', error.message);
  process.stderr.write(`attune serve: ${(error as Error).stack ?? error}\n`);
  return new Problem(500, 'Internal Server Error', 'The server failed; the operator log has the details.');
}

/** An eval run id names a folder: nothing that could climb out of it. */
function runId(id: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(id) || id.includes('..'))
    throw new Problem(404, 'Not Found', `No eval run "${id}".`);
  return id;
}

function summaryOf(runs: ReturnType<Attune['evalRuns']>, id: string) {
  try {
    const config = runs.config(id);
    return {
      createdAt: config.createdAt,
      testSet: config.testSet,
      strategies: config.strategies.map((s) => s.name),
      questions: config.testSet.questions,
    };
  } catch {
    return {};
  }
}
