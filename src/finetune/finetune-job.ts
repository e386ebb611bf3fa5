/**
 * Fine-tuning jobs: a record per job under `<config.dir>/finetune/jobs/<id>/` (job.json, written
 * atomically; events.jsonl, appended), and `FineTuneJobs`, which runs a job on any FineTuningBackend,
 * keeps the record true to what happened, and registers the adapter of a successful local run.
 *
 * Status moves queued → running → succeeded | failed | cancelled; `resume` takes a cancelled or failed
 * job back to running from its last checkpoint. The record holds the worker's pid while it runs, so
 * `cancel` works from another process (SIGTERM to the worker, which checkpoints and stops).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { appendFile, copyFile, mkdir, rename, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import type { AttuneConfig } from '../config/index.ts';
import { AttuneError } from '../models/model-error.ts';
import {
  AdapterRegistry,
  type DatasetLineage,
  machineDescription,
  newAdapterId,
} from './adapter-registry.ts';
import { writeChatJsonl } from './dataset-export.ts';
import { readableExamples, readDataset } from './dataset-import.ts';
import { datasetStats } from './dataset-validation.ts';
import { renderLossChart } from './loss-chart.ts';
import type { FineTuningBackend, Hyperparameters, TrainingEvent, TrainOptions } from './trainer-spec.ts';

export type FinetuneJobStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

export type FinetuneJobRecord = {
  id: string;
  status: FinetuneJobStatus;
  /** The backend's provider name: `local`, `openai`, ... */
  backend: string;
  baseModel: { name: string; path?: string; sha256?: string };
  dataset: DatasetLineage;
  /** The chat JSONL the backend trains on (a copy inside the job folder, so resume sees the same data). */
  trainFile: string;
  validationFile?: string;
  hyperparameters: Hyperparameters;
  outputDir: string;
  createdAt: string;
  /** Start of the latest attempt. */
  startedAt?: string;
  finishedAt?: string;
  /** Seconds spent running, summed over attempts (resumes). */
  durationSeconds: number;
  attempts: number;
  /** While running: the attune process that runs the job, and the worker process (local backend). */
  ownerPid?: number;
  pid?: number;
  progress?: { step: number; totalSteps: number; loss?: number; evalLoss?: number };
  metrics?: Record<string, number>;
  /** Last checkpoint written (what resume continues from). */
  checkpoint?: string;
  error?: string;
  adapterId?: string;
  hostedModelId?: string;
  /** The loss-curve SVG beside the record, once steps have run. */
  lossChart?: string;
};

export type StoredEvent = TrainingEvent & { at: string; attempt: number };

const idPattern = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const finished: FinetuneJobStatus[] = ['succeeded', 'failed', 'cancelled'];

/** Cancelling a job that has already ended. */
export class JobEndedError extends AttuneError {
  constructor(id: string, status: FinetuneJobStatus) {
    super(`Job ${id} is already ${status}; there is nothing to cancel.`, {
      ...(status === 'succeeded' ? {} : { hint: `Resume it with: attune finetune resume ${id}` }),
    });
    this.name = 'JobEndedError';
  }
}

/** Whether a job has ended: it will write no more events, and there is nothing to cancel. */
export function jobEnded(status: FinetuneJobStatus): boolean {
  return finished.includes(status);
}

export function finetuneJobsDir(config: Pick<AttuneConfig, 'dir'>): string {
  return join(config.dir, 'finetune', 'jobs');
}

/** Job records on disk. Every write is a whole-file replace (temporary file, then rename). */
export class FinetuneJobStore {
  readonly root: string;

  constructor(root: string) {
    this.root = root;
  }

  static forConfig(config: Pick<AttuneConfig, 'dir'>): FinetuneJobStore {
    return new FinetuneJobStore(finetuneJobsDir(config));
  }

  dirOf(id: string): string {
    return join(this.root, id);
  }

  async create(
    record: Omit<FinetuneJobRecord, 'id' | 'status' | 'durationSeconds' | 'attempts'> & { id?: string },
  ) {
    const id = record.id ?? `ft-${randomBytes(4).toString('hex')}`;
    if (!idPattern.test(id)) throw new AttuneError(`Invalid job id "${id}".`);
    await mkdir(this.dirOf(id), { recursive: true });
    const full: FinetuneJobRecord = { ...record, id, status: 'queued', durationSeconds: 0, attempts: 0 };
    await this.#write(full);
    return full;
  }

