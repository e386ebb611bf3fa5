/**
 * Fine-tuning on a hosted service that speaks OpenAI's fine-tuning API: upload the JSONL files
 * (Files API), create a supervised job, follow its events and checkpoints until it ends, and map all
 * of it onto Attune's `TrainingEvent` stream. See docs/hosted-finetuning.md.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { AttuneError } from '../models/model-error.ts';
import type { FineTuningBackend, Hyperparameters, TrainingEvent, TrainOptions } from './trainer-spec.ts';

/**
 * The learning rate that maps to `learning_rate_multiplier: 1`. OpenAI does not publish the base rate
 * its multiplier scales, so Attune's learning rate is sent relative to this one: Attune's usual LoRA
 * rate (2e-4) is sent as 1, 1e-4 as 0.5.
 */
export const defaultReferenceLearningRate = 2e-4;

export type RetryPolicy = {
  /** Retries after the first attempt, for 429, 5xx and network failures; other 4xx are never retried. */
  maxRetries: number;
  /** Backoff when the service names no wait: initialDelayMs, doubled per retry, at most maxDelayMs. */
  initialDelayMs: number;
  maxDelayMs: number;
  /** A `Retry-After` longer than this is not waited out: the call fails and says how long was asked. */
  maxRetryAfterMs: number;
};

export type OpenAIFineTuningSettings = {
  /** Up to and including the API version, e.g. `https://api.openai.com/v1`. */
  baseURL: string;
  apiKey: string;
  /** Replaces the global fetch: proxies, recording, custom TLS. */
  fetch?: typeof fetch;
  /** How often a running job is polled; defaults to 10 s (each poll is 2 or 3 requests). */
  pollIntervalMs?: number;
  /** Extra headers on every request, e.g. `OpenAI-Organization`, `OpenAI-Project`. */
  headers?: Record<string, string>;
  /** Added to the fine-tuned model's name by the service (at most 64 characters). */
  suffix?: string;
  /** See `defaultReferenceLearningRate`. */
  referenceLearningRate?: number;
  retry?: Partial<RetryPolicy>;
  /** Events asked for per page; defaults to 100. */
  eventsPageSize?: number;
  /** Reported as `provider`; defaults to `openai`. */
  name?: string;
};

const defaultRetry: RetryPolicy = {
  maxRetries: 4,
  initialDelayMs: 1000,
  maxDelayMs: 30_000,
  maxRetryAfterMs: 60_000,
};

/** The job record kept in `outputDir`, so a later run can re-attach instead of starting (and paying for) another job. */
export const jobRecordFile = 'openai-job.json';

/** A hosted fine-tuning service answered with an HTTP error status, or could not be reached. */
export class FineTuningServiceError extends AttuneError {
  /** 0 when no HTTP answer came back. */
  readonly status: number;
  /** `METHOD url`. */
  readonly endpoint: string;
  /** The service's machine-readable error code, e.g. `invalid_api_key`, `rate_limit_exceeded`. */
  readonly code: string | undefined;
  readonly attempts: number;
  constructor(
    message: string,
    details: {
      status: number;
      endpoint: string;
      code?: string;
      attempts: number;
      hint?: string;
      cause?: unknown;
    },
  ) {
    super(message, { hint: details.hint ?? hintForStatus(details.status), cause: details.cause });
    this.name = 'FineTuningServiceError';
    this.status = details.status;
    this.endpoint = details.endpoint;
    this.code = details.code;
    this.attempts = details.attempts;
  }
}

function hintForStatus(status: number): string | undefined {
  if (status === 401 || status === 403) {
    return 'Check the API key given to the hosted backend, and that its project may use fine-tuning.';
  }
  if (status === 404)
    return 'Check that the base URL ends with the API version (e.g. https://api.openai.com/v1).';
  if (status === 429) {
    return 'The service is rate limiting this key or its quota is spent; wait and run again (with resume once a job exists).';
  }
  if (status === 0 || status >= 500) {
    return 'The service or the network failed; try again later. A job already created keeps running: re-attach with resume.';
  }
  if (status === 400) return 'The service rejected the request; its message names the field or line.';
  return undefined;
}

type JobStatus = 'validating_files' | 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

type ServiceJob = {
  id: string;
  status: JobStatus;
  model: string;
  training_file: string;
  fine_tuned_model: string | null;
  error: { code?: string | null; message?: string | null; param?: string | null } | null;
  trained_tokens: number | null;
  created_at: number;
  finished_at: number | null;
  estimated_finish?: number | null;
  hyperparameters?: { n_epochs?: number | 'auto'; batch_size?: number | 'auto' | null };
};

