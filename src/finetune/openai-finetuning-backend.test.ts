import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  type FineTuningTestServer,
  type FineTuningTestServerOptions,
  startFineTuningTestServer,
} from '../../test-support/openai-finetuning-test-server.ts';
import { readQuestions } from '../eval/qa-data.ts';
import { AttuneError } from '../models/model-error.ts';
import {
  FineTuningServiceError,
  jobRecordFile,
  OpenAIFineTuningBackend,
  type OpenAIFineTuningSettings,
} from './openai-finetuning-backend.ts';
import type { Hyperparameters, TrainingEvent, TrainOptions } from './trainer-spec.ts';

// The real OpenAI service is not reachable from here: every test runs against the local server that
// implements its published fine-tuning contract (openai-finetuning-test-server.ts).

const hyperparameters: Hyperparameters = {
  rank: 16,
  alpha: 32,
  dropout: 0.05,
  targetModules: ['q_proj', 'v_proj'],
  learningRate: 1e-4,
  epochs: 3,
  batchSize: 2,
  gradientAccumulation: 1,
  maxSeqLength: 1024,
  seed: 42,
  checkpointEvery: 0,
  evalEvery: 0,
};
const baseModel = 'gpt-4o-mini-2024-07-18';
const terminalTypes = new Set(['succeeded', 'failed', 'cancelled']);

/**
 * The provider check every FineTuningBackend must pass (as the Vercel AI SDK checks its stream
 * parts): exactly one terminal event, last; started before any step; steps strictly increasing;
 * no NaN or infinite number anywhere; a checkpoint never before its step.
 */
function checkTrainingStream(events: TrainingEvent[]): void {
  const terminals = events.filter((e) => terminalTypes.has(e.type));
  assert.equal(
    terminals.length,
    1,
    `exactly one terminal event, got ${terminals.map((e) => e.type).join(', ')}`,
  );
  assert.ok(terminalTypes.has(events.at(-1)!.type), 'the terminal event is the last one');
  const started = events.findIndex((e) => e.type === 'started');
  const firstStep = events.findIndex((e) => e.type === 'step');
  if (firstStep >= 0) assert.ok(started >= 0 && started < firstStep, 'started comes before the first step');
  let lastStep = 0;
  for (const event of events) {
    for (const [key, value] of Object.entries(event)) {
      if (typeof value === 'number')
        assert.ok(Number.isFinite(value), `${event.type}.${key} is finite: ${value}`);
    }
    if (event.type === 'step') {
      assert.ok(event.step > lastStep, `step ${event.step} after ${lastStep}`);
      lastStep = event.step;
    }
    if (event.type === 'checkpoint' || event.type === 'eval') {
      assert.ok(event.step <= lastStep, `${event.type} at step ${event.step} comes after that step`);
    }
  }
}

async function collect(
  backend: OpenAIFineTuningBackend,
  options: TrainOptions,
  onEvent?: (event: TrainingEvent) => void,
): Promise<TrainingEvent[]> {
  const events: TrainingEvent[] = [];
  for await (const event of backend.doTrain(options)) {
    events.push(event);
    onEvent?.(event);
  }
  return events;
}

/** Real chat examples: SQuAD 2.0 dev questions with their gold answers (CC BY-SA 4.0). */
async function squadExamples(count: number, skip: number): Promise<string> {
  const examples: string[] = [];
  for (const q of readQuestions('squad2-dev')) {
    if (!q.answerable) continue;
    if (skip > 0) {
      skip--;
      continue;
    }
    examples.push(
      JSON.stringify({
        messages: [
          { role: 'system', content: 'Answer in a few words.' },
          { role: 'user', content: q.question },
          { role: 'assistant', content: q.answers[0] },
        ],
      }),
    );
    if (examples.length === count) break;
  }
  return `${examples.join('\n')}\n`;
}

