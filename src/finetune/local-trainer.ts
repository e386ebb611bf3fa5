/**
 * The local fine-tuning backend: runs the Python worker (trainer/attune_trainer) in the trainer venv
 * and turns its JSON-line stdout into `TrainingEvent`s. Aborting sends SIGTERM, on which the worker
 * saves a checkpoint and reports `cancelled`; a worker that dies without a final event becomes
 * `failed`, with its last stderr lines as the reason.
 */
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, statSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { AttuneConfig } from '../config/index.ts';
import { AsyncQueue } from '../models/async-queue.ts';
import { type TrainerEnvironment, trainerEnvironment, trainerPackageDir } from './local-trainer-setup.ts';
import type { FineTuningBackend, Hyperparameters, TrainingEvent, TrainOptions } from './trainer-spec.ts';

/** Defaults tuned for small models on a CPU; every field can be overridden per job. */
export const defaultHyperparameters: Hyperparameters = {
  rank: 8,
  alpha: 16,
  dropout: 0.05,
  targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj'],
  learningRate: 1e-3,
  epochs: 3,
  batchSize: 4,
  gradientAccumulation: 1,
  maxSeqLength: 512,
  seed: 42,
  checkpointEvery: 25,
  evalEvery: 0,
  packing: true,
};

export type LocalTrainerSettings = {
  /** Interpreter that has the trainer requirements (normally the venv's). */
  python: string;
  /** Directory holding the attune_trainer package. */
  packageDir?: string;
  /** Dequantised copies of GGUF base models (made once per model). */
  cacheDir?: string;
  /** Turns a catalog name into a file; paths pass through unchanged. */
  resolveBaseModel?: (name: string) => string;
  /** torch threads; 0 = one per core. */
  threads?: number;
  /** Seconds to wait for a checkpoint after SIGTERM before the worker is killed. */
  stopTimeoutSeconds?: number;
  /** Lines of the worker's stderr kept for the `failed` message. */
  stderrTail?: number;
  /** Extra environment for the worker (merged over the parent's). */
  env?: Record<string, string>;
};

/** TrainOptions plus what only a local run has: the worker's pid and its log. */
export type LocalTrainOptions = TrainOptions & {
  /** Called once the worker runs; a job store records the pid so another process can cancel it. */
  onWorkerStart?: (pid: number) => void;
  /** The worker's whole stderr is appended here. */
  logFile?: string;
  /** Below this many training examples the worker refuses to start (default 4). */
  minExamples?: number;
};

export class LocalTrainer implements FineTuningBackend {
  readonly specificationVersion = 'v1' as const;
  readonly provider = 'local';
  readonly #settings: LocalTrainerSettings;

  constructor(settings: LocalTrainerSettings) {
    this.#settings = settings;
  }

  /**
   * The trainer for a configuration: the venv under `config.home`, base models from the model cache.
   * Throws (with the setup command as hint) when the venv is missing or stale.
   */
  static fromConfig(
    config: Pick<AttuneConfig, 'home' | 'models'>,
    options: { resolveBaseModel?: (name: string) => string; environment?: TrainerEnvironment } = {},
  ): LocalTrainer {
    const environment = options.environment ?? trainerEnvironment(config);
    return new LocalTrainer({
      python: environment.python,
      cacheDir: join(config.home, 'trainer-cache'),
      threads: config.models.threads,
      ...(options.resolveBaseModel ? { resolveBaseModel: options.resolveBaseModel } : {}),
    });
  }