  has(id: string): boolean {
    return idPattern.test(id) && existsSync(join(this.dirOf(id), 'job.json'));
  }

  get(id: string): FinetuneJobRecord {
    if (!this.has(id)) {
      throw new AttuneError(`No fine-tuning job "${id}" in ${this.root}.`, {
        hint: 'List jobs with: attune finetune ls',
      });
    }
    return JSON.parse(readFileSync(join(this.dirOf(id), 'job.json'), 'utf8')) as FinetuneJobRecord;
  }

  /** Newest first. */
  list(): FinetuneJobRecord[] {
    if (!existsSync(this.root)) return [];
    return readdirSync(this.root)
      .filter((id) => this.has(id))
      .map((id) => this.get(id))
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  }

  async update(
    id: string,
    change: (record: FinetuneJobRecord) => FinetuneJobRecord,
  ): Promise<FinetuneJobRecord> {
    const next = change(this.get(id));
    await this.#write(next);
    return next;
  }

  async appendEvent(id: string, event: StoredEvent): Promise<void> {
    await appendFile(join(this.dirOf(id), 'events.jsonl'), `${JSON.stringify(event)}\n`);
  }

  events(id: string): StoredEvent[] {
    const file = join(this.dirOf(id), 'events.jsonl');
    if (!existsSync(file)) return [];
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter((line) => line.trim())
      .flatMap((line) => {
        try {
          return [JSON.parse(line) as StoredEvent];
        } catch {
          return []; // a line cut short by a crash mid-append
        }
      });
  }

  async #write(record: FinetuneJobRecord): Promise<void> {
    const file = join(this.dirOf(record.id), 'job.json');
    const tmp = `${file}.${process.pid}.${randomBytes(3).toString('hex')}.tmp`;
    await writeFile(tmp, `${JSON.stringify(record, null, 2)}\n`);
    await rename(tmp, file);
  }
}

export type CreateJobOptions = {
  backend: string;
  baseModel: { name: string; path?: string; sha256?: string };
  /** Any format the dataset importer reads; non-chat formats are converted to chat JSONL. */
  trainFile: string;
  validationFile?: string;
  hyperparameters: Hyperparameters;
};

export type RunJobOptions = {
  backend: FineTuningBackend;
  /** Every event as it arrives, with the record as updated by it. */
  onEvent?: (event: TrainingEvent, record: FinetuneJobRecord) => void;
  abortSignal?: AbortSignal;
  /** Recorded in the adapter's lineage. */
  trainerRequirementsSha256?: string;
};

/** Runs jobs and keeps their records; one instance per configuration, no global state. */
export class FineTuneJobs {
  readonly store: FinetuneJobStore;
  readonly registry: AdapterRegistry;

  constructor(options: { store: FinetuneJobStore; registry: AdapterRegistry }) {
    this.store = options.store;
    this.registry = options.registry;
  }

  static forConfig(config: Pick<AttuneConfig, 'dir'>): FineTuneJobs {
    return new FineTuneJobs({
      store: FinetuneJobStore.forConfig(config),
      registry: AdapterRegistry.forConfig(config),
    });
  }

  /**
   * Records a queued job. The data is read (any supported format), hashed and counted, and copied
   * into the job folder: chat JSONL byte for byte (so the worker's line numbers are the user's),
   * other formats converted.
   */
  async create(options: CreateJobOptions): Promise<FinetuneJobRecord> {
    const id = `ft-${randomBytes(4).toString('hex')}`;
    const dataDir = join(this.store.dirOf(id), 'data');
    await mkdir(dataDir, { recursive: true });
    const train = await importData(options.trainFile, dataDir);
    const validation = options.validationFile ? await importData(options.validationFile, dataDir) : undefined;
    if (validation && basename(validation.copy) === basename(train.copy)) {
      const renamed = join(dataDir, `validation-${basename(validation.copy)}`);
      await rename(validation.copy, renamed);
      validation.copy = renamed;
    }
    return this.store.create({
      id,
      backend: options.backend,
      baseModel: options.baseModel,
      dataset: {
        file: resolve(options.trainFile),
        sha256: train.sha256,
        examples: train.examples,
        ...(validation
          ? {
              validationFile: resolve(options.validationFile!),
              validationSha256: validation.sha256,
              validationExamples: validation.examples,
            }
          : {}),
        stats: train.stats,
      },
      trainFile: train.copy,
      ...(validation ? { validationFile: validation.copy } : {}),
      hyperparameters: options.hyperparameters,
      outputDir: join(this.store.dirOf(id), 'output'),
      createdAt: new Date().toISOString(),
    });
  }

