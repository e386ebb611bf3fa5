/**
 * Job records and the adapter registry, driven by a scripted backend: control flow only (status
 * transitions, messages, files). Real training is in local-trainer.test.ts.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AttuneError } from '../models/model-error.ts';
import { resolveAdapter } from './adapter-registry.ts';
import { FineTuneJobs } from './finetune-job.ts';
import { defaultHyperparameters } from './local-trainer.ts';
import { niceTicks, renderLossChart } from './loss-chart.ts';
import type { FineTuningBackend, TrainingEvent, TrainOptions } from './trainer-spec.ts';

let dir: string;
let data: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'attune-jobs-'));
  data = join(dir, 'data.jsonl');
  const line = JSON.stringify({
    messages: [
      { role: 'user', content: 'q' },
      { role: 'assistant', content: 'a' },
    ],
  });
  await writeFile(data, `${[line, line, line, line, line].join('\n')}\n`);
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Replays events; an `adapter` success writes the files it names into outputDir. */
function scripted(events: TrainingEvent[], calls: TrainOptions[] = []): FineTuningBackend {
  return {
    specificationVersion: 'v1',
    provider: 'scripted',
    async *doTrain(options: TrainOptions) {
      calls.push(options);
      for (const event of events) {
        if (event.type === 'succeeded' && event.output.kind === 'adapter') {
          const { mkdir } = await import('node:fs/promises');
          await mkdir(options.outputDir, { recursive: true });
          const gguf = join(options.outputDir, 'adapter.gguf');
          const safetensors = join(options.outputDir, 'adapter_model.safetensors');
          await writeFile(gguf, 'gguf');
          await writeFile(safetensors, 'st');
          yield { ...event, output: { kind: 'adapter', gguf, safetensors } };
        } else yield event;
      }
    },
  };
}

const steps: TrainingEvent[] = [
  { type: 'started', totalSteps: 3, trainExamples: 5, validationExamples: 0 },
  { type: 'eval', step: 0, evalLoss: 3 },
  ...[1, 2, 3].map(
    (step): TrainingEvent => ({
      type: 'step',
      step,
      totalSteps: 3,
      epoch: 1,
      loss: 3 - step / 2,
      learningRate: 1e-3,
      tokensPerSecond: 100,
      etaSeconds: 3 - step,
    }),
  ),
  { type: 'eval', step: 3, evalLoss: 1.5 },
];

