import type { Command } from 'commander';
import {
  type ChatExample,
  type DatasetFormat,
  type DatasetReport,
  type DatasetStats,
  type Distribution,
  datasetFormats,
  formatIssue,
  type ImportOptions,
  type PiiKind,
  type PrivacyReport,
  piiKinds,
  readableExamples,
  readDataset,
  redactedFileName,
  scanDatasetFile,
  splitDatasetFile,
  toChatJsonl,
  validateDatasetFile,
  writeChatJsonl,
} from '../finetune/index.ts';
import { AttuneError } from '../models/model-error.ts';
import type { Tokenizer } from '../models/model-spec.ts';
import type { CliContext } from './cli-context.ts';
import { parsePrincipal } from './knowledge-command.ts';
import { ProgressBars } from './progress.ts';

type ImportFlags = { format?: string; speakerRole?: string; system?: string };
type CheckFlags = ImportFlags & {
  json?: boolean;
  baseModel?: string;
  contextTokens?: string;
  minExamples?: string;
};

/** `attune dataset ...`: thin over src/finetune; every command has --json and exits 1 on errors. */
export function registerDatasetCommands(program: Command, context: CliContext): void {
  const dataset = program
    .command('dataset')
    .description('fine-tuning datasets: validate, inspect, scan for personal data, split, export, generate');

  const withImport = (command: Command, formatFlag = '--format <format>') =>
    command
      .option(
        formatFlag,
        `read the file as this format instead of detecting it (${datasetFormats.join(', ')})`,
      )
      .option(
        '--speaker-role <list>',
        'transcripts: speaker=role pairs, e.g. "Anna=assistant,Ticket bot=assistant" (default: agent/assistant/bot/support... → assistant, others → user)',
      )
      .option('--system <text>', 'system turn added to examples built from pairs and transcripts');
  const withChecks = (command: Command) =>
    withImport(command)
      .option(
        '--base-model <name>',
        'model whose tokenizer measures lengths (default: the configured chat model)',
      )
      .option(
        '--context-tokens <n>',
        "longest example allowed, in the base model's tokens (default: its context)",
      )
      .option('--min-examples <n>', 'fewer examples than this is an error', '10')
      .option('--json', 'machine-readable report on stdout');

  withChecks(dataset.command('validate').argument('<file>', 'dataset file (JSONL, JSON or CSV)'))
    .description('check a dataset before training: format, roles, empty turns, duplicates, lengths, size')
    .action(async (file: string, flags: CheckFlags) => {
      const report = await check(context, file, flags);
      if (flags.json) context.out(JSON.stringify(withoutExamples(report), null, 2));
      else {
        for (const issue of report.errors.slice(0, 50)) context.out(`error: ${formatIssue(issue)}`);
        if (report.errors.length > 50) context.out(`... and ${report.errors.length - 50} more errors`);
        for (const issue of report.warnings.slice(0, 20)) context.out(`warning: ${formatIssue(issue)}`);
        if (report.warnings.length > 20) context.out(`... and ${report.warnings.length - 20} more warnings`);
        context.out(
          `${report.ok ? 'ok' : 'invalid'}: ${report.stats.examples} examples, ${report.errors.length} errors, ${report.warnings.length} warnings`,
        );
      }
      if (!report.ok) process.exitCode = 1;
    });

  withChecks(dataset.command('stats').argument('<file>', 'dataset file'))
    .description("size, turns and token lengths per role in the base model's tokens")
    .action(async (file: string, flags: CheckFlags) => {
      const report = await check(context, file, flags);
      const importErrors = report.errors.filter((e) => e.code === 'format' || e.code === 'json');
      if (flags.json) context.out(JSON.stringify({ stats: report.stats, importErrors }, null, 2));
      else {
        renderStats(context, report.stats);
        if (importErrors.length > 0) context.out(`${importErrors.length} unreadable entries left out`);
      }
      if (importErrors.length > 0) process.exitCode = 1;
    });

  withImport(dataset.command('scan').argument('<file>', 'dataset file'))
    .description(
      'look for emails, phone numbers, card numbers, IBANs, secrets and names; record the result (training requires it); exits 1 when something is found and --redact is not given',
    )
    .option('--redact <out>', 'write a copy with findings replaced by [EMAIL], [PHONE], ... (chat JSONL)')
    .option('--kinds <list>', `kinds to look for (default all: ${piiKinds.join(',')})`)
    .option('--json', 'machine-readable report on stdout')
    .action(
      async (file: string, flags: ImportFlags & { redact?: string; kinds?: string; json?: boolean }) => {
        const kinds = flags.kinds ? parseKinds(flags.kinds) : undefined;
        const result = await scanDatasetFile(context.config(), file, {
          ...importOptions(flags),
          ...(kinds ? { kinds } : {}),
          ...(flags.redact ? { redactTo: flags.redact } : {}),
        });
        if (flags.json) {
          context.out(
            JSON.stringify(
              { record: result.record, redacted: result.redacted, findings: result.report.findings },
              null,
              2,
            ),
          );
        } else {
          renderScan(context, file, result.report);
          if (result.redacted) {
            context.out(
              `redacted copy: ${flags.redact} (${result.redacted.total} findings left after redaction) — train on this file`,
            );
          } else if (result.report.total > 0) {
            context.out(
              `to train on it, redact first: attune dataset scan ${file} --redact ${redactedFileName(file)}`,
            );
            if (result.report.counts.name > 0) {
              // Name detection is a heuristic that also flags public figures and places named after people.
              context.out(
                `names are found by patterns and a first-name list; if these are public figures, not personal data, rescan with --kinds ${piiKinds.filter((k) => k !== 'name').join(',')}`,
              );
            }
          }
        }
        const clean = result.redacted ? result.redacted.total === 0 : result.report.total === 0;
        if (!clean) process.exitCode = 1;
      },
    );

  withImport(dataset.command('split').argument('<file>', 'dataset file'))
    .description('seeded train/validation split; writes <name>.train.jsonl and <name>.validation.jsonl')
    .requiredOption('--validation-share <share>', 'share held out for validation, e.g. 0.1')
    .option('--seed <n>', 'the same seed gives the same split', '1')
    .option('--out-dir <dir>', 'where to write the two files (default: beside the input)')
    .option(
      '--keep-meta',
      "keep each example's meta (source, chunk ids); hosted services may reject the extra key",
    )
    .option('--json', 'machine-readable summary on stdout')
    .action(
      async (
        file: string,
        flags: ImportFlags & {
          validationShare: string;
          seed: string;
          outDir?: string;
          keepMeta?: boolean;
          json?: boolean;
        },
      ) => {
        const summary = await splitDatasetFile(file, {
          ...importOptions(flags),
          validationShare: parseNumber(flags.validationShare, '--validation-share'),
          seed: parseInteger(flags.seed, '--seed'),
          ...(flags.outDir ? { outDir: flags.outDir } : {}),
          keepMeta: flags.keepMeta === true,
        });
        if (flags.json) context.out(JSON.stringify(summary, null, 2));
        else {
          context.out(`train:      ${summary.train.file} (${summary.train.examples} examples)`);
          context.out(`validation: ${summary.validation.file} (${summary.validation.examples} examples)`);
        }
      },
    );

  withImport(
    dataset.command('export').argument('<file>', 'dataset file in any supported format'),
    '--from <format>',
  )
    .description('write the dataset as OpenAI chat JSONL ({"messages":[...]} per line, meta dropped)')
    .option('--format <format>', 'output format', 'openai')
    .option('--out <file>', 'output file (default: stdout)')
    .option('--json', 'machine-readable summary on stdout (with --out)')
    .action(async (file: string, flags: ImportFlags & { from?: string; out?: string; json?: boolean }) => {
      if (flags.format !== 'openai') {
        throw new AttuneError(`Unknown export format "${flags.format}".`, { hint: 'Supported: openai' });
      }
      const examples = readableExamples(
        // --format names the output here; --from forces the input format.
        await readDataset(file, importOptions({ ...flags, format: flags.from })),
      );
      if (flags.out) {
        await writeChatJsonl(flags.out, examples);
        if (flags.json) context.out(JSON.stringify({ file: flags.out, examples: examples.length }));
        else context.out(`wrote ${examples.length} examples to ${flags.out}`);
      } else {
        process.stdout.write(toChatJsonl(examples));
      }
    });

  dataset
    .command('generate')
    .description('generate training examples from the knowledge base: grounded Q&A pairs, or RAFT examples')
    .requiredOption('--from-kb', 'generate from the knowledge base (the only source today)')
    .option(
      '--raft',
      'RAFT examples: question + oracle chunk + retrieved distractors, answers quoting the oracle',
    )
    .requiredOption('--count <n>', 'examples wanted')
    .requiredOption('--out <file>', 'output chat JSONL (with meta: chunk and document ids)')
    .option(
      '--generator-model <name>',
      'chat model that writes the questions (default: the configured chat model)',
    )
    .option('--pairs-per-chunk <n>', 'question/answer pairs asked per chunk', '2')
    .option('--max-chunks <n>', 'at most this many chunks (model calls)')
    .option(
      '--grounding-threshold <share>',
      "share of the answer's words that must occur in the chunk",
      '0.8',
    )
    .option('--distractors <n>', 'RAFT: distractor documents per example', '4')
    .option('--oracle-share <share>', 'RAFT: share of examples whose documents include the oracle', '0.8')
    .option('--seed <n>', 'seed for sampling, shuffling and generation', '1')
    .option(
      '--principal <user[:group,group]>',
      'generate from what this user may read (default: public documents only)',
    )
    .option('--system <text>', 'system turn for every example')
    .option('--json', 'machine-readable summary on stdout')
    .action(async (flags: GenerateFlags) => {
      const count = parseInteger(flags.count, '--count');
      const bars = new ProgressBars({ enabled: !flags.json });
      const maxChunks = flags.maxChunks ? parseInteger(flags.maxChunks, '--max-chunks') : undefined;
      const pairsPerChunk = parseInteger(flags.pairsPerChunk, '--pairs-per-chunk');
      const generated = await context.attune().generateDataset({
        out: flags.out,
        count,
        pairsPerChunk,
        ...(maxChunks ? { maxChunks } : {}),
        groundingThreshold: parseNumber(flags.groundingThreshold, '--grounding-threshold'),
        seed: parseInteger(flags.seed, '--seed'),
        ...(flags.generatorModel ? { generatorModel: flags.generatorModel } : {}),
        ...(flags.principal !== undefined ? { principal: parsePrincipal(flags.principal) } : {}),
        ...(flags.system ? { system: flags.system } : {}),
        onProgress: (p: { chunks: number; kept: number; target: number }) => {
          bars.update(
            'chunks',
            'chunks read',
            p.chunks,
            maxChunks ?? Math.max(3, Math.ceil((3 * count) / pairsPerChunk)),
            'chunks',
          );
          bars.update('kept', 'pairs kept', p.kept, p.target, 'pairs');
        },
        ...(flags.raft
          ? {
              raft: {
                distractors: parseInteger(flags.distractors, '--distractors'),
                oracleShare: parseNumber(flags.oracleShare, '--oracle-share'),
                onRaftProgress: (p: { done: number; total: number }) =>
                  bars.update('raft', 'RAFT examples', p.done, p.total, 'examples'),
              },
            }
          : {}),
      });
      bars.stop();
      const { examples, qa, warnings, scan } = generated;
      const privacy = scan ? { total: scan.record.total, counts: scan.record.counts } : { total: 0 };
      const summary = {
        file: flags.out,
        kind: flags.raft ? 'raft' : 'qa',
        examples: examples.length,
        requested: count,
        chunksUsed: qa.chunksUsed,
        proposed: qa.generated,
        kept: qa.kept,
        dropped: qa.droppedByReason,
        droppedSamples: qa.dropped.slice(0, 10),
        oraclePresent: flags.raft ? examples.filter((e) => e.meta?.oraclePresent === true).length : undefined,
        warnings,
        privacy,
      };
      if (flags.json) context.out(JSON.stringify(summary, null, 2));
      else {
        const dropped = Object.entries(qa.droppedByReason)
          .filter(([, n]) => n > 0)
          .map(([r, n]) => `${n} ${r}`)
          .join(', ');
        context.out(
          `wrote ${examples.length} ${flags.raft ? 'RAFT' : 'Q&A'} examples to ${flags.out} (asked for ${count}); ${qa.chunksUsed} chunks read, ${qa.generated} pairs proposed, ${qa.kept} kept${dropped ? `, dropped: ${dropped}` : ''}`,
        );
        for (const d of qa.dropped.slice(0, 3)) {
          context.out(`  dropped (${d.reason}): ${d.question ?? ''} -> ${d.answer ?? d.detail ?? ''}`);
        }
        if (flags.raft)
          context.out(`oracle present in ${summary.oraclePresent} of ${examples.length} examples`);
        for (const w of warnings.slice(0, 5)) context.out(`warning: ${w}`);
        if (scan) {
          context.out(
            scan.record.total === 0
              ? 'privacy scan: nothing found'
              : `privacy scan: ${scan.record.total} findings; redact before training: attune dataset scan ${flags.out} --redact ${redactedFileName(flags.out)}`,
          );
        }
      }
      if (examples.length === 0) process.exitCode = 1;
    });
}

