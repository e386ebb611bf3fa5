/**
 * A local stand-in for OpenAI's hosted fine-tuning service, for tests.
 *
 * The real service (api.openai.com) is not reachable from where Attune's tests run, and a real job
 * costs money and takes tens of minutes. This server implements the published HTTP contract of the
 * Files API (`POST /files`, multipart, `purpose=fine-tune`) and the fine-tuning jobs API
 * (`/fine_tuning/jobs`, `/{id}`, `/{id}/events`, `/{id}/checkpoints`, `/{id}/cancel`) closely enough
 * that a client passing against it speaks that contract: the same paths, bodies, list pagination
 * (newest first, `after` cursor, `has_more`), error shape `{error: {message, type, param, code}}`,
 * bearer-token auth, and job lifecycle validating_files → queued → running → succeeded | failed |
 * cancelled. It does not train anything: losses follow a decreasing curve with a little seeded noise.
 *
 * Time is a clock the test controls: a job advances one tick every `tickMs` real milliseconds
 * (one training step per tick once running), and the service timestamps it reports advance
 * `secondsPerTick` per tick, so a 30-step job finishes in well under a second of test time while
 * reporting minutes of service time. Progress is computed on each request from the clock; there are
 * no timers to leak.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type RecordedFineTuningRequest = {
  method: string;
  /** Path after `/v1`, without the query, e.g. `/fine_tuning/jobs`. */
  path: string;
  query: Record<string, string>;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON for JSON requests; for the multipart upload, its fields (the file by name and size). */
  body: unknown;
  /** Real time the request arrived, in ms since the epoch. */
  receivedAt: number;
  /** Status this server answered with. */
  status?: number;
};

/** Makes matching requests fail: rate limits, gateway errors, flaky networks. */
export type Fault = {
  method?: string;
  /** Path after `/v1`; a string matches exactly, a RegExp anywhere. */
  path: string | RegExp;
  status: number;
  /** How many matching requests get the fault; `Infinity` for all of them. */
  times: number;
  /** Sent as `retry-after` (seconds), as OpenAI does on 429. */
  retryAfterSeconds?: number;
  /** Sent as `retry-after-ms`, which OpenAI's own SDKs read first. */
  retryAfterMs?: number;
  body?: unknown;
  /** `after`: the request is carried out, then answered with the fault (a gateway timing out late). */
  when?: 'before' | 'after';
};

export type JobFailure = { atStep: number; code: string; message: string };

export type FineTuningTestServerOptions = {
  /** The only key accepted as `Authorization: Bearer <key>`; defaults to `sk-test-attune`. */
  apiKey?: string;
  /** Base models that can be fine-tuned. */
  models?: string[];
  /** Real milliseconds per tick; defaults to 20. */
  tickMs?: number;
  /** Service seconds per tick, as seen in `created_at` and `estimated_finish`; defaults to 3. */
  secondsPerTick?: number;
  /** Ticks a job spends in validating_files and in queued; default 2 each. */
  validatingTicks?: number;
  queuedTicks?: number;
  /** Fewest training examples a job accepts; OpenAI requires 10. */
  minExamples?: number;
  /** Largest page any list answers, whatever `limit` asks for; defaults to 100. */
  maxPageSize?: number;
  faults?: Fault[];
  /** Makes a job fail at a step with the service's error (e.g. a content-policy or server failure). */
  failJob?: (request: {
    model: string;
    suffix: string | null;
    trainingFile: string;
  }) => JobFailure | undefined;
  /** The clock; defaults to `Date.now`. */
  now?: () => number;
};

export type StoredFile = {
  id: string;
  filename: string;
  purpose: string;
  bytes: number;
  createdAt: number;
  /** Exactly what was uploaded. */
  content: string;
};

type JobStatus = 'validating_files' | 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
type ServiceError = { code: string; message: string; param: string | null };
type JobEvent = {
  object: 'fine_tuning.job.event';
  id: string;
  created_at: number;
  level: 'info' | 'warn' | 'error';
  message: string;
  data: Record<string, unknown> | null;
  type: 'message' | 'metrics';
};
type Checkpoint = {
  object: 'fine_tuning.job.checkpoint';
  id: string;
  created_at: number;
  fine_tuned_model_checkpoint: string;
  fine_tuning_job_id: string;
  metrics: Record<string, number>;
  step_number: number;
};
type Hyper = { n_epochs: number; batch_size: number; learning_rate_multiplier: number };