type ServiceEvent = {
  id: string;
  created_at: number;
  level: 'info' | 'warn' | 'error';
  message: string;
  type?: 'message' | 'metrics';
  data?: unknown;
};

type ServiceCheckpoint = {
  id: string;
  created_at: number;
  fine_tuned_model_checkpoint: string;
  step_number: number;
  metrics?: Record<string, number | undefined>;
};

type ListPage<T> = { data: T[]; has_more: boolean };

type JobRecord = {
  provider: string;
  baseURL: string;
  jobId: string;
  model: string;
  trainFile: string;
  trainingFileId: string;
  validationFileId: string | null;
  trainExamples: number;
  validationExamples: number;
  totalSteps: number;
  epochs: number;
  tokensPerEpoch: number;
  createdAt: string;
  status?: JobStatus;
  fineTunedModel?: string | null;
};

/** What the stream has seen of one job: drives de-duplication, rates and the terminal event. */
type RunState = {
  jobId: string;
  totalSteps: number;
  epochs: number;
  tokensPerStep: number;
  seenEvents: Set<string>;
  newestEventId: string | undefined;
  seenCheckpoints: Set<string>;
  lastStep: number;
  lastCheckpoint: string | undefined;
  firstMetric: { step: number; at: number } | undefined;
  lastTrainLoss: number | undefined;
  lastValidLoss: number | undefined;
  fullValidLoss: number | undefined;
};

const terminal = new Set<JobStatus>(['succeeded', 'failed', 'cancelled']);

/**
 * `FineTuningBackend` for OpenAI's hosted fine-tuning (and services that copy its API).
 *
 * Until a job exists on the service, problems (unreadable file, rejected upload, bad key, unknown
 * model) throw an `AttuneError` before the first event: nothing was started, nothing is billed.
 * Once the job exists, the stream ends with exactly one of succeeded, failed or cancelled, even when
 * the service stops answering (then `failed` says the job may still be running and how to re-attach).
 * Stopping iteration early does not cancel the job; aborting `abortSignal` does.
 */
export class OpenAIFineTuningBackend implements FineTuningBackend {
  readonly specificationVersion = 'v1' as const;
  readonly provider: string;
  readonly #client: FineTuningClient;
  readonly #pollIntervalMs: number;
  readonly #suffix: string | undefined;
  readonly #referenceLearningRate: number;
  readonly #eventsPageSize: number;