describe('OpenAIFineTuningBackend against the local fine-tuning contract server', () => {
  let dir: string;
  let trainFile: string;
  let validationFile: string;
  let tooSmallFile: string;
  let badLineFile: string;
  const servers: FineTuningTestServer[] = [];
  let outputs = 0;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'attune-hosted-ft-'));
    trainFile = join(dir, 'train.jsonl');
    validationFile = join(dir, 'validation.jsonl');
    tooSmallFile = join(dir, 'small.jsonl');
    badLineFile = join(dir, 'bad.jsonl');
    await writeFile(trainFile, await squadExamples(12, 0));
    await writeFile(validationFile, await squadExamples(4, 12));
    await writeFile(tooSmallFile, await squadExamples(5, 20));
    const good = (await squadExamples(3, 30)).trimEnd().split('\n');
    await writeFile(
      badLineFile,
      `${good[0]}\n${good[1]}\n{"messages": [{"role": "user", "content": "unfinished"}\n${good[2]}\n`,
    );
  });

  after(async () => {
    await Promise.all(servers.map((s) => s.close()));
    await rm(dir, { recursive: true, force: true });
  });

  async function server(options: FineTuningTestServerOptions = {}): Promise<FineTuningTestServer> {
    const started = await startFineTuningTestServer({ tickMs: 10, ...options });
    servers.push(started);
    return started;
  }

  function backend(s: FineTuningTestServer, settings: Partial<OpenAIFineTuningSettings> = {}) {
    return new OpenAIFineTuningBackend({
      baseURL: s.baseURL,
      apiKey: s.apiKey,
      pollIntervalMs: 15,
      suffix: 'handbook',
      retry: { initialDelayMs: 10, maxDelayMs: 40 },
      ...settings,
    });
  }

  function options(extra: Partial<TrainOptions> = {}): TrainOptions {
    return {
      baseModel,
      trainFile,
      validationFile,
      hyperparameters,
      outputDir: join(dir, `out-${++outputs}`),
      ...extra,
    };
  }

  it('uploads, trains and reports steps, evals, checkpoints and the fine-tuned model id, in order', async () => {
    const s = await server();
    const opts = options();
    const events = await collect(backend(s), opts);
    checkTrainingStream(events);

    // The files arrive byte for byte, as fine-tune uploads.
    const uploads = [...s.files.values()];
    assert.deepEqual(
      uploads.map((f) => [f.filename, f.purpose]),
      [
        ['train.jsonl', 'fine-tune'],
        ['validation.jsonl', 'fine-tune'],
      ],
    );
    assert.equal(uploads[0]!.content, await readFile(trainFile, 'utf8'));
    assert.equal(uploads[1]!.content, await readFile(validationFile, 'utf8'));

    // The job request follows the published contract, with the documented hyperparameter mapping.
    const create = s.requests.find((r) => r.method === 'POST' && r.path === '/fine_tuning/jobs')!;
    assert.equal(create.headers.authorization, `Bearer ${s.apiKey}`);
    assert.deepEqual(create.body, {
      model: baseModel,
      training_file: uploads[0]!.id,
      validation_file: uploads[1]!.id,
      suffix: 'handbook',
      seed: 42,
      method: {
        type: 'supervised',
        supervised: { hyperparameters: { n_epochs: 3, batch_size: 2, learning_rate_multiplier: 0.5 } },
      },
    });

    const started = events.find((e) => e.type === 'started');
    assert.deepEqual(started, { type: 'started', totalSteps: 18, trainExamples: 12, validationExamples: 4 });
    const logs = events.filter((e) => e.type === 'log').map((e) => e.message);
    assert.ok(
      logs.some((m) => /ignored: rank=16, alpha=32, dropout=0.05/.test(m)),
      logs.join('\n'),
    );
    assert.ok(logs.some((m) => m.includes('learning rate 0.0001 sent as learning_rate_multiplier 0.5')));
    assert.ok(logs.includes('Files validated, moving job to queued state'));
    assert.ok(logs.includes('Fine-tuning job started'));

    const steps = events.flatMap((e) => (e.type === 'step' ? [e] : []));
    assert.deepEqual(
      steps.map((e) => e.step),
      Array.from({ length: 18 }, (_, i) => i + 1),
    );
    assert.ok(steps.at(-1)!.loss < steps[0]!.loss - 1, 'the loss falls');
    assert.equal(steps.at(-1)!.epoch, 3);
    assert.equal(steps[5]!.epoch, 1);
    assert.ok(steps.every((e) => e.totalSteps === 18 && e.learningRate === 0));
    // 3 service seconds per step; throughput and ETA come from the service's own timestamps.
    assert.ok(steps.slice(1).every((e) => e.tokensPerSecond > 0));
    assert.equal(steps[9]!.etaSeconds, (18 - 10) * 3);
    assert.equal(steps.at(-1)!.etaSeconds, 0);

    const evals = events.flatMap((e) => (e.type === 'eval' ? [e] : []));
    assert.deepEqual(
      evals.map((e) => e.step),
      [3, 6, 9, 12, 15, 18],
    );
    const checkpoints = events.flatMap((e) => (e.type === 'checkpoint' ? [e] : []));
    assert.deepEqual(
      checkpoints.map((e) => e.step),
      [6, 12, 18],
    );
    assert.ok(checkpoints.every((c) => c.path.startsWith('ftckpt_')));

    const job = s.jobs()[0]!;
    const done = events.at(-1)!;
    assert.equal(done.type, 'succeeded');
    assert.ok(done.type === 'succeeded');
    assert.deepEqual(done.output, { kind: 'hosted-model', modelId: job.fineTunedModel });
    assert.match(job.fineTunedModel!, /^ft:gpt-4o-mini-2024-07-18:attune-test:handbook:/);
    assert.equal(done.metrics.trainedTokens, job.trainedTokens);
    assert.equal(done.metrics.steps, 18);
    assert.equal(done.metrics.trainLoss, steps.at(-1)!.loss);
    assert.equal(done.metrics.validLoss, evals.at(-1)!.evalLoss);
    assert.ok(done.metrics.fullValidLoss! > 0);

    const record = JSON.parse(await readFile(join(opts.outputDir, jobRecordFile), 'utf8'));
    assert.equal(record.jobId, job.id);
    assert.equal(record.status, 'succeeded');
    assert.equal(record.fineTunedModel, job.fineTunedModel);
  });

  it('walks the newest-first events list across pages without missing or repeating an event', async () => {
    const s = await server({ maxPageSize: 4, tickMs: 5 });
    const events = await collect(backend(s, { pollIntervalMs: 120 }), options());
    checkTrainingStream(events);
    const paged = s.requests.filter((r) => r.path.endsWith('/events') && r.query.after);
    assert.ok(paged.length >= 3, `requests with an after cursor: ${paged.length}`);
    assert.deepEqual(
      events.flatMap((e) => (e.type === 'step' ? [e.step] : [])),
      Array.from({ length: 18 }, (_, i) => i + 1),
    );
    const serviceMessages = s
      .jobs()[0]!
      .events.filter((e) => e.type === 'message')
      .map((e) => e.message);
    const logged = events.filter((e) => e.type === 'log').map((e) => e.message);
    assert.deepEqual(
      logged.filter((m) => serviceMessages.includes(m)),
      serviceMessages,
    );
  });

  it("refuses a malformed upload with the service's message, naming the file, before any job exists", async () => {
    const s = await server();
    await assert.rejects(collect(backend(s), options({ trainFile: badLineFile })), (error: unknown) => {
      assert.ok(error instanceof FineTuningServiceError);
      assert.equal(error.status, 400);
      assert.equal(error.code, 'invalid_file_format');
      assert.match(
        error.message,
        /^Uploading .*bad\.jsonl: POST http:\/\/127\.0\.0\.1:\d+\/v1\/files failed with HTTP 400/,
      );
      assert.match(error.message, /Invalid file format for Fine-Tuning API\. Line 3 is not valid JSON\./);
      return true;
    });
    assert.equal(s.jobs().length, 0);
    assert.equal(s.requests.length, 1, 'a 400 is not retried');
  });

  it("ends with failed carrying the service's code and message when the job's file validation fails", async () => {
    const s = await server();
    const events = await collect(backend(s), options({ trainFile: tooSmallFile, validationFile: undefined }));
    checkTrainingStream(events);
    const failed = events.at(-1)!;
    assert.equal(failed.type, 'failed');
    assert.ok(failed.type === 'failed');
    assert.match(
      failed.message,
      /invalid_training_file: .*Training file has 5 example\(s\), but must have at least 10/,
    );
    assert.match(failed.message, /\(training_file\)/);
    assert.ok(!events.some((e) => e.type === 'step'));
  });

  it('ends with failed when the service fails the job mid-training', async () => {
    const s = await server({
      failJob: () => ({
        atStep: 5,
        code: 'server_error',
        message: 'The job failed due to an internal error.',
      }),
    });
    const events = await collect(backend(s), options());
    checkTrainingStream(events);
    assert.deepEqual(
      events.flatMap((e) => (e.type === 'step' ? [e.step] : [])),
      [1, 2, 3, 4],
    );
    const failed = events.at(-1)!;
    assert.ok(failed.type === 'failed');
    assert.match(
      failed.message,
      /^Hosted job ftjob-\w+ failed: server_error: The job failed due to an internal error\.$/,
    );
  });

  it('cancels the hosted job when the abort signal fires, then reports cancelled', async () => {
    // Slower ticks: the job must still be running when the cancel arrives, even on a busy machine.
    const s = await server({ tickMs: 40 });
    const controller = new AbortController();
    const events = await collect(backend(s), options({ abortSignal: controller.signal }), (event) => {
      if (event.type === 'step' && event.step >= 2) controller.abort();
    });
    checkTrainingStream(events);
    const cancels = s.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/cancel'));
    assert.equal(cancels.length, 1);
    const job = s.jobs()[0]!;
    assert.equal(job.status, 'cancelled');
    const done = events.at(-1)!;
    assert.ok(done.type === 'cancelled');
    const lastStep = events.flatMap((e) => (e.type === 'step' ? [e.step] : [])).at(-1)!;
    assert.equal(done.step, lastStep);
    assert.ok(done.step >= 2 && done.step < 18);
  });

  it('aborted before anything was sent: cancelled at step 0, no job', async () => {
    const s = await server();
    const events = await collect(backend(s), options({ abortSignal: AbortSignal.abort() }));
    assert.deepEqual(events, [{ type: 'cancelled', step: 0 }]);
    assert.equal(s.requests.length, 0);
  });

  it('a wrong API key is a clear error naming the endpoint, not retried', async () => {
    const s = await server();
    const wrong = backend(s, { apiKey: 'sk-wrong-key-1234' });
    await assert.rejects(collect(wrong, options()), (error: unknown) => {
      assert.ok(error instanceof FineTuningServiceError);
      assert.ok(AttuneError.isInstance(error));
      assert.equal(error.status, 401);
      assert.equal(error.endpoint, `POST ${s.baseURL}/files`);
      assert.match(
        error.message,
        /failed with HTTP 401: Incorrect API key provided: sk-\*\*\*1234\..*\(invalid_api_key\)/,
      );
      assert.match(error.hint!, /API key/);
      return true;
    });
    assert.equal(s.requests.length, 1);
  });

  it('waits out a 429 for as long as Retry-After asks, then carries on', async () => {
    const s = await server({
      faults: [{ method: 'POST', path: '/fine_tuning/jobs', status: 429, times: 1, retryAfterSeconds: 1 }],
    });
    const events = await collect(backend(s), options());
    checkTrainingStream(events);
    assert.equal(events.at(-1)!.type, 'succeeded');
    const creates = s.requests.filter((r) => r.method === 'POST' && r.path === '/fine_tuning/jobs');
    assert.deepEqual(
      creates.map((r) => r.status),
      [429, 200],
    );
    const waited = creates[1]!.receivedAt - creates[0]!.receivedAt;
    assert.ok(waited >= 950, `waited ${waited} ms for a 1 s Retry-After`);
  });

  it('a Retry-After longer than the client will wait fails at once and says so', async () => {
    const s = await server({ faults: [{ path: '/files', status: 429, times: 1, retryAfterSeconds: 3600 }] });
    await assert.rejects(
      collect(backend(s), options()),
      /HTTP 429 \(it asked to retry after 3600 s, longer than the 60 s/,
    );
    assert.equal(s.requests.length, 1);
  });

  it('retries 5xx answers while following a job, and gives up with a message after the last retry', async () => {
    const flaky = await server({
      faults: [{ method: 'GET', path: /^\/fine_tuning\/jobs\/[^/]+$/, status: 503, times: 2 }],
    });
    const recovered = await collect(backend(flaky), options());
    checkTrainingStream(recovered);
    assert.equal(recovered.at(-1)!.type, 'succeeded');

    const down = await server({
      faults: [{ method: 'GET', path: /^\/fine_tuning\/jobs\/[^/]+$/, status: 500, times: Infinity }],
    });
    const events = await collect(backend(down, { retry: { maxRetries: 3, initialDelayMs: 5 } }), options());
    checkTrainingStream(events);
    const failed = events.at(-1)!;
    assert.ok(failed.type === 'failed');
    const jobId = down.jobs()[0]!.id;
    assert.ok(
      failed.message.includes(
        `GET ${down.baseURL}/fine_tuning/jobs/${jobId} failed with HTTP 500 after 4 attempts: The server had an error`,
      ),
      failed.message,
    );
    assert.match(failed.message, /may still be running.*resume/);
    assert.equal(down.requests.filter((r) => r.path === `/fine_tuning/jobs/${jobId}`).length, 4);
  });

  it('an answer outside the contract still ends the stream with one failed event', async () => {
    const s = await server({
      faults: [{ method: 'GET', path: /\/events$/, status: 200, times: Infinity, body: { object: 'list' } }],
    });
    const events = await collect(backend(s), options());
    checkTrainingStream(events);
    const failed = events.at(-1)!;
    assert.ok(failed.type === 'failed');
    assert.match(
      failed.message,
      /GET .*\/fine_tuning\/jobs\/ftjob-\w+\/events answered with a list without a "data" array/,
    );
  });

  it('an upload that keeps failing with 5xx names the file and the endpoint', async () => {
    const s = await server({ faults: [{ path: '/files', status: 502, times: Infinity }] });
    await assert.rejects(
      collect(backend(s, { retry: { maxRetries: 2, initialDelayMs: 5 } }), options()),
      /^FineTuningServiceError: Uploading .*train\.jsonl: POST .*\/v1\/files failed with HTTP 502 after 3 attempts/,
    );
    assert.equal(s.requests.length, 3);
  });

  it('does not create a second job when the create call failed after the service acted on it', async () => {
    const s = await server({
      faults: [{ method: 'POST', path: '/fine_tuning/jobs', status: 502, times: 1, when: 'after' }],
    });
    const events = await collect(backend(s), options());
    checkTrainingStream(events);
    assert.equal(events.at(-1)!.type, 'succeeded');
    assert.equal(s.jobs().length, 1);
  });

  it('a 4xx from the service (unknown model) is not retried and names the field', async () => {
    const s = await server();
    await assert.rejects(
      collect(backend(s), options({ baseModel: 'smollm2' })),
      /POST .*\/fine_tuning\/jobs failed with HTTP 400: Model smollm2 is not available for fine-tuning or does not exist\. \(model_not_available\)/,
    );
    assert.equal(s.requests.filter((r) => r.path === '/fine_tuning/jobs').length, 1);
  });

  it('resume re-attaches to the job recorded in outputDir; it never starts a second one', async () => {
    const s = await server({ tickMs: 40 });
    const b = backend(s);
    const opts = options();
    await assert.rejects(collect(b, { ...opts, resume: true }), (error: unknown) => {
      assert.ok(AttuneError.isInstance(error));
      assert.match(error.message, /^Nothing to resume in .*: it has no openai-job\.json/);
      assert.match(error.hint!, /Hosted jobs cannot resume from a checkpoint/);
      return true;
    });

    // The first run stops following after step 3 (the process died, say); the job runs on.
    let seen = 0;
    for await (const event of b.doTrain(opts)) if (event.type === 'step' && ++seen === 3) break;
    await assert.rejects(collect(b, opts), (error: unknown) => {
      assert.ok(AttuneError.isInstance(error));
      assert.match(error.message, /already follows hosted job ftjob-\w+, which is running/);
      assert.match(error.hint!, /resume/);
      return true;
    });

    const events = await collect(b, { ...opts, resume: true });
    checkTrainingStream(events);
    const started = events.find((e) => e.type === 'started');
    assert.ok(started?.type === 'started');
    assert.ok(started.resumedFromStep! >= 3, `resumed from ${started.resumedFromStep}`);
    const steps = events.flatMap((e) => (e.type === 'step' ? [e.step] : []));
    assert.equal(steps[0], started.resumedFromStep! + 1);
    assert.equal(steps.at(-1), 18);
    assert.equal(events.at(-1)!.type, 'succeeded');
    assert.equal(s.jobs().length, 1);

    // A finished job's outcome can be fetched again; a new run is allowed once it is over.
    const again = await collect(b, { ...opts, resume: true });
    assert.deepEqual(
      again.filter((e) => e.type === 'succeeded'),
      [events.at(-1)],
    );
  });

  it('rejects hyperparameters the service cannot take before uploading anything', async () => {
    const s = await server();
    await assert.rejects(
      collect(backend(s), options({ hyperparameters: { ...hyperparameters, epochs: 0 } })),
      /Hyperparameter epochs must be an integer from 1 to 50/,
    );
    assert.equal(s.requests.length, 0);
  });
});