export type TestJob = {
  id: string;
  model: string;
  status: JobStatus;
  trainingFile: string;
  validationFile: string | null;
  suffix: string | null;
  seed: number;
  hyperparameters: Hyper;
  totalSteps: number;
  fineTunedModel: string | null;
  trainedTokens: number | null;
  error: ServiceError | null;
  /** Chronological; the API lists them newest first. */
  events: JobEvent[];
  checkpoints: Checkpoint[];
  /** What the client sent to create it. */
  request: Record<string, unknown>;
};

type JobState = TestJob & {
  createdMs: number;
  createdAt: number;
  finishedAt: number | null;
  tick: number;
  stepsPerEpoch: number;
  tokensPerEpoch: number;
  failure: JobFailure | undefined;
  random: () => number;
  shortId: string;
};

export type FineTuningTestServer = {
  /** Includes `/v1`, as the OpenAI base URL does. */
  baseURL: string;
  apiKey: string;
  requests: RecordedFineTuningRequest[];
  files: Map<string, StoredFile>;
  /** Jobs as of now (the clock is applied first). */
  job(id: string): TestJob | undefined;
  jobs(): TestJob[];
  close(): Promise<void>;
};

const defaultModels = [
  'gpt-4o-mini-2024-07-18',
  'gpt-4.1-mini-2025-04-14',
  'gpt-4.1-nano-2025-04-14',
  'gpt-3.5-turbo-0125',
];
const purposes = ['assistants', 'batch', 'fine-tune', 'vision', 'user_data', 'evals'];
const roles = ['system', 'developer', 'user', 'assistant', 'tool'];

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
  ) {
    super(message);
  }
}

const invalid = (message: string, param: string | null = null, code: string | null = null) =>
  new HttpError(400, message, 'invalid_request_error', param, code);