  constructor(settings: OpenAIFineTuningSettings) {
    this.#client = new FineTuningClient(settings);
    this.provider = settings.name ?? 'openai';
    this.#pollIntervalMs = settings.pollIntervalMs ?? 10_000;
    this.#suffix = settings.suffix;
    this.#referenceLearningRate = settings.referenceLearningRate ?? defaultReferenceLearningRate;
    this.#eventsPageSize = settings.eventsPageSize ?? 100;
    if (!(this.#referenceLearningRate > 0)) {
      throw new AttuneError(
        `referenceLearningRate must be a positive number, got ${settings.referenceLearningRate}.`,
      );
    }
  }

  /** The body of `POST /fine_tuning/jobs` for these options, and what the service cannot be told. */
  jobRequest(
    options: Pick<TrainOptions, 'baseModel' | 'hyperparameters'>,
    trainingFileId: string,
    validationFileId: string | null,
  ): { body: Record<string, unknown>; ignored: string[] } {
    const h = options.hyperparameters;
    requireInteger(h.epochs, 'epochs', 1, 50);
    requireInteger(h.batchSize, 'batchSize', 1, 256);
    requireInteger(h.seed, 'seed', 0, 2147483647);
    if (!(h.learningRate > 0)) {
      throw new AttuneError(`Hyperparameter learningRate must be a positive number, got ${h.learningRate}.`);
    }
    return {
      body: {
        model: options.baseModel,
        training_file: trainingFileId,
        ...(validationFileId ? { validation_file: validationFileId } : {}),
        ...(this.#suffix ? { suffix: this.#suffix } : {}),
        seed: h.seed,
        method: {
          type: 'supervised',
          supervised: {
            hyperparameters: {
              n_epochs: h.epochs,
              batch_size: h.batchSize,
              learning_rate_multiplier: significant(h.learningRate / this.#referenceLearningRate),
            },
          },
        },
      },
      ignored: ignoredHyperparameters(h),
    };
  }

  async *doTrain(options: TrainOptions): AsyncGenerator<TrainingEvent> {
    const signal = options.abortSignal;
    const recordPath = join(options.outputDir, jobRecordFile);
    const record = await readRecord(recordPath);
    if (options.resume) {
      yield* this.#reattach(record, recordPath, options);
      return;
    }
    if (record && record.baseURL === this.#client.baseURL) {
      const existing = await this.#getJob(record.jobId).catch((error: unknown) => {
        // A job the service no longer knows cannot be trained twice.
        if (error instanceof FineTuningServiceError && error.status === 404) return undefined;
        throw error;
      });
      if (existing && !terminal.has(existing.status)) {
        throw new AttuneError(
          `${options.outputDir} already follows hosted job ${record.jobId}, which is ${existing.status}; starting another would train (and bill) twice.`,
          {
            hint: 'Run again with resume to re-attach to it, cancel it on the service, or choose another output directory.',
          },
        );
      }
    }

    const train = await readDataset(options.trainFile, 'training');
    const validation = options.validationFile
      ? await readDataset(options.validationFile, 'validation')
      : undefined;
    // Checked before anything is uploaded, so a bad hyperparameter costs no round trip.
    this.jobRequest(options, 'file-placeholder', null);
    await mkdir(options.outputDir, { recursive: true });

    if (signal?.aborted) {
      yield { type: 'cancelled', step: 0 };
      return;
    }
    const preamble: TrainingEvent[] = [];
    let trainingFileId: string;
    let validationFileId: string | null = null;
    try {
      trainingFileId = await this.#upload(options.trainFile, train.bytes, signal);
      preamble.push({
        type: 'log',
        message: `Uploaded ${options.trainFile} as ${trainingFileId} (${train.examples} examples).`,
      });
      if (validation && options.validationFile) {
        validationFileId = await this.#upload(options.validationFile, validation.bytes, signal);
        preamble.push({
          type: 'log',
          message: `Uploaded ${options.validationFile} as ${validationFileId} (${validation.examples} examples).`,
        });
      }
    } catch (error) {
      if (signal?.aborted) {
        // Nothing exists on the service to cancel; an uploaded file stays in the account's storage.
        yield { type: 'cancelled', step: 0 };
        return;
      }
      throw error;
    }
    const { body, ignored } = this.jobRequest(options, trainingFileId, validationFileId);
    // Not abortable: a create interrupted in flight may still have made the job, which then could not be cancelled.
    const job = await this.#createJob(body, trainingFileId);

    const h = options.hyperparameters;
    const stepsPerEpoch = Math.max(1, Math.ceil(train.examples / h.batchSize));
    const newRecord: JobRecord = {
      provider: this.provider,
      baseURL: this.#client.baseURL,
      jobId: job.id,
      model: options.baseModel,
      trainFile: options.trainFile,
      trainingFileId,
      validationFileId,
      trainExamples: train.examples,
      validationExamples: validation?.examples ?? 0,
      totalSteps: stepsPerEpoch * h.epochs,
      epochs: h.epochs,
      tokensPerEpoch: train.estimatedTokens,
      createdAt: new Date().toISOString(),
    };
    await writeRecord(recordPath, newRecord);

    const multiplier = (
      body.method as { supervised: { hyperparameters: { learning_rate_multiplier: number } } }
    ).supervised.hyperparameters.learning_rate_multiplier;
    yield* preamble;
    yield {
      type: 'log',
      message: `Created hosted fine-tuning job ${job.id} on ${options.baseModel}: ${h.epochs} epochs, batch size ${h.batchSize}, learning rate ${h.learningRate} sent as learning_rate_multiplier ${multiplier} (relative to ${this.#referenceLearningRate}), seed ${h.seed}.`,
    };
    if (ignored.length > 0) {
      yield {
        type: 'log',
        message: `The hosted service chooses these itself, so they are ignored: ${ignored.join(', ')}.`,
      };
    }
    yield {
      type: 'started',
      totalSteps: newRecord.totalSteps,
      trainExamples: train.examples,
      validationExamples: validation?.examples ?? 0,
    };
    yield* this.#follow(job, newState(newRecord), newRecord, recordPath, signal);
  }

  /** Resume: hosted jobs cannot restart from a checkpoint, but a job still running can be followed again. */
  async *#reattach(
    record: JobRecord | undefined,
    recordPath: string,
    options: TrainOptions,
  ): AsyncGenerator<TrainingEvent> {
    const noResume = 'Hosted jobs cannot resume from a checkpoint; run without resume to start a new job.';
    if (!record) {
      throw new AttuneError(
        `Nothing to resume in ${options.outputDir}: it has no ${jobRecordFile} from an earlier hosted job.`,
        {
          hint: noResume,
        },
      );
    }
    if (record.baseURL !== this.#client.baseURL) {
      throw new AttuneError(
        `${recordPath} names a job on ${record.baseURL}, but this backend talks to ${this.#client.baseURL}.`,
        { hint: 'Use the same base URL as the run that created the job.' },
      );
    }
    const job = await this.#getJob(record.jobId);
    if (job.status === 'failed' || job.status === 'cancelled') {
      throw new AttuneError(
        `Hosted job ${job.id} already ended as ${job.status}${errorText(job) ? ` (${errorText(job)})` : ''}.`,
        {
          hint: noResume,
        },
      );
    }
    const run = newState(record);
    // Everything that already happened is history: remember it so only what comes next is reported.
    for (const event of await this.#newEvents(run)) {
      const data = metricsData(event);
      if (!data) continue;
      run.lastStep = Math.max(run.lastStep, data.step);
      if (data.trainLoss !== undefined) run.lastTrainLoss = data.trainLoss;
      if (data.validLoss !== undefined) run.lastValidLoss = data.validLoss;
    }
    const checkpoints = (await this.#newCheckpoints(run)).sort((a, b) => a.step_number - b.step_number);
    for (const checkpoint of checkpoints) {
      run.seenCheckpoints.add(checkpoint.id);
      run.lastCheckpoint = checkpoint.id;
      const full = checkpoint.metrics?.full_valid_loss;
      if (typeof full === 'number' && Number.isFinite(full)) run.fullValidLoss = full;
    }
    yield {
      type: 'log',
      message: `Re-attached to hosted job ${job.id} (${job.status}, step ${run.lastStep}).`,
    };
    yield {
      type: 'started',
      totalSteps: run.totalSteps,
      trainExamples: record.trainExamples,
      validationExamples: record.validationExamples,
      resumedFromStep: run.lastStep,
    };
    yield* this.#follow(job, run, record, recordPath, options.abortSignal);
  }

  async *#follow(
    initial: ServiceJob,
    run: RunState,
    record: JobRecord,
    recordPath: string,
    signal: AbortSignal | undefined,
  ): AsyncGenerator<TrainingEvent> {
    let job = initial;
    let cancelRequested = false;
    while (true) {
      const out: TrainingEvent[] = [];
      try {
        job = await this.#getJob(run.jobId);
        const epochs = job.hyperparameters?.n_epochs;
        if (typeof epochs === 'number') run.epochs = epochs;
        for (const event of await this.#newEvents(run)) out.push(...mapEvent(event, run, job));
        if (job.status === 'running' || terminal.has(job.status)) {
          // A checkpoint is reported after the step it was taken at, never before.
          const checkpoints = (await this.#newCheckpoints(run))
            .filter((c) => terminal.has(job.status) || c.step_number <= run.lastStep)
            .sort((a, b) => a.step_number - b.step_number);
          for (const checkpoint of checkpoints) {
            run.seenCheckpoints.add(checkpoint.id);
            run.lastCheckpoint = checkpoint.id;
            const full = checkpoint.metrics?.full_valid_loss;
            if (typeof full === 'number' && Number.isFinite(full)) run.fullValidLoss = full;
            out.push({ type: 'checkpoint', step: checkpoint.step_number, path: checkpoint.id });
            out.push({
              type: 'log',
              message: `Checkpoint ${checkpoint.id} at step ${checkpoint.step_number} is usable as model ${checkpoint.fine_tuned_model_checkpoint}.`,
            });
          }
        }
      } catch (error) {
        // Whatever went wrong, the job exists: the stream still ends with exactly one terminal event.
        const reason = AttuneError.isInstance(error) ? error.message : `unexpected error: ${String(error)}.`;
        yield* out;
        yield {
          type: 'failed',
          message: `Lost track of hosted job ${run.jobId}: ${reason} The job may still be running on the service; run again with resume to re-attach, or cancel it there.`,
        };
        return;
      }
      yield* out;

      if (terminal.has(job.status)) {
        await writeRecord(recordPath, {
          ...record,
          status: job.status,
          fineTunedModel: job.fine_tuned_model,
        }).catch(() => undefined);
        yield terminalEvent(job, run);
        return;
      }
      if (signal?.aborted && !cancelRequested) {
        cancelRequested = true;
        yield { type: 'log', message: `Abort requested: cancelling hosted job ${run.jobId}.` };
        try {
          await this.#client.request<ServiceJob>('POST', `/fine_tuning/jobs/${run.jobId}/cancel`);
        } catch (error) {
          if (!AttuneError.isInstance(error)) throw error;
          // A 400 here means the job ended between the last poll and the cancel: the next poll reports how.
          if (!(error instanceof FineTuningServiceError && error.status === 400)) {
            yield {
              type: 'failed',
              message: `Could not cancel hosted job ${run.jobId}: ${error.message} It may still be running (and billing); cancel it on the service.`,
            };
            return;
          }
        }
        continue;
      }
      await wait(this.#pollIntervalMs, cancelRequested ? undefined : signal);
    }
  }

  async #getJob(id: string): Promise<ServiceJob> {
    const path = `/fine_tuning/jobs/${id}`;
    const job = await this.#client.request<ServiceJob>('GET', path);
    if (typeof job?.id !== 'string' || typeof job.status !== 'string') {
      throw this.#client.malformed('GET', path, 'a fine-tuning job without an id or status');
    }
    return job;
  }

  async #list<T>(path: string): Promise<ListPage<T>> {
    const page = await this.#client.request<ListPage<T>>('GET', path);
    if (!Array.isArray(page?.data))
      throw this.#client.malformed('GET', path, 'a list without a "data" array');
    return page;
  }

  /**
   * Events not seen before, oldest first. The API lists newest first and pages towards older ones
   * (`after` = the last id of the previous page), so walk back until a known event.
   */
  async #newEvents(run: RunState): Promise<ServiceEvent[]> {
    const fresh: ServiceEvent[] = [];
    let after: string | undefined;
    pages: while (true) {
      const query = new URLSearchParams({ limit: String(this.#eventsPageSize), ...(after ? { after } : {}) });
      const page = await this.#list<ServiceEvent>(`/fine_tuning/jobs/${run.jobId}/events?${query}`);
      for (const event of page.data) {
        if (event.id === run.newestEventId || run.seenEvents.has(event.id)) break pages;
        fresh.push(event);
      }
      if (!page.has_more || page.data.length === 0) break;
      after = page.data.at(-1)!.id;
    }
    fresh.reverse();
    for (const event of fresh) run.seenEvents.add(event.id);
    if (fresh.length > 0) run.newestEventId = fresh.at(-1)!.id;
    return fresh;
  }

  /** Checkpoints not reported yet (the service keeps only the last few epochs' worth). */
  async #newCheckpoints(run: RunState): Promise<ServiceCheckpoint[]> {
    const fresh: ServiceCheckpoint[] = [];
    let after: string | undefined;
    while (true) {
      const query = new URLSearchParams({ limit: '100', ...(after ? { after } : {}) });
      const page = await this.#list<ServiceCheckpoint>(`/fine_tuning/jobs/${run.jobId}/checkpoints?${query}`);
      fresh.push(...page.data.filter((c) => !run.seenCheckpoints.has(c.id)));
      if (!page.has_more || page.data.length === 0) break;
      after = page.data.at(-1)!.id;
    }
    return fresh;
  }

  async #upload(path: string, bytes: Uint8Array, signal: AbortSignal | undefined): Promise<string> {
    const file = await this.#client.request<{ id: string }>('POST', '/files', {
      form: () => {
        const form = new FormData();
        form.append('purpose', 'fine-tune');
        form.append('file', new Blob([new Uint8Array(bytes)], { type: 'application/jsonl' }), basename(path));
        return form;
      },
      signal,
      context: `Uploading ${path}`,
    });
    if (typeof file.id !== 'string') {
      throw new AttuneError(
        `Uploading ${path}: POST ${this.#client.baseURL}/files answered without a file id.`,
      );
    }
    return file.id;
  }

  /**
   * Creating a job is not idempotent, so it is retried only when the service surely did not act (429),
   * or after checking, by the freshly uploaded training file's id, that no job was made after all.
   */
  async #createJob(body: Record<string, unknown>, trainingFileId: string): Promise<ServiceJob> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#client.request<ServiceJob>('POST', '/fine_tuning/jobs', {
          json: body,
          retryServerErrors: false,
        });
      } catch (error) {
        const unsure =
          error instanceof FineTuningServiceError &&
          (error.status === 0 || error.status >= 500) &&
          attempt < this.#client.retry.maxRetries;
        if (!unsure) throw error;
        await wait(backoff(this.#client.retry, attempt));
        const recent = await this.#list<ServiceJob>('/fine_tuning/jobs?limit=20');
        const made = recent.data.find((job) => job.training_file === trainingFileId);
        if (made) return made;
      }
    }
  }
}