type GenerateFlags = {
  fromKb: boolean;
  raft?: boolean;
  count: string;
  out: string;
  generatorModel?: string;
  pairsPerChunk: string;
  maxChunks?: string;
  groundingThreshold: string;
  distractors: string;
  oracleShare: string;
  seed: string;
  principal?: string;
  system?: string;
  json?: boolean;
};

async function check(
  context: CliContext,
  file: string,
  flags: CheckFlags,
): Promise<DatasetReport & { examples: ChatExample[] }> {
  const config = context.config();
  const models = context.models();
  const baseModel = flags.baseModel ?? config.models.chat;
  const tokenizer: Tokenizer = await models.tokenizer(baseModel);
  const contextTokens = flags.contextTokens
    ? parseInteger(flags.contextTokens, '--context-tokens')
    : models.catalog.has(baseModel)
      ? models.catalog.get(baseModel).contextSize
      : undefined;
  return validateDatasetFile(file, {
    ...importOptions(flags),
    tokenizer,
    ...(contextTokens ? { contextTokens } : {}),
    minExamples: parseInteger(flags.minExamples ?? '10', '--min-examples'),
  });
}

function importOptions(flags: ImportFlags): ImportOptions {
  const options: ImportOptions = {};
  if (flags.format) {
    if (!datasetFormats.includes(flags.format as DatasetFormat)) {
      throw new AttuneError(`Unknown dataset format "${flags.format}".`, {
        hint: `Supported: ${datasetFormats.join(', ')}.`,
      });
    }
    options.format = flags.format as DatasetFormat;
  }
  if (flags.speakerRole) {
    options.speakerRoles = {};
    for (const pair of flags.speakerRole.split(',')) {
      const at = pair.lastIndexOf('=');
      const speaker = pair.slice(0, at).trim();
      const role = pair.slice(at + 1).trim();
      if (at <= 0 || !['system', 'user', 'assistant'].includes(role)) {
        throw new AttuneError(`--speaker-role "${pair}" is not speaker=role.`, {
          hint: 'Roles are system, user or assistant, e.g. --speaker-role "Anna=assistant,Ben=user"',
        });
      }
      options.speakerRoles[speaker] = role as 'system' | 'user' | 'assistant';
    }
  }
  if (flags.system) options.system = flags.system;
  return options;
}