  /** Runs a queued job to its end; returns the final record. */
  async run(id: string, options: RunJobOptions): Promise<FinetuneJobRecord> {
    const record = this.#reconciled(id);
    if (record.status !== 'queued') {
      throw new AttuneError(`Job ${id} is ${record.status}, not queued.`, {
        hint: record.status === 'running' ? undefined : `Resume it with: attune finetune resume ${id}`,
      });
    }
    return this.#attempt(record, options, false);
  }

  /** Continues a cancelled or failed job from its last checkpoint. */
  async resume(id: string, options: RunJobOptions): Promise<FinetuneJobRecord> {
    const record = this.#reconciled(id);
    if (record.status === 'succeeded') {
      throw new AttuneError(
        `Job ${id} already succeeded${record.adapterId ? `; its adapter is ${record.adapterId}` : ''}. There is nothing to resume.`,
        { hint: 'Start a new job to train further: attune finetune --data ...' },
      );
    }
    if (record.status === 'running') {
      throw new AttuneError(
        `Job ${id} is running (worker pid ${record.pid ?? '?'}); it cannot be resumed twice.`,
        {
          hint: `Wait for it, or stop it first with: attune finetune cancel ${id}`,
        },
      );
    }
    if (record.status === 'queued') return this.#attempt(record, options, false);
    return this.#attempt(record, options, true);
  }