/** Turns one service event into Attune events; metrics become step (+ eval), the rest log lines. */
function mapEvent(event: ServiceEvent, run: RunState, job: ServiceJob): TrainingEvent[] {
  const data = metricsData(event);
  if (!data) {
    const prefix = event.level === 'info' ? '' : `${event.level}: `;
    return [{ type: 'log', message: `${prefix}${event.message}` }];
  }
  if (data.step <= run.lastStep) return [];
  if (data.totalSteps) run.totalSteps = data.totalSteps;
  run.lastStep = data.step;
  run.firstMetric ??= { step: data.step, at: event.created_at };
  const out: TrainingEvent[] = [];
  if (data.trainLoss !== undefined) {
    run.lastTrainLoss = data.trainLoss;
    // Steps per second of service time since the first step seen; 0 until two distinct timestamps exist.
    const elapsed = event.created_at - run.firstMetric.at;
    const stepsPerSecond = elapsed > 0 ? (data.step - run.firstMetric.step) / elapsed : 0;
    const remaining = Math.max(0, run.totalSteps - data.step);
    let etaSeconds = 0;
    if (stepsPerSecond > 0) etaSeconds = remaining / stepsPerSecond;
    else if (remaining > 0 && typeof job.estimated_finish === 'number') {
      etaSeconds = Math.max(0, job.estimated_finish - event.created_at);
    }
    out.push({
      type: 'step',
      step: data.step,
      totalSteps: run.totalSteps,
      epoch: data.epoch ?? round3((data.step * run.epochs) / run.totalSteps),
      loss: data.trainLoss,
      learningRate: data.learningRate ?? 0,
      tokensPerSecond: Math.round(stepsPerSecond * run.tokensPerStep),
      etaSeconds: Math.round(etaSeconds),
    });
  }
  if (data.validLoss !== undefined) {
    run.lastValidLoss = data.validLoss;
    out.push({ type: 'eval', step: data.step, evalLoss: data.validLoss });
  }
  return out;
}

