// Local fine-tuning, measured: (1) training tokens/s through Attune's worker vs a plain PEFT loop
// (bench/peft_baseline.py) on the same data and settings in the same run: ratio target ≥ 0.9;
// (2) wall time from `create job` to a registered adapter on N examples (default 200, SQuAD 2.0 dev
// questions with their gold answers); (3) inference tokens/s of the chat model with and without the
// adapter. Writes bench/results/training.json.
// Run on an idle machine: npx tsx bench/training.ts [--examples 200] [--epochs 1] [--prompts 8]
// Smoke test (seconds, proves it works, not a measurement): --examples 16 --prompts 2 --out training-smoke
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config/index.ts';
import { type EvalQuestion, readQuestions } from '../src/eval/qa-data.ts';
import { FineTuneJobs } from '../src/finetune/finetune-job.ts';
import { defaultHyperparameters, LocalTrainer } from '../src/finetune/local-trainer.ts';
import { setupTrainer } from '../src/finetune/local-trainer-setup.ts';
import type { Hyperparameters } from '../src/finetune/trainer-spec.ts';
import { Models } from '../src/models/models.ts';
import { seededShuffle, writeResult } from './bench-env.ts';

const args = process.argv.slice(2);
const arg = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1]! : fallback;
};
const exampleCount = Number(arg('examples', '200'));
const epochs = Number(arg('epochs', '1'));
const promptCount = Number(arg('prompts', '8'));
const resultName = arg('out', 'training');

const config = loadConfig({ env: process.env });
const environment = await setupTrainer(config, { onProgress: (l) => process.stderr.write(`${l}\n`) });
const models = new Models(config);
await models.cache.pull(config.models.chat);
const basePath = models.cache.resolve(config.models.chat);
const work = await mkdtemp(join(tmpdir(), 'attune-bench-training-'));

// Data: real questions with their gold answers, one chat example each.
const questions = seededShuffle(
  readQuestions('squad2-dev').filter((q) => q.answerable && q.answers[0]),
  7,
);
const system = 'Answer the question in a few words.';
const toExample = (q: EvalQuestion) =>
  JSON.stringify({
    messages: [
      { role: 'system', content: system },
      { role: 'user', content: q.question },
      { role: 'assistant', content: q.answers[0] },
    ],
  });
const trainFile = join(work, 'train.jsonl');
const validationFile = join(work, 'validation.jsonl');
const validationCount = Math.max(4, Math.round(exampleCount / 10));
await writeFile(trainFile, `${questions.slice(0, exampleCount).map(toExample).join('\n')}\n`);
await writeFile(
  validationFile,
  `${questions
    .slice(exampleCount, exampleCount + validationCount)
    .map(toExample)
    .join('\n')}\n`,
);

const hyperparameters: Hyperparameters = {
  ...defaultHyperparameters,
  epochs,
  maxSeqLength: 256,
  checkpointEvery: 0,
};
const threads = config.models.threads || 0;

// (1)+(2): Attune end to end, timed from job creation to a registered adapter.
const jobs = FineTuneJobs.forConfig({ dir: join(work, 'kb') });
const trainer = LocalTrainer.fromConfig(config, { resolveBaseModel: (n) => models.cache.resolve(n) });
const t0 = performance.now();
const job = await jobs.create({
  backend: trainer.provider,
  baseModel: { name: config.models.chat, path: basePath },
  trainFile,
  validationFile,
  hyperparameters,
});
const record = await jobs.run(job.id, {
  backend: trainer,
  onEvent: (e) => {
    if (e.type === 'step' && (e.step % 10 === 0 || e.step === e.totalSteps)) {
      process.stderr.write(`  attune step ${e.step}/${e.totalSteps} loss ${e.loss.toFixed(3)}\n`);
    }
  },
});
const wallSeconds = (performance.now() - t0) / 1000;
if (record.status !== 'succeeded') throw new Error(`training ${record.status}: ${record.error}`);
const metrics = record.metrics!;

