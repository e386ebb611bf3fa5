// The browser's side of the HTTP API (src/server/app.ts): every call carries the key as a bearer
// header, and every failure becomes an ApiError holding the server's problem+json detail.

export type Problem = {
  status: number;
  title: string;
  detail: string;
  failures?: { source: string; id?: string; reason: string }[];
  errors?: { path: string; message: string }[];
  hint?: string;
};

export class ApiError extends Error {
  readonly problem: Problem;
  constructor(problem: Problem) {
    super(problem.detail || problem.title);
    this.name = 'ApiError';
    this.problem = problem;
  }
}

export type Acl = { public: boolean; users: string[]; groups: string[] };

export type StoredDocument = {
  id: string;
  source: string;
  title: string;
  acl: Acl;
  version: number;
  chunkCount: number;
  updatedAt: string;
  metadata: Record<string, unknown>;
};

export type StoredChunk = {
  id: string;
  docId: string;
  ordinal: number;
  text: string;
  headingPath: string[];
  page?: number;
  version: number;
};

export type DocumentSnapshot = { document: StoredDocument; chunks: StoredChunk[] };

/** `summary` and `note` come to admin keys only (they say what changed, and name documents). */
export type KbVersion = {
  number: number;
  createdAt: string;
  note?: string;
  summary?: { added: number; changed: number; removed: number; failed: number; chunksEmbedded: number };
};

export type SyncSummary = {
  version: number | undefined;
  added: number;
  changed: number;
  removed: number;
  unchanged: number;
  failed: number;
  chunksEmbedded: number;
  failures: { source: string; id?: string; reason: string }[];
  durationMs: number;
};

export type AnswerSource = {
  n: number;
  docId: string;
  chunkId: string;
  title: string;
  source: string;
  location: string;
  snippet: string;
  version: number;
  score: number;
};

export type AnswerCitation = {
  n: number;
  docId: string;
  chunkId: string;
  title: string;
  source: string;
  origin: 'model' | 'attributed';
};

export type ClosestPassage = {
  n: number;
  docId: string;
  chunkId: string;
  title: string;
  passage: string;
  sentence: string;
  start: number;
  end: number;
};

export type Timings = {
  embedMs: number;
  searchMs: number;
  rerankMs: number;
  /** The answerability verifier's pass; absent in records written before it was timed. */
  verifyMs?: number;
  firstTokenMs?: number;
  generateMs: number;
  totalMs: number;
};

export type Answer = {
  answer: string;
  abstained: boolean;
  abstainReason?: string;
  citations: AnswerCitation[];
  sources: AnswerSource[];
  closest?: ClosestPassage;
  groundedness: number;
  kbVersion?: number;
  auditId: string;
  cached: boolean;
  timings: Timings;
  warnings: string[];
};

export type AuditRecord = {
  id: string;
  time: string;
  status: 'answered' | 'abstained' | 'failed';
  principal: { user: string; groups: string[]; admin?: boolean };
  question: string;
  kbVersion?: number;
  mode: string;
  model: { id: string; adapter?: { id: string } };
  parameters: { k: number; rerank: boolean; temperature: number; maxTokens: number };
  evidence: {
    n?: number;
    chunkId: string;
    docId: string;
    title: string;
    rank: number;
    scores: { dense?: number; text?: number; fused: number; rerank?: number };
    location?: string;
    snippet?: string;
    excluded?: 'budget' | 'injection';
  }[];
  prompt: { tokens: number; contextSize: number; reservedAnswerTokens: number };
  answer: string;
  abstained: boolean;
  abstainReason?: string;
  groundedness: { score: number; sentences: { text: string; cited: number[]; supported: boolean }[] };
  timings: Timings;
  usage: { inputTokens: number; outputTokens: number };
  cachedFrom?: string;
  error?: { name: string; message: string };
  warnings: string[];
};