type Metrics = {
  step: number;
  totalSteps?: number;
  trainLoss?: number;
  validLoss?: number;
  learningRate?: number;
  epoch?: number;
};

function metricsData(event: ServiceEvent): Metrics | undefined {
  if (event.type !== 'metrics' || typeof event.data !== 'object' || event.data === null) return undefined;
  const d = event.data as Record<string, unknown>;
  const num = (value: unknown) => (typeof value === 'number' && Number.isFinite(value) ? value : undefined);
  const step = num(d.step);
  if (step === undefined) return undefined;
  return {
    step,
    totalSteps: num(d.total_steps),
    trainLoss: num(d.train_loss),
    validLoss: num(d.valid_loss),
    // OpenAI reports neither; some compatible services do.
    learningRate: num(d.learning_rate),
    epoch: num(d.epoch),
  };
}

function terminalEvent(job: ServiceJob, run: RunState): TrainingEvent {
  if (job.status === 'cancelled') {
    return {
      type: 'cancelled',
      step: run.lastStep,
      ...(run.lastCheckpoint ? { checkpoint: run.lastCheckpoint } : {}),
    };
  }
  if (job.status === 'failed') {
    return {
      type: 'failed',
      message: `Hosted job ${job.id} failed: ${errorText(job) || 'the service gave no reason.'}`,
    };
  }
  if (!job.fine_tuned_model) {
    return { type: 'failed', message: `Hosted job ${job.id} reports success but names no fine-tuned model.` };
  }
  const metrics: Record<string, number> = { steps: run.lastStep, epochs: run.epochs };
  if (typeof job.trained_tokens === 'number') metrics.trainedTokens = job.trained_tokens;
  if (run.lastTrainLoss !== undefined) metrics.trainLoss = run.lastTrainLoss;
  if (run.lastValidLoss !== undefined) metrics.validLoss = run.lastValidLoss;
  if (run.fullValidLoss !== undefined) metrics.fullValidLoss = run.fullValidLoss;
  if (typeof job.finished_at === 'number') metrics.serviceSeconds = job.finished_at - job.created_at;
  return { type: 'succeeded', output: { kind: 'hosted-model', modelId: job.fine_tuned_model }, metrics };
}

