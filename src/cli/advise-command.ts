import { readFileSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import {
  type AdviceAnswers,
  type AdviceQuestion,
  adviceQuestions,
  allowedValues,
  answerFromText,
  defaultPrices,
  type EvalRunMeasurements,
  formatAdvice,
  measurementsFromReport,
  parseAdviceAnswers,
  parseEvalRun,
  parsePartialAdviceAnswers,
  parsePriceTable,
  renderCostCurveSvg,
} from '../advise/index.ts';
import type { EvalReport } from '../eval/index.ts';
import { AttuneError } from '../models/model-error.ts';
import type { CliContext } from './cli-context.ts';

type AdviseFlags = {
  answers?: string;
  prices?: string;
  run?: string;
  svg?: string;
  json?: boolean;
} & Record<string, string | boolean | undefined>;

export function registerAdviseCommand(program: Command, context: CliContext): void {
  const command = program
    .command('advise')
    .description(
      'recommend RAG, fine-tuning or the hybrid from your answers and the eval, with a 12-month cost projection',
    )
    .option('--answers <file.json>', 'answers to the questions as JSON (flags override it)');
  for (const q of adviceQuestions) {
    if (q.kind === 'boolean') {
      command.option(`--${q.flag}`, q.prompt.toLowerCase());
      command.option(`--no-${q.flag}`, `the answer is no: ${q.prompt.toLowerCase()}`);
    } else
      command.option(
        `--${q.flag} <${q.kind === 'choice' ? 'choice' : 'n'}>`,
        `${q.prompt} (${allowedValues(q)})`,
      );
  }
  command
    .option(
      '--prices <file.json>',
      "price table: Attune's shape or LiteLLM's model_prices_and_context_window.json",
    )
    .option('--run <eval-run.json>', 'the JSON report of attune eval (its measured strategies)')
    .option('--svg <out.svg>', 'write the cumulative cost curves as an SVG chart')
    .option('--json', 'machine-readable advice on stdout')
    .action(async (flags: AdviseFlags) => {
      const answers = await collectAnswers(flags);
      const prices = flags.prices
        ? parsePriceTable(readJson(flags.prices, 'prices'), flags.prices)
        : defaultPrices;
      // A report file (of this or another machine), or a run id of this knowledge base; by
      // default the latest finished run.
      const file = flags.run && /\.json$/i.test(flags.run) ? readJson(flags.run, 'eval run') : undefined;
      const measurements: EvalRunMeasurements | undefined =
        file === undefined
          ? undefined
          : typeof file === 'object' && file !== null && 'summaries' in file
            ? measurementsFromReport(file as EvalReport)
            : parseEvalRun(file, flags.run!);
      const { advice, runId, paths } = await context.attune().advise({
        answers,
        prices,
        ...(measurements ? { measurements } : flags.run ? { run: flags.run } : {}),
      });
      if (runId) process.stderr.write(`measurements: eval run ${runId}\n`);
      else if (!measurements)
        process.stderr.write('measurements: none yet (attune eval <testset> measures them)\n');
      if (paths) process.stderr.write(`written: ${paths.advice}, ${paths.svg}, ${paths.html}\n`);
      if (flags.svg) {
        writeFileSync(flags.svg, renderCostCurveSvg(advice.costs));
        process.stderr.write(`cost curves written to ${flags.svg}\n`);
      }
      if (flags.json) {
        context.out(JSON.stringify({ answers, prices: prices.source, ...advice }, null, 2));
        return;
      }
      context.out(formatAdvice(advice));
      if (!flags.prices)
        context.out(`\nprices: ${prices.source} (assumptions; pass --prices to use your own)`);
    });
}

/** Answers from the file, then the flags over them, then prompts for the rest (on a terminal only). */
async function collectAnswers(flags: AdviseFlags): Promise<AdviceAnswers> {
  const source = flags.answers ?? 'the flags';
  const given: Record<string, unknown> = flags.answers
    ? { ...parsePartialAdviceAnswers(readJson(flags.answers, 'answers'), flags.answers) }
    : {};
  for (const q of adviceQuestions) {
    const value = flags[q.key];
    if (value === undefined) continue;
    given[q.key] = typeof value === 'boolean' ? value : answerFromText(q, value);
  }
  const missing = adviceQuestions.filter((q) => given[q.key] === undefined && !q.optional);
  if (missing.length && !process.stdin.isTTY)
    throw new AttuneError(`advise needs answers to: ${missing.map((q) => q.key).join(', ')}.`, {
      hint: `Pass ${missing.map(flagUsage).join(' ')}, or --answers <file.json>, or run it on a terminal to be asked.`,
    });
  const unasked = adviceQuestions.filter((q) => given[q.key] === undefined);
  if (unasked.length && process.stdin.isTTY) {
    // Prompts go to stderr so that --json output on stdout stays clean. Lines are read through the
    // iterator, which buffers what is typed (or pasted) ahead of a prompt instead of dropping it.
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    const lines = rl[Symbol.asyncIterator]();
    try {
      for (const q of unasked) {
        const value = await ask(lines, q);
        if (value !== undefined) given[q.key] = value;
      }
    } finally {
      rl.close();
    }
  }
  return parseAdviceAnswers(given, source);
}

async function ask(lines: AsyncIterator<string>, q: AdviceQuestion): Promise<unknown> {
  const hint =
    q.kind === 'boolean' ? 'yes/no' : q.kind === 'choice' ? q.choices!.join('/') : allowedValues(q);
  for (;;) {
    process.stderr.write(`${q.prompt} [${hint}${q.optional ? ', Enter to skip' : ''}] `);
    const line = await lines.next();
    if (line.done)
      throw new AttuneError(`advise stopped before ${q.key} was answered.`, {
        hint: `Pass ${flagUsage(q)}, or answer every question.`,
      });
    if (line.value.trim() === '' && q.optional) return undefined;
    try {
      return answerFromText(q, line.value);
    } catch {
      process.stderr.write(`  expected ${allowedValues(q)}\n`);
    }
  }
}

function flagUsage(q: AdviceQuestion): string {
  if (q.kind === 'boolean') return `--${q.flag}|--no-${q.flag}`;
  if (q.kind === 'choice') return `--${q.flag} ${q.choices!.join('|')}`;
  return `--${q.flag} <n>`;
}

function readJson(file: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new AttuneError(`Cannot read the ${what} file ${file}: ${(error as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new AttuneError(`The ${what} file ${file} is not valid JSON: ${(error as Error).message}`);
  }
}