describe('fine-tuning jobs', () => {
  test('queued → running → succeeded registers the adapter with lineage and draws the loss chart', async () => {
    const jobs = FineTuneJobs.forConfig({ dir: join(dir, 'a') });
    const created = await jobs.create({
      backend: 'scripted',
      baseModel: { name: 'base', sha256: 'abc' },
      trainFile: data,
      hyperparameters: defaultHyperparameters,
    });
    assert.equal(created.status, 'queued');
    assert.equal(created.dataset.examples, 5);
    const statuses: string[] = [];
    const done = await jobs.run(created.id, {
      backend: scripted([
        ...steps,
        {
          type: 'succeeded',
          output: { kind: 'adapter', gguf: '', safetensors: '' },
          metrics: { trainLoss: 1.5, evalLossBefore: 3, evalLossAfter: 1.5 },
        },
      ]),
      onEvent: (_e, r) => statuses.push(r.status),
    });
    assert.ok(statuses.every((s) => s === 'running'));
    assert.equal(done.status, 'succeeded');
    assert.equal(done.progress?.step, 3);
    const adapter = jobs.registry.get(done.adapterId!);
    assert.equal(adapter.lineage.jobId, created.id);
    assert.equal(adapter.lineage.baseModel.sha256, 'abc');
    assert.equal(adapter.lineage.dataset.sha256, created.dataset.sha256);
    assert.equal(adapter.lineage.metrics.evalLossAfter, 1.5);
    assert.equal(jobs.registry.list().length, 1);
    assert.equal(resolveAdapter({ dir: join(dir, 'a') }, done.adapterId!).path, adapter.gguf);
    const svg = readFileSync(done.lossChart!, 'utf8');
    assert.match(svg, /optimizer step[\s\S]*validation loss/);
    assert.equal((svg.match(/<circle/g) ?? []).length, 3); // two eval points and the legend's
    assert.equal(jobs.store.events(created.id).length, steps.length + 1);
    await assert.rejects(
      jobs.resume(created.id, { backend: scripted([]) }),
      /already succeeded; its adapter is lora-/,
    );
    await assert.rejects(jobs.cancel(created.id), /already succeeded; there is nothing to cancel/);
  });

  test('failed and cancelled jobs resume with resume=true; a backend that ends silently is a failure', async () => {
    const jobs = FineTuneJobs.forConfig({ dir: join(dir, 'b') });
    const created = await jobs.create({
      backend: 'scripted',
      baseModel: { name: 'base' },
      trainFile: data,
      hyperparameters: defaultHyperparameters,
    });
    const failed = await jobs.run(created.id, {
      backend: scripted([{ type: 'failed', message: 'out of memory' }]),
    });
    assert.equal(failed.status, 'failed');
    assert.equal(failed.error, 'out of memory');
    await assert.rejects(jobs.run(created.id, { backend: scripted([]) }), /is failed, not queued/);
    const calls: TrainOptions[] = [];
    const silent = await jobs.resume(created.id, { backend: scripted(steps, calls) });
    assert.equal(calls[0]?.resume, true);
    assert.equal(silent.status, 'failed');
    assert.match(silent.error!, /ended without a result/);
    const cancelled = await jobs.resume(created.id, {
      backend: scripted([...steps.slice(0, 3), { type: 'cancelled', step: 1, checkpoint: '/ckpt/step-1' }]),
    });
    assert.equal(cancelled.status, 'cancelled');
    assert.equal(cancelled.checkpoint, '/ckpt/step-1');
    assert.equal(cancelled.attempts, 3);
    await assert.rejects(jobs.cancel(created.id), /already cancelled.*/);
  });

  test('a queued job cancels at once; a running job whose process died reads as failed', async () => {
    const jobs = FineTuneJobs.forConfig({ dir: join(dir, 'c') });
    const input = {
      backend: 'scripted',
      baseModel: { name: 'base' },
      trainFile: data,
      hyperparameters: defaultHyperparameters,
    };
    const queued = await jobs.create(input);
    assert.equal((await jobs.cancel(queued.id)).status, 'cancelled');
    await assert.rejects(jobs.cancel(queued.id), /already cancelled/);

    const orphan = await jobs.create(input);
    // A pid far above pid_max: certainly not running.
    await jobs.store.update(orphan.id, (r) => ({
      ...r,
      status: 'running',
      ownerPid: 2 ** 30,
      pid: 2 ** 30 + 1,
    }));
    const read = jobs.get(orphan.id);
    assert.equal(read.status, 'failed');
    assert.match(read.error!, /ended without recording a result/);
    await assert.rejects(
      async () => jobs.get('ft-nope'),
      (e: unknown) => AttuneError.isInstance(e) && /attune finetune ls/.test(e.hint ?? ''),
    );
  });

  test('resolveAdapter takes a .gguf path as is and explains an unknown id', async () => {
    const file = join(dir, 'mine.gguf');
    await writeFile(file, 'x');
    assert.deepEqual(resolveAdapter({ dir }, file), { id: 'mine', path: file });
    assert.throws(() => resolveAdapter({ dir }, join(dir, 'missing.gguf')), /Adapter file not found/);
    assert.throws(() => resolveAdapter({ dir }, 'lora-unknown'), /No adapter "lora-unknown"/);
    assert.equal(existsSync(join(dir, 'adapters')), false);
  });

  test('loss chart: round ticks, axes and labels; no NaN in the drawing', () => {
    assert.deepEqual(niceTicks(0, 4.3, 5), [0, 1, 2, 3, 4, 5]);
    assert.deepEqual(niceTicks(0, 30, 6), [0, 5, 10, 15, 20, 25, 30]);
    const svg = renderLossChart({
      title: 'a <b>',
      train: [
        { step: 1, loss: 2 },
        { step: 2, loss: Number.NaN },
        { step: 3, loss: 1 },
      ],
    });
    assert.doesNotMatch(svg, /NaN/);
    assert.match(svg, /a &#60;b&#62;/);
    assert.match(svg, /loss \(cross-entropy, assistant tokens\)/);
  });
});