export type FinetuneJob = {
  id: string;
  status: 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
  createdAt: string;
  backend: string;
  baseModel: { name: string };
  dataset: { examples: number };
  progress?: { step: number; totalSteps: number };
  adapterId?: string;
  error?: string;
};

export type FinetuneEvent = {
  type: string;
  step?: number;
  totalSteps?: number;
  loss?: number;
  evalLoss?: number;
  tokensPerSecond?: number;
  message?: string;
};

export type EvalRun = {
  id: string;
  createdAt?: string;
  strategies?: string[];
  questions?: number;
  testSet?: { name?: string; questions?: number };
};

export type ModelEntry = {
  name: string;
  task: string;
  format: string;
  sizeBytes: number;
  licence: string;
  present: boolean;
  default: boolean;
  sources: string[];
};

/** What a streamed answer reports as it goes (the SSE events of POST /api/ask). */
export type AskEvents = {
  onQueued?: (waitedMs: number) => void;
  onSources?: (sources: AnswerSource[]) => void;
  onDraft?: (delta: string) => void;
};

async function problemOf(response: Response): Promise<Problem> {
  const text = await response.text();
  try {
    const body = JSON.parse(text) as Partial<Problem>;
    return {
      ...body,
      status: response.status,
      title: body.title ?? response.statusText,
      detail: body.detail ?? text,
    };
  } catch {
    return { status: response.status, title: response.statusText || 'Error', detail: text.slice(0, 500) };
  }
}

/**
 * Server-sent events from a fetch body: EventSource cannot POST or send a header, so the
 * framing (blank-line separated blocks of `event:` and `data:` lines) is read here.
 */
async function* readEvents(
  body: ReadableStream<Uint8Array>,
): AsyncGenerator<{ event: string; data: string }> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, '\n');
    let end = buffer.indexOf('\n\n');
    while (end >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') event = value;
        else if (field === 'data') data.push(value);
      }
      if (data.length) yield { event, data: data.join('\n') };
      end = buffer.indexOf('\n\n');
    }
  }
}

export class Api {
  readonly key: string;
  constructor(key: string) {
    this.key = key;
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { authorization: `Bearer ${this.key}`, ...extra };
  }

  private async request(path: string, init: RequestInit = {}): Promise<Response> {
    const response = await fetch(path, {
      ...init,
      headers: this.headers(init.headers as Record<string, string> | undefined),
    });
    if (!response.ok) throw new ApiError(await problemOf(response));
    return response;
  }

  async json<T>(path: string): Promise<T> {
    return (await (await this.request(path)).json()) as T;
  }

  async text(path: string): Promise<string> {
    return (await this.request(path)).text();
  }

  documents = () => this.json<{ documents: StoredDocument[] }>('/api/documents?limit=500');
  /** A document now, or as it was at a knowledge-base version (what an answer given then read). */
  document = (id: string, version?: number) =>
    this.json<DocumentSnapshot>(
      `/api/documents/${encodeURIComponent(id)}${version !== undefined ? `?version=${version}` : ''}`,
    );
  versions = () => this.json<{ versions: KbVersion[] }>('/api/versions');
  audit = () => this.json<{ records: AuditRecord[] }>('/api/audit?limit=100');
  auditRecord = (id: string) => this.json<AuditRecord>(`/api/audit/${encodeURIComponent(id)}`);
  /** The record with each cited document as it was when the answer was given. */
  auditDocuments = (id: string) =>
    this.json<AuditRecord & { documents: { docId: string; version: number; text?: string }[] }>(
      `/api/audit/${encodeURIComponent(id)}?documents=true`,
    );
  evalRuns = () => this.json<{ runs: EvalRun[] }>('/api/eval/runs');
  evalReport = (id: string) => this.text(`/api/eval/runs/${encodeURIComponent(id)}/report.html`);
  models = () => this.json<{ models: ModelEntry[] }>('/api/models');
  finetuneJobs = () => this.json<{ jobs: FinetuneJob[] }>('/api/finetune/jobs');
  cancelFinetune = async (id: string) =>
    (await this.request(`/api/finetune/jobs/${encodeURIComponent(id)}/cancel`, { method: 'POST' })).json();