function errorText(job: ServiceJob): string {
  const error = job.error;
  if (!error?.message) return '';
  return `${error.code ? `${error.code}: ` : ''}${error.message}${error.param ? ` (${error.param})` : ''}`;
}

function newState(record: JobRecord): RunState {
  const stepsPerEpoch = record.totalSteps / Math.max(1, record.epochs);
  return {
    jobId: record.jobId,
    totalSteps: record.totalSteps,
    epochs: record.epochs,
    tokensPerStep: record.tokensPerEpoch / Math.max(1, stepsPerEpoch),
    seenEvents: new Set(),
    newestEventId: undefined,
    seenCheckpoints: new Set(),
    lastStep: 0,
    lastCheckpoint: undefined,
    firstMetric: undefined,
    lastTrainLoss: undefined,
    lastValidLoss: undefined,
    fullValidLoss: undefined,
  };
}

/** Hyperparameters of local LoRA training that OpenAI's hosted service does not let a caller set. */
function ignoredHyperparameters(h: Hyperparameters): string[] {
  return [
    `rank=${h.rank}`,
    `alpha=${h.alpha}`,
    `dropout=${h.dropout}`,
    `targetModules=${h.targetModules.join('+')}`,
    `gradientAccumulation=${h.gradientAccumulation}`,
    `maxSeqLength=${h.maxSeqLength}`,
    `checkpointEvery=${h.checkpointEvery}`,
    `evalEvery=${h.evalEvery}`,
  ];
}

