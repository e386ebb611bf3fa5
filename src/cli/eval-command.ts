import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import {
  type EvalReport,
  formatSummaryTable,
  type PairedComparison,
  type PairedMetric,
  pairedMetrics,
  parseStrategyFile,
  type Strategy,
} from '../eval/index.ts';
import { AttuneError } from '../models/model-error.ts';
import type { CliContext } from './cli-context.ts';
import { positiveInt, printable } from './flags.ts';
import { parsePrincipal } from './knowledge-command.ts';
import { ProgressBars } from './progress.ts';

type EvalFlags = {
  strategies?: string;
  strategyFile?: string;
  adapter?: string;
  repeats?: string;
  seed?: string;
  freshness?: string;
  judgeModel?: string;
  principal?: string;
  resume?: string;
  json?: boolean;
};

export function registerEvalCommands(program: Command, context: CliContext): void {
  const testset = program.command('testset').description('frozen question sets to evaluate on');
  testset
    .command('import')
    .description('import questions (JSONL or CSV: id, question, answers, answerable, gold_doc_ids)')
    .argument('<file>', 'questions file (.jsonl or .csv)')
    .requiredOption('--name <name>', 'test-set name')
    .option('--overwrite', 'replace a test set of the same name')
    .option('--json', 'machine-readable result')
    .action(async (file: string, flags: { name: string; overwrite?: boolean; json?: boolean }) => {
      const set = await context
        .attune()
        .importTestSet(file, { name: flags.name, overwrite: flags.overwrite ?? false });
      if (flags.json) return context.out(JSON.stringify(describe(set)));
      context.out(
        `test set ${set.name}: ${set.questions.length} questions (${set.questions.filter((q) => !q.answerable).length} unanswerable), frozen at knowledge-base version ${set.kbVersion ?? '–'}, sha256 ${set.contentSha256.slice(0, 12)}`,
      );
    });
  testset
    .command('generate')
    .description(
      'generate questions from the knowledge base (kept only when retrieval finds their own chunk)',
    )
    .requiredOption('--name <name>', 'test-set name')
    .option('--count <n>', 'questions wanted', '20')
    .option('--seed <n>', 'sampling seed', '1')
    .option('--overwrite', 'replace a test set of the same name')
    .option('--json', 'machine-readable result')
    .action(
      async (flags: { name: string; count: string; seed: string; overwrite?: boolean; json?: boolean }) => {
        const bars = new ProgressBars();
        const count = positiveInt(flags.count, '--count');
        const set = await context.attune().generateTestSet({
          name: flags.name,
          count,
          seed: positiveInt(flags.seed, '--seed'),
          overwrite: flags.overwrite ?? false,
          onProgress: (p) => bars.update('gen', 'questions kept', p.kept, p.target, 'q'),
        });
        bars.stop();
        if (flags.json) return context.out(JSON.stringify(describe(set)));
        context.out(`test set ${set.name}: ${set.questions.length} questions generated and kept`);
        context.out(JSON.stringify(set.generation));
      },
    );
  testset
    .command('show')
    .description('a test set: its hash, version and questions')
    .argument('[name]', 'test-set name (omit to list them)')
    .option('--json', 'machine-readable result')
    .action((name: string | undefined, flags: { json?: boolean }) => {
      const store = context.attune().testSets();
      if (!name) {
        const names = store.list();
        if (flags.json) return context.out(JSON.stringify(names));
        return context.out(
          names.length ? names.join('\n') : 'no test sets; attune testset import <file> --name <name>',
        );
      }
      const set = store.load(name);
      if (flags.json) return context.out(JSON.stringify(set));
      context.out(
        printable(
          `${set.name} · ${set.questions.length} questions · origin ${set.origin} · kb v${set.kbVersion ?? '–'} · sha256 ${set.contentSha256}`,
        ),
      );
      for (const q of set.questions.slice(0, 50))
        context.out(
          printable(`  ${q.id}  ${q.question}  → ${q.answerable ? q.answers.join(' | ') : '(unanswerable)'}`),
        );
      if (set.questions.length > 50) context.out(`  … ${set.questions.length - 50} more (--json for all)`);
    });

  const evaluate = program
    .command('eval')
    .description('answer a test set with several strategies and measure them (JSON + HTML report)')
    .argument('[testset]', 'test-set name or .json file')
    .option('--strategies <list>', 'base,rag,ft,hybrid,extractive (kind@model for another model)', 'base,rag')
    .option(
      '--strategy-file <file.json>',
      'strategies with every setting (name, kind, chatModel, adapter, k, ...)',
    )
    .option('--adapter <id|file.gguf>', 'adapter for ft and hybrid (default: newest trained on the model)')
    .option('--repeats <n>', 'answer every question n times (cache off) to see run-to-run spread', '1')
    .option('--seed <n>', 'seed of the bootstrap intervals', '1')
    .option('--freshness <n>', 'also change a fact in n documents (on a copy) and ask again')
    .option('--judge-model <name>', 'a chat model that also grades correctness')
    .option('--principal <user[:group,group]>', 'answer as this reader (default: admin view)')
    .option('--resume <run>', 'continue an interrupted run without redoing finished questions')
    .option('--json', 'the report as JSON on stdout')
    .action(async (name: string | undefined, flags: EvalFlags) => {
      if (!name && !flags.resume)
        throw new AttuneError('Which test set?', {
          hint: 'attune eval <testset> (see attune testset show), or --resume <run>.',
        });
      const strategies: Strategy[] | string = flags.strategyFile
        ? parseStrategyFile(readJson(flags.strategyFile), flags.strategyFile)
        : (flags.strategies ?? 'base,rag');
      const bars = new ProgressBars();
      const { report, paths } = await context.attune().evaluate({
        testSet: name ?? '',
        strategies,
        ...(flags.adapter ? { adapter: flags.adapter } : {}),
        repeats: positiveInt(flags.repeats ?? '1', '--repeats'),
        seed: positiveInt(flags.seed ?? '1', '--seed'),
        ...(flags.freshness ? { freshness: positiveInt(flags.freshness, '--freshness') } : {}),
        ...(flags.judgeModel ? { judgeModel: flags.judgeModel } : {}),
        ...(flags.principal !== undefined ? { principal: parsePrincipal(flags.principal) } : {}),
        ...(flags.resume ? { resume: flags.resume } : {}),
        onProgress: (p) =>
          bars.update(
            p.strategy,
            `${p.strategy}${p.failed ? ` (${p.failed} failed)` : ''}`,
            p.done,
            p.total,
            'q',
          ),
        onFreshnessProgress: (done, total) => bars.update('freshness', 'freshness probe', done, total, 'q'),
      });
      bars.stop();
      if (flags.json) return context.out(JSON.stringify(report));
      printReport(context, report);
      context.out(`\nrun ${report.config.id}\n  ${paths.json}\n  ${paths.html ?? ''}`);
    });
  evaluate
    .command('compare')
    .description('paired comparison of two runs, or of two strategies (run:strategy)')
    .argument('<a>', 'run id, or run:strategy')
    .argument('<b>', 'run id, or run:strategy')
    .option('--metric <metric>', `${Object.keys(pairedMetrics).join(', ')}`, 'f1')
    .option('--json', 'machine-readable result')
    .action((a: string, b: string, _flags: unknown, command: Command) => {
      // `eval` has a --json of its own; commander hands the flag to the parent, so read both.
      const flags = command.optsWithGlobals<{ metric: string; json?: boolean }>();
      if (!(flags.metric in pairedMetrics))
        throw new AttuneError(`--metric "${flags.metric}" is not a metric.`, {
          hint: `Use one of: ${Object.keys(pairedMetrics).join(', ')}`,
        });
      const { comparison, sameTestSet } = context
        .attune()
        .evalRuns()
        .compare(a, b, flags.metric as PairedMetric);
      if (!sameTestSet)
        process.stderr.write(
          'warning: the two runs used different test sets; only questions with the same id are paired\n',
        );
      if (flags.json) return context.out(JSON.stringify(comparison));
      printComparison(context, comparison);
    });
  evaluate
    .command('report')
    .description("recompute a run's report (JSON + HTML) from its stored answers")
    .argument('<run>', 'run id')
    .action((run: string, _flags: unknown, command: Command) => {
      const { report, paths } = context.attune().rebuildReport(run);
      if (command.optsWithGlobals<{ json?: boolean }>().json) return context.out(JSON.stringify(report));
      printReport(context, report);
      context.out(`  ${paths.json}\n  ${paths.html ?? ''}`);
    });
  evaluate
    .command('ls')
    .description('eval runs, oldest first')
    .option('--json', 'machine-readable result')
    .action((_flags: unknown, command: Command) => {
      const flags = command.optsWithGlobals<{ json?: boolean }>();
      const runs = context.attune().evalRuns();
      const rows = runs.list().map((id) => {
        const c = runs.config(id);
        return {
          id,
          testSet: c.testSet.name,
          strategies: c.strategies.map((s) => s.name),
          answered: runs.outcomes(id).length,
        };
      });
      if (flags.json) return context.out(JSON.stringify(rows));
      for (const r of rows)
        context.out(printable(`${r.id}  ${r.testSet}  ${r.strategies.join(',')}  ${r.answered} answers`));
    });
}

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new AttuneError(`${path}: ${(error as Error).message}`, { hint: 'Give a readable JSON file.' });
  }
}