  /** A job's events, replayed then live; resolves with the job's final record when it ends. */
  async finetuneEvents(
    id: string,
    onEvent: (event: FinetuneEvent) => void,
    signal?: AbortSignal,
  ): Promise<FinetuneJob> {
    const response = await this.request(`/api/finetune/jobs/${encodeURIComponent(id)}/events`, {
      headers: { accept: 'text/event-stream' },
      ...(signal ? { signal } : {}),
    });
    if (!response.body)
      throw new ApiError({ status: 0, title: 'No body', detail: 'The event stream was empty.' });
    for await (const { event, data } of readEvents(response.body)) {
      if (event === 'job') return JSON.parse(data) as FinetuneJob;
      onEvent(JSON.parse(data) as FinetuneEvent);
    }
    throw new ApiError({
      status: 0,
      title: 'Stream ended',
      detail: 'The event stream ended before the job did.',
    });
  }

  /** One streamed answer; resolves with the checked answer, rejects with the server's problem. */
  async ask(question: string, events: AskEvents, signal?: AbortSignal): Promise<Answer> {
    const response = await this.request('/api/ask', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ question, stream: true }),
      ...(signal ? { signal } : {}),
    });
    if (!response.body)
      throw new ApiError({ status: 0, title: 'No body', detail: 'The answer stream was empty.' });
    for await (const { event, data } of readEvents(response.body)) {
      const value: unknown = JSON.parse(data);
      if (event === 'queued') events.onQueued?.((value as { waitedMs: number }).waitedMs);
      else if (event === 'sources') events.onSources?.(value as AnswerSource[]);
      else if (event === 'draft') events.onDraft?.(value as string);
      else if (event === 'answer') return value as Answer;
      else if (event === 'error') throw new ApiError(value as Problem);
    }
    throw new ApiError({
      status: 0,
      title: 'Stream ended',
      detail: 'The answer stream ended without an answer.',
    });
  }

  /**
   * Uploads one file with its ACL. XMLHttpRequest, not fetch: only it reports upload progress.
   */
  upload(file: File, acl: Acl, onProgress: (fraction: number) => void): Promise<SyncSummary> {
    const form = new FormData();
    form.append('file', file);
    if (acl.groups.length) form.append('groups', acl.groups.join(','));
    if (acl.users.length) form.append('users', acl.users.join(','));
    if (acl.public) form.append('public', 'true');
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open('POST', '/api/documents');
      xhr.setRequestHeader('authorization', `Bearer ${this.key}`);
      xhr.upload.onprogress = (e) => {
        if (e.lengthComputable) onProgress(e.loaded / e.total);
      };
      xhr.onload = () => {
        if (xhr.status >= 200 && xhr.status < 300) {
          onProgress(1);
          resolve(JSON.parse(xhr.responseText) as SyncSummary);
          return;
        }
        let problem: Problem;
        try {
          problem = { ...(JSON.parse(xhr.responseText) as Problem), status: xhr.status };
        } catch {
          problem = { status: xhr.status, title: xhr.statusText, detail: xhr.responseText.slice(0, 500) };
        }
        reject(new ApiError(problem));
      };
      xhr.onerror = () =>
        reject(
          new ApiError({
            status: 0,
            title: 'Network error',
            detail: 'The upload could not reach the server.',
          }),
        );
      xhr.send(form);
    });
  }
}

/** A message for any failure, with the server's own detail when there is one. */
export function describeError(error: unknown): string {
  if (error instanceof ApiError) {
    const p = error.problem;
    return `${p.status ? `${p.status} ` : ''}${p.title}: ${p.detail}${p.hint ? ` (${p.hint})` : ''}`;
  }
  return error instanceof Error ? error.message : String(error);
}