  /**
   * Stops a running job: SIGTERM to its worker, which saves a checkpoint and reports `cancelled` to
   * the process running the job, which records it. Waits up to `waitMs` for that record.
   */
  async cancel(id: string, options: { waitMs?: number } = {}): Promise<FinetuneJobRecord> {
    const record = this.#reconciled(id);
    if (jobEnded(record.status)) throw new JobEndedError(id, record.status);
    let current = record;
    // The worker's pid is recorded a moment after the job turns running; give it that moment.
    for (let waited = 0; current.status === 'running' && !current.pid && waited < 10_000; waited += 250) {
      if (current.ownerPid === undefined || !isAlive(current.ownerPid)) break;
      await new Promise((r) => setTimeout(r, 250));
      current = this.#reconciled(id);
    }
    if (current.status !== 'running' && current.status !== 'queued') return current;
    if (current.status === 'queued' || !current.pid || !isAlive(current.pid)) {
      return this.store.update(id, (r) => ({
        ...r,
        status: 'cancelled',
        finishedAt: new Date().toISOString(),
        pid: undefined,
        ownerPid: undefined,
      }));
    }
    const pid = current.pid;
    process.kill(pid, 'SIGTERM');
    const deadline = Date.now() + (options.waitMs ?? 120_000);
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      const now = this.store.get(id);
      if (now.status !== 'running') return now;
      // An orphaned worker (its attune process died) stops on SIGTERM too, but nobody is left to
      // record it: the canceller does, naming the checkpoint the worker left.
      const ownerAlive = now.ownerPid !== undefined && isAlive(now.ownerPid);
      if (!ownerAlive && !isAlive(pid)) {
        return this.store.update(id, (r) => ({
          ...r,
          status: 'cancelled',
          finishedAt: new Date().toISOString(),
          pid: undefined,
          ownerPid: undefined,
          ...(latestCheckpoint(r.outputDir) ? { checkpoint: latestCheckpoint(r.outputDir) } : {}),
        }));
      }
    }
    throw new AttuneError(
      `Job ${id} was asked to stop but is still running after ${(options.waitMs ?? 120_000) / 1000} s.`,
      {
        hint: `Check the worker (pid ${current.pid}); cancel again to wait longer.`,
      },
    );
  }

  get(id: string): FinetuneJobRecord {
    return this.#reconciled(id);
  }

  list(): FinetuneJobRecord[] {
    return this.store.list().map((r) => this.#reconciled(r.id));
  }

  /**
   * A job whose owning process died cannot report its end; it would stay `running` forever. Such a
   * record is marked failed (resumable) when read.
   */
  #reconciled(id: string): FinetuneJobRecord {
    const record = this.store.get(id);
    if (record.status !== 'running') return record;
    const ownerAlive = record.ownerPid !== undefined && isAlive(record.ownerPid);
    const workerAlive = record.pid !== undefined && isAlive(record.pid);
    if (ownerAlive || workerAlive) return record;
    const fixed: FinetuneJobRecord = {
      ...record,
      status: 'failed',
      error: `The process running this job (pid ${record.ownerPid}) ended without recording a result.`,
      finishedAt: new Date().toISOString(),
      pid: undefined,
      ownerPid: undefined,
    };
    // Best effort: a read-only caller still gets the truth even if the write fails.
    this.store.update(id, () => fixed).catch(() => undefined);
    return fixed;
  }

  async #attempt(
    initial: FinetuneJobRecord,
    options: RunJobOptions,
    resume: boolean,
  ): Promise<FinetuneJobRecord> {
    const id = initial.id;
    const attempt = initial.attempts + 1;
    const started = Date.now();
    let record = await this.store.update(id, (r) => ({
      ...r,
      status: 'running',
      attempts: attempt,
      startedAt: new Date(started).toISOString(),
      finishedAt: undefined,
      error: undefined,
      ownerPid: process.pid,
      pid: undefined,
    }));
    const trainOptions: TrainOptions & { onWorkerStart?: (pid: number) => void; logFile?: string } = {
      baseModel: record.baseModel.path ?? record.baseModel.name,
      trainFile: record.trainFile,
      ...(record.validationFile ? { validationFile: record.validationFile } : {}),
      hyperparameters: record.hyperparameters,
      outputDir: record.outputDir,
      resume,
      ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}),
      logFile: join(this.store.dirOf(id), 'worker.log'),
      onWorkerStart: (pid) => {
        pending = pending.then(async () => {
          record = await this.store.update(id, (r) => ({ ...r, pid }));
        });
      },
    };
    // Record writes happen in event order, one at a time.
    let pending: Promise<void> = Promise.resolve();
    let terminal: TrainingEvent | undefined;
    try {
      for await (const event of options.backend.doTrain(trainOptions)) {
        const stored: StoredEvent = { ...event, at: new Date().toISOString(), attempt };
        pending = pending.then(async () => {
          await this.store.appendEvent(id, stored);
          const patch = progressPatch(event);
          if (patch) record = await this.store.update(id, (r) => patch(r));
        });
        await pending;
        if (event.type === 'cancelled' || event.type === 'failed' || event.type === 'succeeded')
          terminal = event;
        options.onEvent?.(event, record);
      }
    } catch (error) {
      terminal = { type: 'failed', message: (error as Error).message };
      await this.store.appendEvent(id, { ...terminal, at: new Date().toISOString(), attempt });
    }
    await pending;
    terminal ??= {
      type: 'failed',
      message: `The ${options.backend.provider} backend ended without a result.`,
    };
    const duration = (Date.now() - started) / 1000;
    let adapterId: string | undefined;
    let hostedModelId: string | undefined;
    let error: string | undefined;
    if (terminal.type === 'succeeded') {
      if (terminal.output.kind === 'adapter') {
        try {
          const current = this.store.get(id);
          const entry = await this.registry.register({
            id: newAdapterId(),
            gguf: terminal.output.gguf,
            safetensors: terminal.output.safetensors,
            lineage: {
              jobId: id,
              createdAt: new Date().toISOString(),
              backend: options.backend.provider,
              baseModel: current.baseModel,
              dataset: current.dataset,
              hyperparameters: current.hyperparameters,
              metrics: terminal.metrics,
              durationSeconds: current.durationSeconds + duration,
              machine: machineDescription(),
              ...(options.trainerRequirementsSha256
                ? { trainerRequirementsSha256: options.trainerRequirementsSha256 }
                : {}),
            },
          });
          adapterId = entry.id;
        } catch (cause) {
          terminal = {
            type: 'failed',
            message: `Training finished but the adapter could not be registered: ${(cause as Error).message}`,
          };
        }
      } else hostedModelId = terminal.output.modelId;
    }
    if (terminal.type === 'failed') error = terminal.message;
    const lossChart = await this.#writeChart(id);
    record = await this.store.update(id, (r) => ({
      ...r,
      status: terminal!.type as FinetuneJobStatus,
      finishedAt: new Date().toISOString(),
      durationSeconds: r.durationSeconds + duration,
      pid: undefined,
      ownerPid: undefined,
      ...(error ? { error } : {}),
      ...(terminal!.type === 'succeeded' ? { metrics: terminal!.metrics } : {}),
      ...(adapterId ? { adapterId } : {}),
      ...(hostedModelId ? { hostedModelId } : {}),
      ...(lossChart ? { lossChart } : {}),
    }));
    return record;
  }

  async #writeChart(id: string): Promise<string | undefined> {
    const events = this.store.events(id);
    // A resumed job repeats no step numbers, but a step redone after a crash may appear twice: the later wins.
    const steps = new Map<number, number>();
    const evals = new Map<number, number>();
    for (const e of events) {
      if (e.type === 'step' && Number.isFinite(e.loss)) steps.set(e.step, e.loss);
      if (e.type === 'eval' && Number.isFinite(e.evalLoss)) evals.set(e.step, e.evalLoss);
    }
    if (steps.size === 0) return undefined;
    const file = join(this.store.dirOf(id), 'loss.svg');
    const svg = renderLossChart({
      title: `Fine-tuning ${id}: loss per step`,
      train: [...steps].map(([step, loss]) => ({ step, loss })),
      eval: [...evals].map(([step, loss]) => ({ step, loss })),
    });
    await writeFile(`${file}.tmp`, svg);
    await rename(`${file}.tmp`, file);
    return file;
  }
}

