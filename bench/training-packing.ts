// LoRA training throughput on SmolLM2-135M with short examples (the shape of the issue's 16.7 tok/s
// run: 24 short chat examples, several epochs), in one run: the worker with packing (short examples
// laid end to end in rows of maxSeqLength tokens, each attending only to itself), the worker without
// (one padded example per row, batch 4), and the plain PEFT loop (bench/peft_baseline.py) on the same
// data. Reports tokens/s (training loop only, model load excluded, real tokens only), the ratios, the
// validation loss each reaches, and training throughput as a share of this machine's own fp32 matmul
// rate (bench/matmul.py), counting LoRA training as ~4 × parameters FLOPs per token (forward 2N,
// backward through the frozen weights ~2N; the adapters' own weight gradients are negligible).
//
//   npx tsx bench/training-packing.ts [--examples 24] [--epochs 4] [--rounds 1]   (ATTUNE_THREADS=1 when busy)
import { spawnSync } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config/index.ts';
import { readQuestions } from '../src/eval/qa-data.ts';
import { FineTuneJobs } from '../src/finetune/finetune-job.ts';
import { defaultHyperparameters, LocalTrainer } from '../src/finetune/local-trainer.ts';
import { setupTrainer } from '../src/finetune/local-trainer-setup.ts';
import type { Hyperparameters } from '../src/finetune/trainer-spec.ts';
import { Models } from '../src/models/models.ts';
import { argValue, loadAverage, seededShuffle, writeResult } from './bench-env.ts';

const exampleCount = argValue('--examples') ?? 24;
const epochs = argValue('--epochs') ?? 4;
const rounds = argValue('--rounds') ?? 1;
const BASE = 'smollm2-135m-instruct';
const PARAMS = 134.5e6;
// ATTUNE_THREADS=1 on a busy machine: spinning OpenMP threads slow each other (docs/finetuning.md).

const config = loadConfig({ env: { ...process.env, ATTUNE_CHAT_MODEL: BASE } });
const environment = await setupTrainer(config, { onProgress: (l) => process.stderr.write(`${l}\n`) });
const threads = config.models.threads || 0;
const models = new Models(config);
await models.cache.pull(BASE);
const work = await mkdtemp(join(tmpdir(), 'attune-bench-packing-'));
// SQuAD 2.0 dev questions with their gold answers (articles 12-19 are the adapter-training split in
// src/eval/splits.ts; any short chat example has this shape).
const questions = seededShuffle(
  readQuestions('squad2-dev').filter((q) => q.answerable && q.answers[0]),
  11,
);
const toExample = (q: { question: string; answers: string[] }) =>
  JSON.stringify({
    messages: [
      { role: 'system', content: 'Answer the question in a few words.' },
      { role: 'user', content: q.question },
      { role: 'assistant', content: q.answers[0] },
    ],
  });
const trainFile = join(work, 'train.jsonl');
const validationFile = join(work, 'validation.jsonl');
await writeFile(trainFile, `${questions.slice(0, exampleCount).map(toExample).join('\n')}\n`);
await writeFile(
  validationFile,
  `${questions
    .slice(exampleCount, exampleCount + 8)
    .map(toExample)
    .join('\n')}\n`,
);

const jobs = FineTuneJobs.forConfig({ dir: join(work, 'kb') });
const trainer = LocalTrainer.fromConfig(config, { resolveBaseModel: (n) => models.cache.resolve(n) });
const base: Hyperparameters = { ...defaultHyperparameters, epochs, maxSeqLength: 512, checkpointEvery: 0 };
let baseDir: string | undefined;

async function worker(packing: boolean) {
  const job = await jobs.create({
    backend: trainer.provider,
    baseModel: { name: BASE, path: models.cache.resolve(BASE) },
    trainFile,
    validationFile,
    hyperparameters: { ...base, packing },
  });
  const record = await jobs.run(job.id, { backend: trainer });
  if (record.status !== 'succeeded') throw new Error(`training ${record.status}: ${record.error}`);
  baseDir ??= jobs.store
    .events(job.id)
    .map((e) => (e.type === 'log' ? /loaded in [\d.]+ s from (\S+)/.exec(e.message)?.[1] : undefined))
    .find(Boolean);
  const m = record.metrics!;
  return {
    packing,
    tokens: m.trainTokens,
    seconds: m.trainSeconds,
    tokensPerSecond: m.tokensPerSecond ?? 0,
    steps: m.steps,
    evalLossBefore: m.evalLossBefore,
    evalLossAfter: m.evalLossAfter,
  };
}