  doTrain(options: LocalTrainOptions): AsyncIterable<TrainingEvent> {
    const queue = new AsyncQueue<TrainingEvent>();
    this.#run(options, queue).then(
      () => queue.close(),
      (error) => queue.fail(error),
    );
    return queue;
  }

  async #run(options: LocalTrainOptions, queue: AsyncQueue<TrainingEvent>): Promise<void> {
    const settings = this.#settings;
    let baseModel: string;
    try {
      baseModel = resolve(settings.resolveBaseModel?.(options.baseModel) ?? options.baseModel);
    } catch (error) {
      queue.push({ type: 'failed', message: (error as Error).message });
      return;
    }
    const outputDir = resolve(options.outputDir);
    // The job file sits beside the output, not in it: the worker owns outputDir's contents.
    const jobFile = `${outputDir}.job.json`;
    await mkdir(join(outputDir, '..'), { recursive: true });
    const job = {
      baseModel,
      trainFile: resolve(options.trainFile),
      validationFile: options.validationFile ? resolve(options.validationFile) : null,
      hyperparameters: options.hyperparameters,
      outputDir,
      resume: options.resume ?? false,
      cacheDir: settings.cacheDir ?? null,
      threads: settings.threads ?? 0,
      ...(options.minExamples !== undefined ? { minExamples: options.minExamples } : {}),
    };
    await writeFile(`${jobFile}.tmp`, `${JSON.stringify(job, null, 2)}\n`);
    await rename(`${jobFile}.tmp`, jobFile);

    const args = [
      '-m',
      'attune_trainer',
      'train',
      '--config',
      jobFile,
      ...(options.resume ? ['--resume'] : []),
    ];
    const packageDir = settings.packageDir ?? trainerPackageDir;
    const child = spawn(settings.python, args, {
      cwd: packageDir,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        ...settings.env,
        PYTHONPATH: [packageDir, process.env.PYTHONPATH].filter(Boolean).join(':'),
        PYTHONUNBUFFERED: '1',
      },
    });
    const log = options.logFile ? createWriteStream(options.logFile, { flags: 'a' }) : undefined;
    const tail: string[] = [];
    const keep = settings.stderrTail ?? 20;
    let partialErr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      log?.write(chunk);
      const lines = (partialErr + chunk.toString('utf8')).split(/\r?\n|\r/);
      partialErr = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.trim()) continue;
        tail.push(line);
        if (tail.length > keep) tail.shift();
      }
    });

    let final: TrainingEvent | undefined;
    let partialOut = '';
    child.stdout.on('data', (chunk: Buffer) => {
      const lines = (partialOut + chunk.toString('utf8')).split('\n');
      partialOut = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.trim()) continue;
        const event = parseEvent(line);
        if (final) continue; // exactly one terminal event reaches the caller
        if (event.type === 'cancelled' || event.type === 'failed' || event.type === 'succeeded')
          final = event;
        queue.push(event);
      }
    });

    let killTimer: NodeJS.Timeout | undefined;
    const stop = () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), (settings.stopTimeoutSeconds ?? 120) * 1000);
    };
    if (options.abortSignal?.aborted) stop();
    options.abortSignal?.addEventListener('abort', stop, { once: true });

    const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>(
      (done) => {
        child.once('error', (error) => done({ code: null, signal: null, error }));
        child.once('spawn', () => {
          if (child.pid !== undefined) options.onWorkerStart?.(child.pid);
        });
        child.once('close', (code, signal) => done({ code, signal }));
      },
    );
    clearTimeout(killTimer);
    options.abortSignal?.removeEventListener('abort', stop);
    if (partialErr.trim()) tail.push(partialErr);
    await new Promise<void>((done) => (log ? log.end(done) : done()));
    if (final) return;
    if (exit.error) {
      const missing = (exit.error as NodeJS.ErrnoException).code === 'ENOENT';
      queue.push({
        type: 'failed',
        message: missing
          ? `The trainer's Python interpreter ${settings.python} does not exist; set the trainer up with: attune trainer setup`
          : `Could not start the trainer worker: ${exit.error.message}`,
      });
      return;
    }
    const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
    queue.push({
      type: 'failed',
      message: `The trainer worker ${how} without finishing.${tail.length ? `\nLast output:\n${tail.join('\n')}` : ''}`,
    });
  }
}

function parseEvent(line: string): TrainingEvent {
  try {
    const value = JSON.parse(line) as TrainingEvent;
    if (value && typeof value === 'object' && typeof value.type === 'string') return value;
  } catch {}
  // The worker keeps stdout for events only; anything else is a bug worth seeing, not a reason to stop.
  return { type: 'log', message: `unparsed worker output: ${line.slice(0, 500)}` };
}

/** A base model argument that is a path (file or Hugging Face directory) rather than a catalog name. */
export function isModelPath(name: string): boolean {
  return /\.gguf$/i.test(name) || (existsSync(name) && statSync(name).isDirectory());
}