export async function startFineTuningTestServer(
  options: FineTuningTestServerOptions = {},
): Promise<FineTuningTestServer> {
  const apiKey = options.apiKey ?? 'sk-test-attune';
  const now = options.now ?? Date.now;
  const tickMs = options.tickMs ?? 20;
  const secondsPerTick = options.secondsPerTick ?? 3;
  const validatingTicks = options.validatingTicks ?? 2;
  const queuedTicks = options.queuedTicks ?? 2;
  const minExamples = options.minExamples ?? 10;
  const maxPageSize = options.maxPageSize ?? 100;
  const models = options.models ?? defaultModels;
  const faults = (options.faults ?? []).map((fault) => ({ ...fault, left: fault.times }));
  const requests: RecordedFineTuningRequest[] = [];
  const files = new Map<string, StoredFile>();
  const jobs = new Map<string, JobState>();

  const serviceSeconds = () => Math.floor(now() / 1000);

  function pushEvent(
    job: JobState,
    message: string,
    extra: { level?: JobEvent['level']; data?: Record<string, unknown>; type?: JobEvent['type'] } = {},
  ): void {
    job.events.push({
      object: 'fine_tuning.job.event',
      id: `ftevent-${randomId(24)}`,
      created_at: job.createdAt + job.tick * secondsPerTick,
      level: extra.level ?? 'info',
      message,
      data: extra.data ?? null,
      type: extra.type ?? 'message',
    });
  }

  function fail(job: JobState, error: ServiceError): void {
    job.status = 'failed';
    job.error = error;
    job.finishedAt = job.createdAt + job.tick * secondsPerTick;
    pushEvent(job, error.message, { level: 'error' });
  }

  /** Brings a job up to the clock, one tick at a time, so its events are exactly what a real job emits. */
  function advance(job: JobState): void {
    const target = Math.floor((now() - job.createdMs) / tickMs);
    const runningAt = validatingTicks + queuedTicks;
    while (job.tick < target && !isTerminal(job.status)) {
      job.tick++;
      const t = job.tick;
      if (t === validatingTicks) {
        const problem = validateDataset(job);
        if (problem) {
          fail(job, problem);
          continue;
        }
        job.status = 'queued';
        pushEvent(job, 'Files validated, moving job to queued state');
      } else if (t === runningAt) {
        job.status = 'running';
        pushEvent(job, 'Fine-tuning job started');
      } else if (t > runningAt && t <= runningAt + job.totalSteps) {
        trainStep(job, t - runningAt);
      } else if (t === runningAt + job.totalSteps + 1) {
        job.fineTunedModel = `ft:${job.model}:attune-test:${job.suffix ?? ''}:${job.shortId}`;
        job.trainedTokens = job.tokensPerEpoch * job.hyperparameters.n_epochs;
        job.finishedAt = job.createdAt + t * secondsPerTick;
        pushEvent(job, `New fine-tuned model created: ${job.fineTunedModel}`);
        pushEvent(job, 'The job has successfully completed');
        job.status = 'succeeded';
      }
    }
  }

  function trainStep(job: JobState, step: number): void {
    if (job.failure && step === job.failure.atStep) {
      fail(job, { code: job.failure.code, message: job.failure.message, param: null });
      return;
    }
    const progress = step / job.totalSteps;
    const noise = () => (job.random() - 0.5) * 0.04;
    const trainLoss = round(0.3 + 2.2 * Math.exp(-3 * progress) + noise());
    const data: Record<string, number> = {
      step,
      train_loss: trainLoss,
      train_mean_token_accuracy: round(Math.min(0.99, 0.45 + 0.5 * progress)),
      total_steps: job.totalSteps,
    };
    const endOfEpoch = step % job.stepsPerEpoch === 0;
    const evalEvery = Math.max(1, Math.floor(job.stepsPerEpoch / 2));
    if (job.validationFile && (step % evalEvery === 0 || endOfEpoch)) {
      data.valid_loss = round(trainLoss + 0.15 + noise());
      data.valid_mean_token_accuracy = round(Math.min(0.97, 0.4 + 0.5 * progress));
    }
    const validPart = data.valid_loss !== undefined ? `, validation loss=${data.valid_loss.toFixed(2)}` : '';
    pushEvent(job, `Step ${step}/${job.totalSteps}: training loss=${trainLoss.toFixed(2)}${validPart}`, {
      type: 'metrics',
      data,
    });
    if (endOfEpoch) {
      const metrics: Record<string, number> = { ...data };
      delete metrics.total_steps;
      if (data.valid_loss !== undefined) metrics.full_valid_loss = round(data.valid_loss + 0.02);
      const checkpoint: Checkpoint = {
        object: 'fine_tuning.job.checkpoint',
        id: `ftckpt_${randomId(24)}`,
        created_at: job.createdAt + job.tick * secondsPerTick,
        fine_tuned_model_checkpoint: `ft:${job.model}:attune-test:${job.suffix ?? ''}:${job.shortId}:ckpt-step-${step}`,
        fine_tuning_job_id: job.id,
        metrics,
        step_number: step,
      };
      // OpenAI keeps the checkpoints of the last three epochs only.
      job.checkpoints.push(checkpoint);
      if (job.checkpoints.length > 3) job.checkpoints.shift();
      pushEvent(job, `Checkpoint created at step ${step}`);
    }
  }

  function validateDataset(job: JobState): ServiceError | undefined {
    const check = (fileId: string, param: 'training_file' | 'validation_file'): ServiceError | undefined => {
      const code = param === 'training_file' ? 'invalid_training_file' : 'invalid_validation_file';
      const examples = parseExamples(files.get(fileId)!.content);
      if (param === 'training_file' && examples.length < minExamples) {
        return {
          code,
          param,
          message: `The job failed due to an invalid training file. Training file has ${examples.length} example(s), but must have at least ${minExamples} examples.`,
        };
      }
      const index = examples.findIndex((example) => !example.messages.some((m) => m.role === 'assistant'));
      if (index >= 0) {
        return {
          code,
          param,
          message: `The job failed due to an invalid ${param === 'training_file' ? 'training' : 'validation'} file. Example ${index + 1} has no assistant message to learn from.`,
        };
      }
      return undefined;
    };
    return (
      check(job.trainingFile, 'training_file') ??
      (job.validationFile ? check(job.validationFile, 'validation_file') : undefined)
    );
  }

  function jobJson(job: JobState): Record<string, unknown> & { id: string } {
    const running = job.status === 'running';
    const runningAt = validatingTicks + queuedTicks;
    return {
      object: 'fine_tuning.job',
      id: job.id,
      model: job.model,
      created_at: job.createdAt,
      finished_at: job.finishedAt,
      fine_tuned_model: job.fineTunedModel,
      organization_id: 'org-attune-test',
      result_files: [],
      status: job.status,
      training_file: job.trainingFile,
      validation_file: job.validationFile,
      hyperparameters: job.hyperparameters,
      method: { type: 'supervised', supervised: { hyperparameters: job.hyperparameters } },
      trained_tokens: job.trainedTokens,
      error: job.error,
      user_provided_suffix: job.suffix,
      seed: job.seed,
      estimated_finish: running ? job.createdAt + (runningAt + job.totalSteps + 1) * secondsPerTick : null,
      integrations: [],
      metadata: null,
    };
  }

  function publicJob(job: JobState): TestJob {
    advance(job);
    const {
      createdMs,
      createdAt,
      finishedAt,
      tick,
      stepsPerEpoch,
      tokensPerEpoch,
      failure,
      random,
      shortId,
      ...rest
    } = job;
    return structuredClone(rest);
  }

  async function uploadFile(req: IncomingMessage, raw: Buffer, record: RecordedFineTuningRequest) {
    const contentType = req.headers['content-type'] ?? '';
    if (!contentType.startsWith('multipart/form-data')) {
      throw invalid('Uploads must be sent as multipart/form-data.', null, 'invalid_content_type');
    }
    let form: FormData;
    try {
      form = await new Response(new Uint8Array(raw), { headers: { 'content-type': contentType } }).formData();
    } catch {
      throw invalid('The multipart body could not be parsed.', null, 'invalid_multipart');
    }
    const purpose = form.get('purpose');
    const file = form.get('file');
    record.body = {
      purpose,
      file: typeof file === 'object' && file ? { name: file.name, size: file.size } : file,
    };
    if (typeof purpose !== 'string') throw invalid("'purpose' is a required property", 'purpose');
    if (!purposes.includes(purpose)) {
      throw invalid(
        `'${purpose}' is not one of ${purposes.map((p) => `'${p}'`).join(', ')} - 'purpose'`,
        'purpose',
      );
    }
    if (typeof file !== 'object' || file === null) throw invalid("'file' is a required property", 'file');
    const content = await file.text();
    if (purpose === 'fine-tune') {
      const problem = jsonlProblem(content);
      if (problem)
        throw invalid(`Invalid file format for Fine-Tuning API. ${problem}`, 'file', 'invalid_file_format');
    }
    const stored: StoredFile = {
      id: `file-${randomId(22)}`,
      filename: file.name,
      purpose,
      bytes: Buffer.byteLength(content),
      createdAt: serviceSeconds(),
      content,
    };
    files.set(stored.id, stored);
    return fileJson(stored);
  }

  function createJob(body: Record<string, unknown>): Record<string, unknown> {
    const model = body.model;
    if (typeof model !== 'string') throw invalid("'model' is a required property", 'model');
    if (!models.includes(model)) {
      throw invalid(
        `Model ${model} is not available for fine-tuning or does not exist.`,
        'model',
        'model_not_available',
      );
    }
    const trainingFile = fineTuneFile(body.training_file, 'training_file');
    const validationFile =
      body.validation_file === undefined || body.validation_file === null
        ? null
        : fineTuneFile(body.validation_file, 'validation_file');
    const suffix = body.suffix ?? null;
    if (suffix !== null && (typeof suffix !== 'string' || suffix.length > 64)) {
      throw invalid('suffix must be a string of at most 64 characters.', 'suffix');
    }
    const seed = body.seed ?? Math.floor(Math.random() * 2 ** 31);
    if (!Number.isInteger(seed) || (seed as number) < 0 || (seed as number) > 2147483647) {
      throw invalid('seed must be an integer between 0 and 2147483647.', 'seed');
    }
    const requested = requestedHyperparameters(body);
    const examples = parseExamples(files.get(trainingFile)!.content);
    // What OpenAI's "auto" settles on for a small dataset.
    const hyperparameters: Hyper = {
      n_epochs: requested.n_epochs ?? 3,
      batch_size: requested.batch_size ?? 1,
      learning_rate_multiplier: requested.learning_rate_multiplier ?? 1.8,
    };
    const stepsPerEpoch = Math.max(1, Math.ceil(examples.length / hyperparameters.batch_size));
    const id = `ftjob-${randomId(24)}`;
    const createdMs = now();
    const job: JobState = {
      id,
      model,
      status: 'validating_files',
      trainingFile,
      validationFile,
      suffix: suffix as string | null,
      seed: seed as number,
      hyperparameters,
      totalSteps: stepsPerEpoch * hyperparameters.n_epochs,
      fineTunedModel: null,
      trainedTokens: null,
      error: null,
      events: [],
      checkpoints: [],
      request: structuredClone(body),
      createdMs,
      createdAt: Math.floor(createdMs / 1000),
      finishedAt: null,
      tick: 0,
      stepsPerEpoch,
      tokensPerEpoch: examples.reduce((sum, example) => sum + estimateTokens(example), 0),
      failure: options.failJob?.({ model, suffix: suffix as string | null, trainingFile }),
      random: mulberry32(seed as number),
      shortId: randomId(8),
    };
    pushEvent(job, `Created fine-tuning job: ${id}`);
    pushEvent(
      job,
      validationFile
        ? `Validating training file: ${trainingFile} and validation file: ${validationFile}`
        : `Validating training file: ${trainingFile}`,
    );
    jobs.set(id, job);
    return jobJson(job);
  }

  function fineTuneFile(value: unknown, param: string): string {
    if (typeof value !== 'string') throw invalid(`'${param}' is a required property`, param);
    const file = files.get(value);
    if (!file) throw invalid(`Invalid file ID: ${value}. The file does not exist.`, param, 'invalid_file_id');
    if (file.purpose !== 'fine-tune') {
      throw invalid(`File ${value} has purpose '${file.purpose}'; fine-tuning needs 'fine-tune'.`, param);
    }
    return value;
  }

  function findJob(id: string): JobState {
    const job = jobs.get(id);
    if (!job)
      throw new HttpError(
        404,
        `Could not find fine-tune: ${id}`,
        'invalid_request_error',
        'id',
        'fine_tune_not_found',
      );
    advance(job);
    return job;
  }

  async function route(
    req: IncomingMessage,
    raw: Buffer,
    record: RecordedFineTuningRequest,
  ): Promise<[number, unknown]> {
    const { method, path, query } = record;
    if (method === 'POST' && path === '/files') return [200, await uploadFile(req, raw, record)];
    const fileMatch = /^\/files\/([^/]+)$/.exec(path);
    if (method === 'GET' && fileMatch) {
      const file = files.get(fileMatch[1]!);
      if (!file)
        throw new HttpError(404, `No such File object: ${fileMatch[1]}`, 'invalid_request_error', 'id');
      return [200, fileJson(file)];
    }
    if (path === '/fine_tuning/jobs') {
      if (method === 'POST') return [200, createJob(jsonBody(raw, record))];
      if (method === 'GET') {
        const all = [...jobs.values()].reverse();
        for (const job of all) advance(job);
        return [200, page(all.map(jobJson), query, 20)];
      }
    }
    const jobMatch = /^\/fine_tuning\/jobs\/([^/]+)(?:\/(events|checkpoints|cancel))?$/.exec(path);
    if (jobMatch) {
      const [, id, sub] = jobMatch;
      if (method === 'GET' && !sub) return [200, jobJson(findJob(id!))];
      if (method === 'GET' && sub === 'events')
        return [200, page([...findJob(id!).events].reverse(), query, 20)];
      if (method === 'GET' && sub === 'checkpoints') {
        const result = page([...findJob(id!).checkpoints].reverse(), query, 10);
        return [
          200,
          { ...result, first_id: result.data[0]?.id ?? null, last_id: result.data.at(-1)?.id ?? null },
        ];
      }
      if (method === 'POST' && sub === 'cancel') {
        const job = findJob(id!);
        if (isTerminal(job.status))
          throw invalid(`Job ${job.id} has already ${job.status}; it cannot be cancelled.`);
        job.status = 'cancelled';
        job.finishedAt = job.createdAt + job.tick * secondsPerTick;
        pushEvent(job, 'Fine-tuning job cancelled');
        return [200, jobJson(job)];
      }
    }
    throw new HttpError(404, `Invalid URL (${method} /v1${path})`, 'invalid_request_error');
  }

  function page<T extends { id: string }>(items: T[], query: Record<string, string>, defaultLimit: number) {
    const limit = Math.min(Number(query.limit ?? defaultLimit), maxPageSize);
    if (!Number.isInteger(limit) || limit < 1) throw invalid('limit must be a positive integer.', 'limit');
    let start = 0;
    if (query.after !== undefined) {
      const index = items.findIndex((item) => item.id === query.after);
      if (index < 0) throw invalid(`No object with id ${query.after} to list after.`, 'after');
      start = index + 1;
    }
    return {
      object: 'list',
      data: items.slice(start, start + limit),
      has_more: start + limit < items.length,
    };
  }

  function takeFault(method: string, path: string) {
    const fault = faults.find(
      (f) =>
        f.left > 0 &&
        (f.method === undefined || f.method === method) &&
        (typeof f.path === 'string' ? f.path === path : f.path.test(path)),
    );
    if (fault) fault.left--;
    return fault;
  }

  function sendFault(res: ServerResponse, fault: Fault): number {
    const headers: Record<string, string> = {};
    if (fault.retryAfterSeconds !== undefined) headers['retry-after'] = String(fault.retryAfterSeconds);
    if (fault.retryAfterMs !== undefined) headers['retry-after-ms'] = String(fault.retryAfterMs);
    const body =
      fault.body ??
      (fault.status === 429
        ? errorJson(
            new HttpError(
              429,
              'Rate limit reached for requests. Please try again later.',
              'requests',
              null,
              'rate_limit_exceeded',
            ),
          )
        : errorJson(
            new HttpError(
              fault.status,
              'The server had an error while processing your request. Sorry about that!',
              'server_error',
            ),
          ));
    sendJson(res, fault.status, body, headers);
    return fault.status;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = req.method ?? 'GET';
    const path = url.pathname.replace(/^\/v1(?=\/)/, '');
    const record: RecordedFineTuningRequest = {
      method,
      path,
      query: Object.fromEntries(url.searchParams),
      headers: req.headers,
      body: undefined,
      receivedAt: Date.now(),
    };
    requests.push(record);
    const fault = takeFault(method, path);
    if (fault && fault.when !== 'after') {
      record.status = sendFault(res, fault);
      return;
    }
    try {
      if (!url.pathname.startsWith('/v1/'))
        throw new HttpError(404, `Invalid URL (${method} ${url.pathname})`, 'invalid_request_error');
      const auth = req.headers.authorization;
      if (!auth) {
        throw new HttpError(
          401,
          "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
          'invalid_request_error',
        );
      }
      if (auth !== `Bearer ${apiKey}`) {
        const key = auth.replace(/^Bearer\s+/i, '');
        throw new HttpError(
          401,
          `Incorrect API key provided: ${key.slice(0, 3)}***${key.slice(-4)}. You can find your API key at https://platform.openai.com/account/api-keys.`,
          'invalid_request_error',
          null,
          'invalid_api_key',
        );
      }
      const [status, body] = await route(req, raw, record);
      if (fault) {
        record.status = sendFault(res, fault);
        return;
      }
      record.status = status;
      sendJson(res, status, body);
    } catch (error) {
      const httpError =
        error instanceof HttpError ? error : new HttpError(500, String(error), 'server_error');
      record.status = httpError.status;
      sendJson(res, httpError.status, errorJson(httpError));
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) sendJson(res, 500, errorJson(new HttpError(500, String(error), 'server_error')));
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    baseURL: `http://127.0.0.1:${port}/v1`,
    apiKey,
    requests,
    files,
    job: (id) => {
      const job = jobs.get(id);
      return job ? publicJob(job) : undefined;
    },
    jobs: () => [...jobs.values()].map(publicJob),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

function requestedHyperparameters(body: Record<string, unknown>): Partial<Hyper> {
  const method = body.method as { type?: unknown; supervised?: { hyperparameters?: unknown } } | undefined;
  if (method !== undefined && body.hyperparameters !== undefined) {
    throw invalid(
      'Specify hyperparameters in method, not both in method and at the top level.',
      'hyperparameters',
    );
  }
  let source: unknown = body.hyperparameters;
  let prefix = 'hyperparameters';
  if (method !== undefined) {
    if (method.type !== 'supervised') {
      // DPO and reinforcement fine-tuning exist on the real service; this test server does not model them.
      throw invalid(
        `Method type ${String(method.type)} is not supported by this test server.`,
        'method.type',
      );
    }
    source = method.supervised?.hyperparameters;
    prefix = 'method.supervised.hyperparameters';
  }
  const given = (source ?? {}) as Record<string, unknown>;
  const result: Partial<Hyper> = {};
  const limits = { n_epochs: [1, 50], batch_size: [1, 256], learning_rate_multiplier: [0, 10] } as const;
  for (const key of Object.keys(limits) as (keyof Hyper)[]) {
    const value = given[key];
    if (value === undefined || value === 'auto') continue;
    const [low, high] = limits[key];
    const integer = key !== 'learning_rate_multiplier';
    if (
      typeof value !== 'number' ||
      (integer && !Number.isInteger(value)) ||
      value <= low - (integer ? 1 : 0) ||
      value > high
    ) {
      throw invalid(
        `Invalid value for ${key}: ${JSON.stringify(value)}. Expected 'auto' or ${integer ? 'an integer' : 'a number'} in ${integer ? `[${low}, ${high}]` : `(${low}, ${high}]`}.`,
        `${prefix}.${key}`,
        'invalid_value',
      );
    }
    result[key] = value;
  }
  return result;
}

type Example = { messages: { role: string; content: unknown }[] };

/** The first malformed line, described as the Files API does; undefined when every line is a chat example. */
function jsonlProblem(content: string): string | undefined {
  const lines = content.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (!line) continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      return `Line ${i + 1} is not valid JSON.`;
    }
    const messages = (value as { messages?: unknown } | null)?.messages;
    if (typeof value !== 'object' || value === null || !Array.isArray(messages)) {
      return `Line ${i + 1} must be a JSON object with a "messages" array.`;
    }
    if (messages.length === 0) return `Line ${i + 1} has an empty "messages" array.`;
    for (let j = 0; j < messages.length; j++) {
      const message = messages[j] as { role?: unknown; content?: unknown } | null;
      if (!message || typeof message.role !== 'string' || !roles.includes(message.role)) {
        return `Line ${i + 1}, message ${j + 1}: "role" must be one of ${roles.join(', ')}.`;
      }
      if (typeof message.content !== 'string' && !Array.isArray(message.content)) {
        return `Line ${i + 1}, message ${j + 1}: "content" must be a string.`;
      }
    }
  }
  if (!lines.some((line) => line.trim())) return 'The file is empty.';
  return undefined;
}