function describe(set: {
  name: string;
  questions: unknown[];
  kbVersion: number | undefined;
  contentSha256: string;
  origin: string;
}) {
  return {
    name: set.name,
    questions: set.questions.length,
    kbVersion: set.kbVersion,
    contentSha256: set.contentSha256,
    origin: set.origin,
  };
}

function printReport(context: CliContext, report: EvalReport): void {
  context.out(formatSummaryTable(report.summaries));
  for (const note of report.config.notes) context.out(`note: ${note}`);
  for (const c of report.comparisons.filter((x) => x.metric === 'f1')) printComparison(context, c);
  const freshness = report.freshness as
    | { strategies: { strategy: string; fresh: number; probes: number }[] }
    | undefined;
  if (freshness)
    context.out(
      `freshness: ${freshness.strategies.map((f) => `${f.strategy} ${f.fresh}/${f.probes} fresh`).join(', ')}`,
    );
}

function printComparison(context: CliContext, c: PairedComparison): void {
  context.out(
    printable(
      `${c.b} − ${c.a} (${c.metric}, ${c.matched} pairs): ${c.meanDelta.toFixed(3)} [${c.low.toFixed(3)}, ${c.high.toFixed(3)}], p = ${c.pValue.toFixed(4)}; ${c.regressions.length} regressions, ${c.improvements.length} improvements`,
    ),
  );
  if (c.unmatched.length) context.out(`  ${c.unmatched.length} questions only on one side`);
  for (const r of c.regressions.slice(0, 5))
    context.out(printable(`  regression ${r.questionId}: ${r.a.toFixed(2)} → ${r.b.toFixed(2)}`));
}
