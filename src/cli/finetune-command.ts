import type { Command } from 'commander';
import { listAdapters } from '../finetune/adapter-registry.ts';
import type { FinetuneJobRecord } from '../finetune/finetune-job.ts';
import { defaultHyperparameters } from '../finetune/local-trainer.ts';
import { setupTrainer } from '../finetune/local-trainer-setup.ts';
import type { Hyperparameters, TrainingEvent } from '../finetune/trainer-spec.ts';
import { AttuneError } from '../models/model-error.ts';
import type { CliContext } from './cli-context.ts';
import { ProgressBars } from './progress.ts';

type TrainFlags = {
  data?: string;
  validation?: string;
  base?: string;
  backend: string;
  rank?: string;
  alpha?: string;
  dropout?: string;
  targetModules?: string;
  lr?: string;
  epochs?: string;
  batchSize?: string;
  gradAccum?: string;
  maxSeqLength?: string;
  seed?: string;
  checkpointEvery?: string;
  evalEvery?: string;
  packing?: boolean;
  fromKb?: boolean;
  count?: string;
  raft?: boolean;
  allowUnscanned?: boolean;
  json?: boolean;
};

export function registerFinetuneCommands(program: Command, context: CliContext): void {
  const finetune = program
    .command('finetune')
    .description('train a LoRA adapter on chat data; list, show, cancel and resume fine-tuning jobs')
    .option('--data <file>', 'training data: chat JSONL ({"messages":[...]}), pairs or transcripts')
    .option('--validation <file>', 'validation data (default: 10% of --data held out)')
    .option(
      '--base <model>',
      'base model: catalog name, .gguf path or Hugging Face dir (default: the chat model)',
    )
    .option('--backend <name>', 'local (Python/PEFT worker) or openai (hosted, OpenAI-compatible)', 'local')
    .option('--rank <n>', `LoRA rank (default ${defaultHyperparameters.rank})`)
    .option('--alpha <n>', `LoRA alpha (default ${defaultHyperparameters.alpha})`)
    .option('--dropout <x>', `LoRA dropout (default ${defaultHyperparameters.dropout})`)
    .option(
      '--target-modules <list>',
      `comma-separated (default ${defaultHyperparameters.targetModules.join(',')})`,
    )
    .option('--lr <x>', `learning rate (default ${defaultHyperparameters.learningRate})`)
    .option('--epochs <n>', `epochs (default ${defaultHyperparameters.epochs})`)
    .option('--batch-size <n>', `examples per micro-batch (default ${defaultHyperparameters.batchSize})`)
    .option(
      '--grad-accum <n>',
      `micro-batches per optimizer step (default ${defaultHyperparameters.gradientAccumulation})`,
    )
    .option(
      '--max-seq-length <n>',
      `longest example in tokens (default ${defaultHyperparameters.maxSeqLength})`,
    )
    .option('--seed <n>', `random seed (default ${defaultHyperparameters.seed})`)
    .option(
      '--checkpoint-every <n>',
      `steps between checkpoints (default ${defaultHyperparameters.checkpointEvery})`,
    )
    .option('--eval-every <n>', 'steps between validation passes (default: once per epoch)')
    .option(
      '--packing',
      'pack short examples into full rows of --max-seq-length tokens (fewer, fuller steps)',
    )
    .option('--from-kb', 'build the training data from the knowledge base')
    .option('--raft', 'with --from-kb: RAFT examples (question + oracle and distractor documents)')
    .option('--count <n>', 'with --from-kb: examples to generate', '200')
    .option('--allow-unscanned', 'train on data that has no clean privacy scan')
    .option('--json', 'machine-readable output')
    .action(async (flags: TrainFlags) => {
      const record = await train(context, flags);
      if (flags.json) context.out(JSON.stringify(record, null, 2));
      else if (record.status === 'succeeded') {
        context.out(record.adapterId ?? record.hostedModelId ?? record.id);
      }
      if (record.status !== 'succeeded') process.exitCode = record.status === 'cancelled' ? 130 : 1;
    });
  const json = (options: { json?: boolean }) =>
    Boolean(options.json || finetune.opts<{ json?: boolean }>().json);

  finetune
    .command('ls')
    .description('list fine-tuning jobs (or, with --adapters, the trained adapters)')
    .option('--adapters', 'list registered adapters instead of jobs')
    .option('--json', 'machine-readable output')
    .action((options: { json?: boolean; adapters?: boolean }) => {
      const config = context.config();
      if (options.adapters) {
        const adapters = listAdapters(config);
        if (json(options)) return context.out(JSON.stringify(adapters, null, 2));
        if (!adapters.length)
          return context.out('No adapters yet. Train one with: attune finetune --data file.jsonl');
        for (const a of adapters) {
          const m = a.lineage.metrics;
          context.out(
            `${a.id.padEnd(16)} ${a.lineage.createdAt.slice(0, 16)}  base ${a.lineage.baseModel.name}  ` +
              `eval loss ${fmt(m.evalLossBefore)} → ${fmt(m.evalLossAfter)}  job ${a.lineage.jobId}`,
          );
        }
        return;
      }
      const jobs = context.attune().finetuneJobs().list();
      if (json(options)) return context.out(JSON.stringify(jobs, null, 2));
      if (!jobs.length)
        return context.out('No fine-tuning jobs yet. Start one with: attune finetune --data file.jsonl');
      for (const j of jobs) context.out(summaryLine(j));
    });

  finetune
    .command('show')
    .description('show one job: status, data, hyperparameters, metrics, adapter, loss chart')
    .argument('<id>', 'job id (ft-...)')
    .option('--json', 'machine-readable output')
    .option('--events', 'also print the event log')
    .action((id: string, options: { json?: boolean; events?: boolean }) => {
      const jobs = context.attune().finetuneJobs();
      const record = jobs.get(id);
      const events = options.events ? jobs.store.events(id) : undefined;
      if (json(options)) return context.out(JSON.stringify(events ? { ...record, events } : record, null, 2));
      context.out(describe(record));
      for (const e of events ?? []) context.out(`  ${e.at}  ${JSON.stringify({ ...e, at: undefined })}`);
    });

  finetune
    .command('cancel')
    .description('stop a running job; its worker saves a checkpoint first (resume continues from it)')
    .argument('<id>', 'job id')
    .option('--json', 'machine-readable output')
    .action(async (id: string, options: { json?: boolean }) => {
      const record = await context.attune().cancelFinetune(id);
      if (json(options)) context.out(JSON.stringify(record, null, 2));
      else
        context.out(`${id} ${record.status}${record.checkpoint ? ` (checkpoint ${record.checkpoint})` : ''}`);
    });

  finetune
    .command('resume')
    .description('continue a cancelled or failed job from its last checkpoint')
    .argument('<id>', 'job id')
    .option('--json', 'machine-readable output')
    .action(async (id: string, options: { json?: boolean }) => {
      const record = await withProgress(json(options), (run) => context.attune().resumeFinetune(id, run));
      if (json(options)) context.out(JSON.stringify(record, null, 2));
      else if (record.status === 'succeeded')
        context.out(record.adapterId ?? record.hostedModelId ?? record.id);
      if (record.status !== 'succeeded') process.exitCode = record.status === 'cancelled' ? 130 : 1;
    });

  const trainer = program.command('trainer').description('the local fine-tuning worker');
  trainer
    .command('setup')
    .description('create or update the Python environment of the local trainer (idempotent)')
    .option('--force', 're-install even when up to date')
    .action(async (options: { force?: boolean }) => {
      const result = await setupTrainer(context.config(), {
        force: Boolean(options.force),
        onProgress: (line) => process.stderr.write(`${line}\n`),
      });
      context.out(`${result.changed ? 'installed' : 'up to date'}: ${result.venv}`);
    });
}

