/**
 * `attune finetune` and `attune trainer` as a user runs them (child processes). Training itself is
 * tested for real in src/finetune/local-trainer.test.ts; here: listing, showing, refusing, messages.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FineTuneJobs } from '../finetune/finetune-job.ts';
import { defaultHyperparameters } from '../finetune/local-trainer.ts';
import type { FineTuningBackend } from '../finetune/trainer-spec.ts';
import { runAttune } from './testing.ts';

const attune = runAttune;

describe('attune finetune CLI', () => {
  let work: string;
  let env: Record<string, string>;
  let data: string;
  let jobId: string;
  let adapterId: string;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'attune-finetune-cli-'));
    // Training mechanics on the small model: the default's size would only cost minutes here.
    env = { ATTUNE_DIR: join(work, '.attune'), ATTUNE_CHAT_MODEL: 'smollm2-135m-instruct' };
    data = join(work, 'data.jsonl');
    const line = JSON.stringify({
      messages: [
        { role: 'user', content: 'When is payday?' },
        { role: 'assistant', content: 'The last working day of the month.' },
      ],
    });
    await writeFile(data, `${line}\n${line}\n${line}\n${line}\n`);
    // One finished job, made through the library with a scripted backend.
    const backend: FineTuningBackend = {
      specificationVersion: 'v1',
      provider: 'local',
      async *doTrain(options) {
        await mkdir(options.outputDir, { recursive: true });
        const gguf = join(options.outputDir, 'adapter.gguf');
        const safetensors = join(options.outputDir, 'adapter_model.safetensors');
        await writeFile(gguf, 'gguf');
        await writeFile(safetensors, 'st');
        yield { type: 'started', totalSteps: 1, trainExamples: 4, validationExamples: 0 };
        yield {
          type: 'step',
          step: 1,
          totalSteps: 1,
          epoch: 1,
          loss: 2,
          learningRate: 1e-3,
          tokensPerSecond: 50,
          etaSeconds: 0,
        };
        yield {
          type: 'succeeded',
          output: { kind: 'adapter', gguf, safetensors },
          metrics: { trainLoss: 2, evalLossBefore: 3, evalLossAfter: 2.5 },
        };
      },
    };
    const jobs = FineTuneJobs.forConfig({ dir: env.ATTUNE_DIR! });
    const job = await jobs.create({
      backend: 'local',
      baseModel: { name: 'smollm2-135m-instruct' },
      trainFile: data,
      hyperparameters: defaultHyperparameters,
    });
    const done = await jobs.run(job.id, { backend });
    jobId = done.id;
    adapterId = done.adapterId!;
  });
  after(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('ls, show and ls --adapters, as text and --json', async () => {
    const ls = await attune(['finetune', 'ls', '--json'], env);
    assert.equal(ls.code, 0, ls.stderr);
    const jobs = JSON.parse(ls.stdout) as { id: string; status: string }[];
    assert.deepEqual(
      jobs.map((j) => [j.id, j.status]),
      [[jobId, 'succeeded']],
    );
    const text = await attune(['finetune', 'ls'], env);
    assert.match(text.stdout, new RegExp(`${jobId} +succeeded .* ${adapterId}`));
    const show = await attune(['finetune', 'show', jobId], env);
    assert.match(show.stdout, /eval 3\.000 → 2\.500/);
    assert.match(show.stdout, new RegExp(`attune ask --adapter ${adapterId}`));
    const shown = JSON.parse((await attune(['finetune', 'show', jobId, '--json', '--events'], env)).stdout);
    assert.equal(shown.adapterId, adapterId);
    assert.deepEqual(
      shown.events.map((e: { type: string }) => e.type),
      ['started', 'step', 'succeeded'],
    );
    const adapters = JSON.parse((await attune(['finetune', 'ls', '--adapters', '--json'], env)).stdout);
    assert.equal(adapters[0].id, adapterId);
    assert.equal(adapters[0].lineage.jobId, jobId);
  });

  it('refuses with messages that say what to do', async () => {
    const resume = await attune(['finetune', 'resume', jobId], env);
    assert.equal(resume.code, 1);
    assert.match(resume.stderr, new RegExp(`already succeeded; its adapter is ${adapterId}`));
    const cancel = await attune(['finetune', 'cancel', jobId], env);
    assert.match(cancel.stderr, /already succeeded; there is nothing to cancel/);
    const unknown = await attune(['finetune', 'show', 'ft-nope'], env);
    assert.match(
      unknown.stderr,
      /No fine-tuning job "ft-nope"[\s\S]*hint: List jobs with: attune finetune ls/,
    );
    const nothing = await attune(['finetune'], env);
    assert.match(nothing.stderr, /Nothing to train on: pass --data/);
    const unscanned = await attune(['finetune', '--data', data], env);
    assert.equal(unscanned.code, 1);
    assert.match(unscanned.stderr, /has not been scanned[\s\S]*--allow-unscanned/);
    const hosted = await attune(['finetune', '--data', data, '--allow-unscanned', '--backend', 'openai'], {
      ...env,
      OPENAI_API_KEY: '',
      OPENAI_BASE_URL: '',
    });
    assert.match(hosted.stderr, /needs a base URL and an API key[\s\S]*OPENAI_BASE_URL/);
    const badFlag = await attune(['finetune', '--data', data, '--allow-unscanned', '--rank', 'four'], env);
    assert.match(badFlag.stderr, /--rank must be an integer, got "four"/);
  });

  it('trainer setup is idempotent', async () => {
    const setup = await attune(['trainer', 'setup'], env);
    assert.equal(setup.code, 0, setup.stderr);
    const again = await attune(['trainer', 'setup'], env);
    assert.match(again.stdout, /^up to date: /);
  });
});