function progressPatch(event: TrainingEvent): ((r: FinetuneJobRecord) => FinetuneJobRecord) | undefined {
  switch (event.type) {
    case 'started':
      return (r) => ({ ...r, progress: { step: event.resumedFromStep ?? 0, totalSteps: event.totalSteps } });
    case 'step':
      return (r) => ({
        ...r,
        progress: { ...r.progress, step: event.step, totalSteps: event.totalSteps, loss: event.loss },
      });
    case 'eval':
      return (r) => ({
        ...r,
        progress: {
          step: event.step,
          totalSteps: r.progress?.totalSteps ?? 0,
          ...r.progress,
          evalLoss: event.evalLoss,
        },
      });
    case 'checkpoint':
      return (r) => ({ ...r, checkpoint: event.path });
    case 'cancelled':
      return event.checkpoint ? (r) => ({ ...r, checkpoint: event.checkpoint }) : undefined;
    default:
      return undefined;
  }
}

function latestCheckpoint(outputDir: string): string | undefined {
  const dir = join(outputDir, 'checkpoints');
  if (!existsSync(dir)) return undefined;
  const last = readdirSync(dir)
    .filter((name) => /^step-\d+$/.test(name))
    .sort()
    .at(-1);
  return last ? join(dir, last) : undefined;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function importData(
  file: string,
  dataDir: string,
): Promise<{ copy: string; sha256: string; examples: number; stats: unknown }> {
  const imported = await readDataset(file);
  const examples = readableExamples(imported);
  const { createHash } = await import('node:crypto');
  const sha256 = createHash('sha256').update(readFileSync(file)).digest('hex');
  const name = basename(file).replace(/\.[^.]*$/, '');
  let copy: string;
  if (imported.format === 'chat') {
    copy = join(dataDir, basename(file));
    await copyFile(file, copy);
  } else {
    copy = join(dataDir, `${name}.chat.jsonl`);
    await writeChatJsonl(copy, examples);
  }
  return { copy, sha256, examples: examples.length, stats: datasetStats(examples) };
}