/** Parse the flags, call `Attune.finetune`, render progress: the pipeline itself is the library's. */
async function train(context: CliContext, flags: TrainFlags): Promise<FinetuneJobRecord> {
  if (flags.raft && !flags.fromKb) throw new AttuneError('--raft only applies with --from-kb.');
  if (!flags.data && !flags.fromKb)
    throw new AttuneError('Nothing to train on: pass --data <file.jsonl> (or --from-kb).', {
      hint: 'attune finetune --data pairs.jsonl [--validation val.jsonl]',
    });
  if (flags.backend !== 'local' && flags.backend !== 'openai')
    throw new AttuneError(`Unknown fine-tuning backend "${flags.backend}".`, {
      hint: 'Use --backend local or --backend openai.',
    });
  const count = Number(flags.count ?? 200);
  if (flags.fromKb && (!Number.isInteger(count) || count < 4))
    throw new AttuneError(`--count must be an integer ≥ 4, got "${flags.count}".`);
  const bars = new ProgressBars({ enabled: !flags.json });
  return withProgress(Boolean(flags.json), (run) =>
    context.attune().finetune({
      ...run,
      ...(flags.data ? { data: flags.data } : {}),
      ...(flags.validation ? { validation: flags.validation } : {}),
      ...(flags.fromKb ? { fromKnowledgeBase: { count, ...(flags.raft ? { raft: true } : {}) } } : {}),
      ...(flags.base ? { base: flags.base } : {}),
      backend: flags.backend as 'local' | 'openai',
      hyperparameters: parseHyperparameters(flags),
      allowUnscanned: Boolean(flags.allowUnscanned),
      onGenerateProgress: (p) => bars.update('kb', 'examples generated', p.kept, p.target, 'examples'),
      onGenerated: (file) => {
        bars.stop();
        if (!flags.json) process.stderr.write(`generated examples from the knowledge base → ${file}\n`);
      },
      onCreated: (record) => {
        if (!flags.json)
          process.stderr.write(`job ${record.id}: training on ${record.dataset.examples} examples\n`);
      },
    }),
  );
}