function plainPeft() {
  if (!baseDir) throw new Error('no dequantised base directory yet');
  const run = spawnSync(
    environment.python,
    [
      join(import.meta.dirname, 'peft_baseline.py'),
      ...['--base', baseDir, '--data', trainFile, '--epochs', String(epochs)],
      ...['--batch-size', String(base.batchSize), '--rank', String(base.rank), '--alpha', String(base.alpha)],
      ...['--lr', String(base.learningRate), '--seed', String(base.seed), '--threads', String(threads)],
    ],
    { encoding: 'utf8', env: { ...process.env, HF_HUB_OFFLINE: '1' } },
  );
  if (run.status !== 0) throw new Error(`baseline failed:\n${run.stderr.slice(-2000)}`);
  return JSON.parse(run.stdout.trim().split('\n').at(-1)!) as {
    tokens: number;
    seconds: number;
    tokensPerSecond: number;
  };
}

function matmul() {
  const run = spawnSync(environment.python, [join(import.meta.dirname, 'matmul.py'), String(threads)], {
    encoding: 'utf8',
  });
  if (run.status !== 0) throw new Error(run.stderr);
  return JSON.parse(run.stdout.trim()) as { gflops: number; size: number; threads: number };
}

const runs = [];
const loadBefore = loadAverage();
const peak = matmul();
for (let r = 0; r < rounds; r++) {
  // The order reverses every round, so a drift in the machine's load does not favour one of them.
  let packed: Awaited<ReturnType<typeof worker>>;
  let padded: Awaited<ReturnType<typeof worker>>;
  let plain: ReturnType<typeof plainPeft>;
  if (r % 2 === 0) {
    packed = await worker(true);
    padded = await worker(false);
    plain = plainPeft();
  } else {
    plain = plainPeft();
    padded = await worker(false);
    packed = await worker(true);
  }
  runs.push({ packed, padded, plain });
  process.stderr.write(
    `round ${r + 1}: packed ${packed.tokensPerSecond.toFixed(1)} tok/s, padded ${padded.tokensPerSecond.toFixed(1)}, plain PEFT ${plain.tokensPerSecond.toFixed(1)}\n`,
  );
}
const peakAfter = matmul();
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const packedRate = mean(runs.map((r) => r.packed.tokensPerSecond));
const paddedRate = mean(runs.map((r) => r.padded.tokensPerSecond));
const plainRate = mean(runs.map((r) => r.plain.tokensPerSecond));
const gflops = Math.max(peak.gflops, peakAfter.gflops);
const share = (rate: number) => (rate * 4 * PARAMS) / (gflops * 1e9);
const path = writeResult('training-packing', {
  threads: threads || 'one per core',
  command: `${threads ? `ATTUNE_THREADS=${threads} ` : ''}npx tsx bench/training-packing.ts --examples ${exampleCount} --epochs ${epochs} --rounds ${rounds}`,
  base: BASE,
  data: `${exampleCount} squad2-dev questions with their gold answers as short chat examples, ${epochs} epochs, maxSeqLength 512`,
  load: { before: loadBefore, after: loadAverage() },
  matmul: { before: peak, after: peakAfter },
  runs,
  tokensPerSecond: { packed: packedRate, padded: paddedRate, plainPeft: plainRate },
  ratios: {
    packedOverPadded: packedRate / paddedRate,
    packedOverPlainPeft: packedRate / plainRate,
    paddedOverPlainPeft: paddedRate / plainRate,
    packedOverIssueBaseline16_7: packedRate / 16.7,
  },
  shareOfMatmulPeak: { packed: share(packedRate), padded: share(paddedRate), plainPeft: share(plainRate) },
});
process.stderr.write(`wrote ${path}\n`);
await models.dispose();