/**
 * Reads a dataset for upload and counts what the progress estimates need. Checking its content is
 * the service's job (and Attune's dataset validation before it): only emptiness is refused here.
 */
async function readDataset(
  path: string,
  which: string,
): Promise<{ bytes: Uint8Array; examples: number; estimatedTokens: number }> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw new AttuneError(`Cannot read the ${which} file ${path}: ${(error as Error).message}`, {
      hint: 'Check the path; the file must be chat JSONL, one {"messages": [...]} per line.',
      cause: error,
    });
  }
  const lines = bytes
    .toString('utf8')
    .split('\n')
    .filter((line) => line.trim());
  if (lines.length === 0) {
    throw new AttuneError(`The ${which} file ${path} has no examples.`, {
      hint: 'Each line must be one {"messages": [...]} example.',
    });
  }
  let chars = 0;
  for (const line of lines) {
    try {
      const messages = (JSON.parse(line) as { messages?: { content?: unknown }[] }).messages ?? [];
      for (const m of messages)
        chars += typeof m.content === 'string' ? m.content.length : JSON.stringify(m.content ?? '').length;
    } catch {
      chars += line.length;
    }
  }
  // About four characters per token (OpenAI's rule of thumb); only throughput estimates use it.
  return { bytes, examples: lines.length, estimatedTokens: Math.ceil(chars / 4) };
}

async function readRecord(path: string): Promise<JobRecord | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
  try {
    return JSON.parse(text) as JobRecord;
  } catch (error) {
    throw new AttuneError(`${path} is not valid JSON.`, {
      hint: 'It records the hosted job of an earlier run; delete it if that job is no longer wanted.',
      cause: error,
    });
  }
}

async function writeRecord(path: string, record: JobRecord): Promise<void> {
  await writeFile(path, `${JSON.stringify(record, null, 2)}\n`);
}

function requireInteger(value: number, name: string, low: number, high: number): void {
  if (!Number.isInteger(value) || value < low || value > high) {
    throw new AttuneError(
      `Hyperparameter ${name} must be an integer from ${low} to ${high} for hosted fine-tuning, got ${value}.`,
    );
  }
}

function significant(value: number): number {
  return Number(value.toPrecision(4));
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}

function backoff(policy: RetryPolicy, attempt: number): number {
  return Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** attempt);
}