/** Progress bars and Ctrl-C handling around a run: SIGINT/SIGTERM checkpoint and stop the worker. */
async function withProgress(
  quiet: boolean,
  start: (run: {
    abortSignal: AbortSignal;
    onEvent: (event: TrainingEvent, record: FinetuneJobRecord) => void;
  }) => Promise<FinetuneJobRecord>,
): Promise<FinetuneJobRecord> {
  const bars = new ProgressBars({ enabled: !quiet });
  const controller = new AbortController();
  const onSignal = () => {
    if (!quiet) process.stderr.write('\nstopping: saving a checkpoint...\n');
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let evalLoss: number | undefined;
  try {
    const final = await start({
      abortSignal: controller.signal,
      onEvent: (event, record) => {
        if (quiet) return;
        if (event.type === 'eval') evalLoss = event.evalLoss;
        if (event.type === 'started' && event.resumedFromStep) {
          process.stderr.write(`resuming at step ${event.resumedFromStep} of ${event.totalSteps}\n`);
        }
        if (event.type === 'step') {
          const label = `loss ${event.loss.toFixed(3)}${evalLoss !== undefined ? ` eval ${evalLoss.toFixed(3)}` : ''} | ${Math.round(event.tokensPerSecond)} tok/s`;
          bars.update(record.id, label, event.step, event.totalSteps, 'steps');
        }
        if (event.type === 'log') process.stderr.write(`  ${event.message}\n`);
      },
    });
    bars.stop();
    if (!quiet) process.stderr.write(`${describe(final)}\n`);
    return final;
  } finally {
    bars.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

function parseHyperparameters(flags: TrainFlags): Hyperparameters {
  const number = (value: string | undefined, name: string, fallback: number, integer: boolean): number => {
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!Number.isFinite(n) || (integer && !Number.isInteger(n))) {
      throw new AttuneError(`--${name} must be ${integer ? 'an integer' : 'a number'}, got "${value}".`);
    }
    return n;
  };
  const d = defaultHyperparameters;
  return {
    rank: number(flags.rank, 'rank', d.rank, true),
    alpha: number(flags.alpha, 'alpha', d.alpha, false),
    dropout: number(flags.dropout, 'dropout', d.dropout, false),
    targetModules: flags.targetModules
      ? flags.targetModules
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
      : [...d.targetModules],
    learningRate: number(flags.lr, 'lr', d.learningRate, false),
    epochs: number(flags.epochs, 'epochs', d.epochs, true),
    batchSize: number(flags.batchSize, 'batch-size', d.batchSize, true),
    gradientAccumulation: number(flags.gradAccum, 'grad-accum', d.gradientAccumulation, true),
    maxSeqLength: number(flags.maxSeqLength, 'max-seq-length', d.maxSeqLength, true),
    seed: number(flags.seed, 'seed', d.seed, true),
    checkpointEvery: number(flags.checkpointEvery, 'checkpoint-every', d.checkpointEvery, true),
    evalEvery: number(flags.evalEvery, 'eval-every', d.evalEvery, true),
    packing: flags.packing !== false,
  };
}

function summaryLine(j: FinetuneJobRecord): string {
  const progress = j.progress ? `${j.progress.step}/${j.progress.totalSteps} steps` : '';
  const result = j.adapterId ?? j.hostedModelId ?? (j.error ? j.error.split('\n')[0]!.slice(0, 60) : '');
  return `${j.id.padEnd(12)} ${j.status.padEnd(9)} ${j.createdAt.slice(0, 16)}  ${j.backend.padEnd(6)} ${j.baseModel.name.padEnd(24)} ${progress.padEnd(14)} ${result}`;
}

function describe(j: FinetuneJobRecord): string {
  const m = j.metrics ?? {};
  const lines = [
    `job ${j.id}: ${j.status}${j.progress ? ` at step ${j.progress.step}/${j.progress.totalSteps}` : ''}`,
    `  base model   ${j.baseModel.name}${j.baseModel.sha256 ? ` (sha256 ${j.baseModel.sha256.slice(0, 12)}…)` : ''}`,
    `  data         ${j.dataset.file} (${j.dataset.examples} examples, sha256 ${j.dataset.sha256.slice(0, 12)}…)${j.dataset.validationFile ? `; validation ${j.dataset.validationFile} (${j.dataset.validationExamples})` : ''}`,
    `  hyperparams  rank ${j.hyperparameters.rank}, alpha ${j.hyperparameters.alpha}, lr ${j.hyperparameters.learningRate}, epochs ${j.hyperparameters.epochs}, batch ${j.hyperparameters.batchSize}×${j.hyperparameters.gradientAccumulation}, modules ${j.hyperparameters.targetModules.join(',')}`,
    `  time         ${j.durationSeconds.toFixed(0)} s over ${j.attempts} attempt(s)`,
  ];
  if (j.metrics) {
    lines.push(
      `  loss         train ${fmt(m.trainLoss)}; eval ${fmt(m.evalLossBefore)} → ${fmt(m.evalLossAfter)}; ${fmt(m.tokensPerSecond, 0)} tokens/s`,
    );
  }
  if (j.adapterId)
    lines.push(`  adapter      ${j.adapterId}   (use: attune ask --adapter ${j.adapterId} "...")`);
  if (j.hostedModelId) lines.push(`  model        ${j.hostedModelId}`);
  if (j.checkpoint && j.status !== 'succeeded') lines.push(`  checkpoint   ${j.checkpoint}`);
  if (j.lossChart) lines.push(`  loss chart   ${j.lossChart}`);
  if (j.error) lines.push(`  error        ${j.error.replace(/\n/g, '\n               ')}`);
  if (j.status === 'cancelled' || j.status === 'failed')
    lines.push(`  resume with  attune finetune resume ${j.id}`);
  return lines.join('\n');
}

function fmt(n: number | undefined, digits = 3): string {
  return n === undefined || !Number.isFinite(n) ? '–' : n.toFixed(digits);
}