function parseExamples(content: string): Example[] {
  return content
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line) as Example);
}

/** OpenAI's rule of thumb: about four characters per token of English text. */
function estimateTokens(example: Example): number {
  const chars = example.messages.reduce(
    (sum, m) => sum + (typeof m.content === 'string' ? m.content.length : JSON.stringify(m.content).length),
    0,
  );
  return Math.ceil(chars / 4);
}

function jsonBody(raw: Buffer, record: RecordedFineTuningRequest): Record<string, unknown> {
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch {
    throw invalid(
      "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly.)",
    );
  }
  record.body = body;
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw invalid('The body must be a JSON object.');
  return body as Record<string, unknown>;
}

function fileJson(file: StoredFile) {
  return {
    object: 'file',
    id: file.id,
    purpose: file.purpose,
    filename: file.filename,
    bytes: file.bytes,
    created_at: file.createdAt,
    expires_at: null,
    status: 'processed',
    status_details: null,
  };
}

function errorJson(error: HttpError) {
  return { error: { message: error.message, type: error.type, param: error.param, code: error.code } };
}

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

function isTerminal(status: JobStatus): boolean {
  return status === 'succeeded' || status === 'failed' || status === 'cancelled';
}

function randomId(length: number): string {
  return randomBytes(length).toString('base64url').replace(/[-_]/g, 'x').slice(0, length);
}

function round(value: number): number {
  return Math.round(value * 10000) / 10000;
}

/** Small seeded generator, so a job's loss curve depends on its seed as a real one would. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