/** Resolves after `ms`, or at once when `signal` aborts: waiting is never an error. */
function wait(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** How long the service asked to wait: `retry-after-ms` (what OpenAI's SDKs read first), then `retry-after`. */
function retryAfterMs(headers: Headers): number | undefined {
  const ms = Number.parseFloat(headers.get('retry-after-ms') ?? '');
  if (Number.isFinite(ms) && ms >= 0) return ms;
  const value = headers.get('retry-after');
  if (!value) return undefined;
  const seconds = Number.parseFloat(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isFinite(date) ? Math.max(0, date - Date.now()) : undefined;
}

type RequestOptions = {
  json?: unknown;
  /** A fresh body per attempt: a FormData's stream is used up by the first. */
  form?: () => FormData;
  signal?: AbortSignal;
  /** Prefix for error messages, e.g. `Uploading data/train.jsonl`. */
  context?: string;
  /** False where a retry after a 5xx could repeat work the service did. */
  retryServerErrors?: boolean;
};

class FineTuningClient {
  readonly baseURL: string;
  readonly retry: RetryPolicy;
  readonly #settings: OpenAIFineTuningSettings;

  constructor(settings: OpenAIFineTuningSettings) {
    if (!/^https?:\/\//.test(settings.baseURL)) {
      throw new AttuneError(`The base URL "${settings.baseURL}" must start with http:// or https://.`, {
        hint: 'For OpenAI use https://api.openai.com/v1.',
      });
    }
    if (!settings.apiKey) {
      throw new AttuneError('The hosted fine-tuning backend needs an API key.', {
        hint: 'Pass apiKey (for OpenAI, a key from https://platform.openai.com/api-keys).',
      });
    }
    this.#settings = settings;
    this.baseURL = settings.baseURL.replace(/\/+$/, '');
    this.retry = { ...defaultRetry, ...settings.retry };
  }

  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const url = `${this.baseURL}${path}`;
    const endpoint = `${method} ${url.split('?')[0]}`;
    const prefix = options.context ? `${options.context}: ` : '';
    const { signal } = options;
    for (let attempt = 0; ; attempt++) {
      const attempts = attempt + 1;
      const canRetry = attempt < this.retry.maxRetries;
      const headers: Record<string, string> = {
        authorization: `Bearer ${this.#settings.apiKey}`,
        ...(options.json !== undefined ? { 'content-type': 'application/json' } : {}),
        ...this.#settings.headers,
      };
      const body = options.form
        ? options.form()
        : options.json !== undefined
          ? JSON.stringify(options.json)
          : undefined;
      let response: Response;
      try {
        response = await (this.#settings.fetch ?? fetch)(url, {
          method,
          headers,
          ...(body !== undefined ? { body } : {}),
          ...(signal ? { signal } : {}),
        });
      } catch (error) {
        if (signal?.aborted) throw error;
        const cause = (error as { cause?: { code?: string; message?: string } }).cause;
        const reason = cause?.code ?? cause?.message ?? (error as Error).message;
        if (canRetry && options.retryServerErrors !== false) {
          await this.#sleep(backoff(this.retry, attempt), signal);
          continue;
        }
        throw new FineTuningServiceError(
          `${prefix}${endpoint} could not reach the service (${reason})${attempts > 1 ? ` after ${attempts} attempts` : ''}.`,
          { status: 0, endpoint, attempts, cause: error },
        );
      }
      const text = await response.text();
      if (response.ok) {
        try {
          return JSON.parse(text) as T;
        } catch (error) {
          throw new FineTuningServiceError(
            `${prefix}${endpoint} answered HTTP ${response.status} with a body that is not JSON: ${text.slice(0, 200)}`,
            { status: response.status, endpoint, attempts, cause: error },
          );
        }
      }
      const { message, code } = parseError(text, response.statusText);
      const status = response.status;
      // insufficient_quota is a 429 too, but waiting does not refill a quota.
      const retryable =
        (status === 429 && code !== 'insufficient_quota') ||
        (status >= 500 && options.retryServerErrors !== false);
      let giveUpReason = '';
      if (retryable && canRetry) {
        const asked = status === 429 ? retryAfterMs(response.headers) : undefined;
        if (asked === undefined || asked <= this.retry.maxRetryAfterMs) {
          await this.#sleep(asked ?? backoff(this.retry, attempt), signal);
          continue;
        }
        giveUpReason = ` (it asked to retry after ${Math.ceil(asked / 1000)} s, longer than the ${Math.ceil(this.retry.maxRetryAfterMs / 1000)} s this client waits)`;
      }
      const tries = attempts > 1 ? ` after ${attempts} attempts` : '';
      throw new FineTuningServiceError(
        `${prefix}${endpoint} failed with HTTP ${status}${tries}${giveUpReason}: ${message}${code ? ` (${code})` : ''}`,
        { status, endpoint, attempts, ...(code ? { code } : {}) },
      );
    }
  }

  /** The service answered 200 with something that is not what the contract promises. */
  malformed(method: string, path: string, what: string): FineTuningServiceError {
    const endpoint = `${method} ${this.baseURL}${path.split('?')[0]}`;
    return new FineTuningServiceError(`${endpoint} answered with ${what}.`, {
      status: 200,
      endpoint,
      attempts: 1,
      hint: 'Check that the base URL points at a service implementing the OpenAI fine-tuning API.',
    });
  }

  async #sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
    await wait(ms, signal);
    signal?.throwIfAborted();
  }
}

function parseError(body: string, statusText: string): { message: string; code: string | undefined } {
  try {
    const parsed = JSON.parse(body) as { error?: { message?: unknown; code?: unknown } | string };
    const error = parsed.error;
    if (typeof error === 'string') return { message: error, code: undefined };
    if (error && typeof error.message === 'string') {
      return { message: error.message, code: typeof error.code === 'string' ? error.code : undefined };
    }
  } catch {
    // Not JSON: gateways and proxies answer errors in plain text or HTML.
  }
  return { message: body.trim().slice(0, 500) || statusText || 'no message', code: undefined };
}