function parseKinds(list: string): PiiKind[] {
  const kinds = list.split(',').map((k) => k.trim());
  for (const k of kinds) {
    if (!piiKinds.includes(k as PiiKind)) {
      throw new AttuneError(`Unknown kind "${k}".`, { hint: `Kinds: ${piiKinds.join(', ')}.` });
    }
  }
  return kinds as PiiKind[];
}

function parseNumber(value: string, flag: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n))
    throw new AttuneError(`${flag} must be a number; got "${value}".`);
  return n;
}

function parseInteger(value: string, flag: string): number {
  const n = parseNumber(value, flag);
  if (!Number.isInteger(n)) throw new AttuneError(`${flag} must be an integer; got "${value}".`);
  return n;
}

function withoutExamples(report: DatasetReport & { examples?: ChatExample[] }): DatasetReport {
  const { examples: _examples, ...rest } = report;
  return rest;
}

function renderStats(context: CliContext, stats: DatasetStats): void {
  const t = stats.turns;
  context.out(`examples: ${stats.examples}`);
  context.out(`turns:    ${t.total} (system ${t.system}, user ${t.user}, assistant ${t.assistant})`);
  context.out(`duplicates: ${stats.duplicates}`);
  const row = (label: string, d: Distribution) =>
    context.out(
      `  ${label.padEnd(15)} ${String(d.count).padStart(7)} ${String(d.min).padStart(7)} ${String(d.mean).padStart(8)} ${String(d.p95).padStart(7)} ${String(d.max).padStart(7)}`,
    );
  if (stats.tokens) {
    context.out(`tokens (${stats.tokens.tokenizer}, ChatML framing counted): ${stats.tokens.total} in all`);
    context.out(
      `  ${''.padEnd(15)} ${'count'.padStart(7)} ${'min'.padStart(7)} ${'mean'.padStart(8)} ${'p95'.padStart(7)} ${'max'.padStart(7)}`,
    );
    row('per example', stats.tokens.perExample);
    for (const role of ['system', 'user', 'assistant'] as const) {
      const d = stats.tokens.perRole[role];
      if (d) row(`${role} turn`, d);
    }
  }
  if (stats.longest) {
    context.out(
      `longest: example ${stats.longest.example + 1}${stats.longest.location ? ` (${stats.longest.location})` : ''}, ${stats.longest.tokens ?? '?'} tokens, ${stats.longest.characters} characters`,
    );
  }
}

function renderScan(context: CliContext, file: string, report: PrivacyReport): void {
  context.out(
    `${file}: ${report.total} findings in ${report.examplesWithFindings} of ${report.examples} examples`,
  );
  for (const kind of piiKinds) {
    const findings = report.findings.filter((f) => f.kind === kind);
    if (findings.length === 0) continue;
    context.out(`  ${kind.padEnd(7)} ${String(findings.length).padStart(5)}`);
    for (const f of findings.slice(0, 3)) {
      context.out(
        `      ${f.masked}  (${f.location ? `${f.location}, ` : ''}example ${f.example + 1}, ${f.role} turn ${f.turn}, ${f.detector})`,
      );
    }
  }
}
