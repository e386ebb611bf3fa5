/**
 * Real LoRA training of the default chat model (SmolLM2-135M) on CPU, through the job store, the
 * Python worker and the llama.cpp runtime: the adapter must lower validation loss, survive a cancel
 * (SIGTERM → checkpoint) and resume, load in node-llama-cpp, and make the model show the trained
 * behaviour on questions it never saw far more often than the base model does.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../config/index.ts';
import type { Models } from '../models/models.ts';
import { SMALL_CHAT_MODEL, testModels } from '../models/testing.ts';
import { resolveAdapter } from './adapter-registry.ts';
import { FineTuneJobs, type FinetuneJobRecord, type FinetuneJobStatus } from './finetune-job.ts';
import { defaultHyperparameters, LocalTrainer } from './local-trainer.ts';
import {
  behaviourMarker,
  behaviourSystemPrompt,
  heldOutQuestions,
  writeBehaviourDataset,
} from './local-trainer-fixtures.ts';
import { trainerEnvironment, trainerPackageDir } from './local-trainer-setup.ts';
import type { Hyperparameters, TrainingEvent } from './trainer-spec.ts';

const config = loadConfig({ env: process.env });
const repoRoot = join(trainerPackageDir, '..');

const hyperparameters: Hyperparameters = {
  ...defaultHyperparameters,
  rank: 8,
  alpha: 16,
  dropout: 0.05,
  targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj'],
  learningRate: 2e-3,
  epochs: 3,
  batchSize: 4,
  gradientAccumulation: 1,
  maxSeqLength: 128,
  seed: 7,
  checkpointEvery: 0,
  evalEvery: 0,
};

let models: Models;
let dir: string;
let trainer: LocalTrainer;
let data: { train: string; validation: string };

before(async () => {
  // A clean clone has no venv: the setup script makes it (once; later runs find the stamp and return).
  const setup = spawnSync(process.execPath, [join(repoRoot, 'scripts', 'setup-trainer.mjs')], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  assert.equal(setup.status, 0, 'trainer setup failed');
  models = await testModels({ chat: SMALL_CHAT_MODEL });
  dir = await mkdtemp(join(tmpdir(), 'attune-trainer-'));
  data = await writeBehaviourDataset(dir);
  trainer = LocalTrainer.fromConfig(config, { resolveBaseModel: (name) => models.cache.resolve(name) });
});

after(async () => {
  await models?.dispose();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function collect(events: AsyncIterable<TrainingEvent>): Promise<TrainingEvent[]> {
  const out: TrainingEvent[] = [];
  for await (const e of events) out.push(e);
  return out;
}

describe('local LoRA trainer', () => {
  test('trains, is cancelled and resumed, and the GGUF adapter teaches llama.cpp the behaviour', async () => {
    const jobs = FineTuneJobs.forConfig({ dir: join(dir, 'kb') });
    const created = await jobs.create({
      backend: trainer.provider,
      baseModel: { name: models.defaultChatName, path: models.cache.resolve(models.defaultChatName) },
      trainFile: data.train,
      validationFile: data.validation,
      hyperparameters,
    });
    assert.equal(created.status, 'queued');
    assert.equal(created.dataset.examples, 40);

    // First attempt: cancelled from "outside" (by job id → recorded worker pid → SIGTERM) at step 3.
    const seen = new Set<FinetuneJobStatus>();
    let cancelling: Promise<FinetuneJobRecord> | undefined;
    const first = await jobs.run(created.id, {
      backend: trainer,
      onEvent: (event, record) => {
        seen.add(record.status);
        if (event.type === 'step' && event.step === 3 && !cancelling) {
          assert.equal(typeof record.pid, 'number', 'the worker pid is recorded while running');
          cancelling = jobs.cancel(created.id);
        }
      },
    });
    assert.deepEqual([...seen], ['running']);
    assert.equal(first.status, 'cancelled', first.error);
    assert.equal((await cancelling)?.status, 'cancelled');
    const stoppedAt = first.progress?.step ?? 0;
    assert.ok(stoppedAt >= 3, `stopped at step ${stoppedAt}`);
    assert.ok(first.checkpoint && existsSync(join(first.checkpoint, 'adapter_model.safetensors')));
    assert.equal(first.pid, undefined);
    await assert.rejects(jobs.cancel(created.id), /already cancelled/);

    // Resume: continues at the checkpoint's step and finishes.
    const events: TrainingEvent[] = [];
    const done = await jobs.resume(created.id, { backend: trainer, onEvent: (e) => events.push(e) });
    assert.equal(done.status, 'succeeded', done.error);
    const started = events.find((e) => e.type === 'started');
    assert.equal(started?.type === 'started' && started.resumedFromStep, stoppedAt);
    const steps = events.filter((e) => e.type === 'step');
    assert.equal(steps[0]?.step, stoppedAt + 1, 'step count continues after resume');
    assert.equal(steps.at(-1)?.step, started?.type === 'started' ? started.totalSteps : -1);
    assert.equal(done.attempts, 2);
    await assert.rejects(jobs.resume(created.id, { backend: trainer }), /already succeeded/);

    // Validation loss falls, and the record, lineage and chart say so.
    const metrics = done.metrics!;
    process.stdout.write(
      `# eval loss ${metrics.evalLossBefore!.toFixed(3)} → ${metrics.evalLossAfter!.toFixed(3)}, ` +
        `${metrics.tokensPerSecond!.toFixed(0)} train tokens/s, ${done.durationSeconds.toFixed(0)} s in all\n`,
    );
    assert.ok(metrics.evalLossAfter! < 0.75 * metrics.evalLossBefore!, 'validation loss falls');
    const adapter = jobs.registry.get(done.adapterId!);
    assert.equal(adapter.lineage.jobId, created.id);
    assert.equal(adapter.lineage.dataset.sha256, created.dataset.sha256);
    assert.equal(adapter.lineage.baseModel.name, models.defaultChatName);
    assert.equal(adapter.lineage.metrics.evalLossAfter, metrics.evalLossAfter);
    assert.ok(adapter.lineage.machine.cores > 0);
    assert.deepEqual((await readdir(adapter.dir)).sort(), [
      'adapter.gguf',
      'adapter.safetensors',
      'adapter_config.json',
      'lineage.json',
    ]);
    const svg = readFileSync(done.lossChart!, 'utf8');
    assert.match(svg, /<svg[\s\S]*<path d="M[\s\S]*validation loss/);
    const stored = jobs.store.events(created.id);
    assert.deepEqual(
      stored.filter((e) => ['cancelled', 'succeeded'].includes(e.type)).map((e) => [e.type, e.attempt]),
      [
        ['cancelled', 1],
        ['succeeded', 2],
      ],
    );
    const resolved = resolveAdapter({ dir: join(dir, 'kb') }, done.adapterId!);
    assert.equal(resolved.path, adapter.gguf);
    assert.deepEqual(resolveAdapter({ dir: '/nonexistent' }, adapter.gguf).path, adapter.gguf);

    // The exported GGUF loads in node-llama-cpp and shows the behaviour on held-out questions.
    const chat = await models.chat();
    const rate = async (withAdapter: boolean) => {
      let hits = 0;
      for (const question of heldOutQuestions) {
        const result = await chat.doGenerate({
          messages: [
            { role: 'system', content: behaviourSystemPrompt },
            { role: 'user', content: question },
          ],
          maxTokens: 48,
          ...(withAdapter ? { adapter: { path: resolved.path } } : {}),
        });
        if (result.text.includes(behaviourMarker)) hits++;
      }
      return hits / heldOutQuestions.length;
    };
    const base = await rate(false);
    const adapted = await rate(true);
    process.stdout.write(
      `# "${behaviourMarker}" on ${heldOutQuestions.length} held-out questions: base ${base}, adapted ${adapted}\n`,
    );
    assert.ok(adapted >= 0.6, `adapted rate ${adapted}`);
    assert.ok(adapted >= base + 0.4, `adapted ${adapted} vs base ${base}`);

    // Number by number: llama.cpp running the GGUF adapter gives the log-probabilities PEFT gives in
    // PyTorch. A wrong orientation, scale or q/k permutation puts llama.cpp as far from PEFT as no
    // adapter at all (measured: 1.04 unpermuted vs 0.05 permuted on a q/k-only adapter).
    const llama = await models.runtime.llama();
    const cppModel = await llama.loadModel({ modelPath: models.cache.resolve(models.defaultChatName) });
    const conversation =
      `<|im_start|>system\n${behaviourSystemPrompt}<|im_end|>\n<|im_start|>user\n${heldOutQuestions[2]}<|im_end|>\n` +
      `<|im_start|>assistant\nYou can take ten paid sick days a year.\n${behaviourMarker}<|im_end|>\n`;
    const tokens = cppModel.tokenize(conversation, true);
    const ids = tokens.map(Number);
    await writeFile(join(dir, 'ids.json'), JSON.stringify(ids));
    const cache = join(config.home, 'trainer-cache');
    const baseDir = (await readdir(cache)).find((name) => name.startsWith('SmolLM2-135M-Instruct'));
    const torchRun = spawnSync(
      trainerEnvironment(config).python,
      [
        join('tests', 'peft_logprobs.py'),
        ...['--base', join(cache, baseDir!), '--adapter', join(done.outputDir, 'adapter')],
        ...['--ids', join(dir, 'ids.json'), '--out', join(dir, 'torch')],
      ],
      { cwd: trainerPackageDir, encoding: 'utf8' },
    );
    assert.equal(torchRun.status, 0, torchRun.stderr.slice(-2000));
    const torchAdapted = new Float32Array(readFileSync(join(dir, 'torch.adapted.f32')).buffer.slice(0));
    const vocabulary = torchAdapted.length / ids.length;
    const cppLogprobs = async (lora?: string) => {
      const context = await cppModel.createContext({
        contextSize: 256,
        ...(lora ? { lora: { adapters: [{ filePath: lora }] } } : {}),
      });
      const out = await context
        .getSequence()
        .controlledEvaluate(tokens.map((t) => [t, { generateNext: { logits: true } }] as const));
      await context.dispose();
      // log p(next token) at each position, from llama.cpp's raw logits.
      return ids.slice(1).map((next, i) => {
        const logits = [...(out[i]?.next.logits ?? new Map<number, number>()).entries()];
        const max = Math.max(...logits.map(([, v]) => v));
        const logSum = max + Math.log(logits.reduce((sum, [, v]) => sum + Math.exp(v - max), 0));
        return (logits.find(([token]) => token === next)?.[1] ?? Number.NEGATIVE_INFINITY) - logSum;
      });
    };
    const distance = (cpp: number[]) =>
      cpp.reduce((sum, lp, i) => sum + Math.abs(lp - torchAdapted[i * vocabulary + ids[i + 1]!]!), 0) /
      cpp.length;
    const withAdapter = distance(await cppLogprobs(resolved.path));
    const withoutAdapter = distance(await cppLogprobs());
    await cppModel.dispose();
    process.stdout.write(
      `# mean |log p(next) llama.cpp − PEFT| over ${ids.length - 1} tokens: with the GGUF adapter ${withAdapter.toFixed(3)}, without ${withoutAdapter.toFixed(3)}\n`,
    );
    assert.ok(withAdapter < 0.2, `llama.cpp with the adapter is ${withAdapter} from PEFT`);
    assert.ok(withoutAdapter > 4 * withAdapter, `without ${withoutAdapter} vs with ${withAdapter}`);
  });

  test('bad inputs end in one `failed` event with a clear message and leave no partial files', async () => {
    const outputDir = join(dir, 'bad-out');
    const run = (overrides: Partial<Parameters<LocalTrainer['doTrain']>[0]>) =>
      collect(
        trainer.doTrain({
          baseModel: models.defaultChatName,
          trainFile: data.train,
          validationFile: data.validation,
          hyperparameters,
          outputDir,
          ...overrides,
        }),
      );
    const lastOf = (events: TrainingEvent[]) => {
      assert.equal(events.filter((e) => ['failed', 'succeeded', 'cancelled'].includes(e.type)).length, 1);
      const last = events.at(-1)!;
      assert.equal(last.type, 'failed');
      assert.equal(existsSync(outputDir), false, 'no partial output');
      return last.type === 'failed' ? last.message : '';
    };

    const few = join(dir, 'few.jsonl');
    await writeFile(few, readFileSync(data.train, 'utf8').split('\n').slice(0, 3).join('\n'));
    assert.match(
      lastOf(await run({ trainFile: few })),
      /few\.jsonl holds 3 example\(s\); at least 4 are needed/,
    );

    assert.match(
      lastOf(await run({ hyperparameters: { ...hyperparameters, maxSeqLength: 40 } })),
      /longer than maxSeqLength 40: train\.jsonl:1 \(\d+ tokens\)/,
    );

    const broken = join(dir, 'broken.gguf');
    await writeFile(broken, 'not a gguf file at all');
    assert.match(lastOf(await run({ baseModel: broken })), /Cannot load base model .*broken\.gguf/);

    // The worker itself: non-zero exit, and stdout carries exactly one JSON event, nothing else.
    const job = join(dir, 'bad-job.json');
    await writeFile(job, JSON.stringify({ baseModel: broken, trainFile: few, hyperparameters, outputDir }));
    const direct = spawnSync(
      trainerEnvironment(config).python,
      ['-m', 'attune_trainer', 'train', '--config', job],
      {
        cwd: trainerPackageDir,
        encoding: 'utf8',
      },
    );
    assert.equal(direct.status, 1);
    const lines = direct.stdout.trim().split('\n');
    assert.equal(lines.length, 1, direct.stdout);
    assert.equal(JSON.parse(lines[0]!).type, 'failed');
  });

  test('a worker that crashes becomes `failed` carrying its last stderr lines', async () => {
    const fake = join(dir, 'crashing-python.sh');
    await writeFile(
      fake,
      '#!/bin/sh\necho "loading things" >&2\necho "Segmentation fault in libfoo" >&2\nexit 139\n',
    );
    chmodSync(fake, 0o755);
    const events = await collect(
      new LocalTrainer({ python: fake }).doTrain({
        baseModel: join(dir, 'x.gguf'),
        trainFile: data.train,
        hyperparameters,
        outputDir: join(dir, 'crash-out'),
      }),
    );
    assert.equal(events.length, 1);
    const [failed] = events;
    assert.equal(failed?.type, 'failed');
    assert.match(
      failed?.type === 'failed' ? failed.message : '',
      /exited with code 139[\s\S]*Segmentation fault in libfoo/,
    );

    const missing = await collect(
      new LocalTrainer({ python: join(dir, 'no-such-python') }).doTrain({
        baseModel: join(dir, 'x.gguf'),
        trainFile: data.train,
        hyperparameters,
        outputDir: join(dir, 'crash-out'),
      }),
    );
    assert.match(
      missing[0]?.type === 'failed' ? missing[0].message : '',
      /does not exist.*attune trainer setup/,
    );
  });

  test('python unit tests of the worker (GGUF export, permutation, loss mask) pass', () => {
    const result = spawnSync(
      trainerEnvironment(config).python,
      ['-m', 'unittest', 'discover', '-s', 'tests', '-t', '.'],
      { cwd: trainerPackageDir, encoding: 'utf8' },
    );
    assert.equal(result.status, 0, result.stderr.slice(-3000));
    assert.match(result.stderr, /OK/);
    assert.doesNotMatch(
      result.stderr,
      /skipped/,
      'the mask tests need the dequantised model the first test made',
    );
  });
});