// The plain loop trains on the same examples from the dequantised copy the worker made.
const cacheRoot = join(config.home, 'trainer-cache');
const baseDir = jobs.store
  .events(job.id)
  .map((e) => (e.type === 'log' ? /loaded in [\d.]+ s from (\S+)/.exec(e.message)?.[1] : undefined))
  .find(Boolean);
if (!baseDir) throw new Error(`cannot find the dequantised base under ${cacheRoot}`);
const baseline = spawnSync(
  environment.python,
  [
    join(import.meta.dirname, 'peft_baseline.py'),
    '--base',
    baseDir,
    '--data',
    trainFile,
    '--rank',
    String(hyperparameters.rank),
    '--alpha',
    String(hyperparameters.alpha),
    '--dropout',
    String(hyperparameters.dropout),
    '--targets',
    hyperparameters.targetModules.join(','),
    '--lr',
    String(hyperparameters.learningRate),
    '--epochs',
    String(epochs),
    '--batch-size',
    String(hyperparameters.batchSize),
    '--seed',
    String(hyperparameters.seed),
    '--threads',
    String(threads),
  ],
  { encoding: 'utf8', env: { ...process.env, HF_HUB_OFFLINE: '1' } },
);
if (baseline.status !== 0) throw new Error(`baseline failed:\n${baseline.stderr.slice(-2000)}`);
const plain = JSON.parse(baseline.stdout.trim().split('\n').at(-1)!) as {
  tokens: number;
  seconds: number;
  tokensPerSecond: number;
};

// (3): generation speed with and without the adapter, same prompts, greedy.
const chat = await models.chat();
const adapterPath = jobs.registry.get(record.adapterId!).gguf;
const prompts = questions.slice(exampleCount + validationCount, exampleCount + validationCount + promptCount);
// Decode speed (tokens after the first / time after the first) and time to first token, so answers of
// different lengths (an adapter trained on short answers stops sooner) still compare.
async function generationRate(withAdapter: boolean) {
  let tokens = 0;
  let decodeSeconds = 0;
  let firstTokenMs = 0;
  for (const q of prompts) {
    const started = performance.now();
    const result = await chat.doGenerate({
      messages: [
        { role: 'system', content: system },
        { role: 'user', content: `${q.question} Explain your answer in detail.` },
      ],
      maxTokens: 64,
      ...(withAdapter ? { adapter: { path: adapterPath } } : {}),
    });
    const total = performance.now() - started;
    const ttft = result.timeToFirstTokenMs ?? total;
    firstTokenMs += ttft;
    decodeSeconds += (total - ttft) / 1000;
    tokens += Math.max(0, result.usage.outputTokens - 1);
  }
  return {
    decodedTokens: tokens,
    tokensPerSecond: tokens / decodeSeconds,
    meanTimeToFirstTokenMs: firstTokenMs / prompts.length,
  };
}
await generationRate(false); // warm-up: first context creation
await generationRate(true);
const inferenceBase = await generationRate(false);
const inferenceAdapter = await generationRate(true);
await models.dispose();

const result = {
  settings: { examples: exampleCount, validationExamples: validationCount, epochs, hyperparameters, threads },
  training: {
    attuneTokensPerSecond: metrics.tokensPerSecond,
    plainPeftTokensPerSecond: plain.tokensPerSecond,
    ratio: metrics.tokensPerSecond! / plain.tokensPerSecond,
    target: 0.9,
    tokens: { attune: metrics.trainTokens, plainPeft: plain.tokens },
  },
  firstAdapter: {
    wallSeconds,
    baseLoadSeconds: metrics.baseLoadSeconds,
    trainSeconds: metrics.trainSeconds,
    evalLossBefore: metrics.evalLossBefore,
    evalLossAfter: metrics.evalLossAfter,
  },
  inference: {
    prompts: prompts.length,
    withoutAdapter: inferenceBase,
    withAdapter: inferenceAdapter,
    ratio: inferenceAdapter.tokensPerSecond / inferenceBase.tokensPerSecond,
  },
};
const path = writeResult(resultName, result);
process.stderr.write(`${JSON.stringify(result, null, 2)}\nwritten to ${path}\n`);
await rm(work, { recursive: true, force: true });
