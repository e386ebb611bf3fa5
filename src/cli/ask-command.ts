import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { type AnswerResult, answerJson } from '../answer/index.ts';
import type { AuditRecord } from '../audit/index.ts';
import { resolveAdapter } from '../finetune/adapter-registry.ts';
import { AttuneError } from '../models/model-error.ts';
import type { CliContext } from './cli-context.ts';
import { positiveInt, printable, printableText } from './flags.ts';
import { parsePrincipal } from './knowledge-command.ts';

type AskFlags = {
  json?: boolean;
  principal?: string;
  k?: string;
  rerank?: boolean;
  adapter?: string;
  retrieval?: boolean;
  cache?: boolean;
  maxTokens?: string;
  mode?: string;
};

export function registerAskCommands(program: Command, context: CliContext): void {
  program
    .command('ask')
    .description('answer a question from the knowledge base, with numbered sources')
    .argument('<question>', 'the question (quote it)')
    .option('--principal <user[:group,group]>', 'answer as this reader (default: admin view)')
    .option('--k <n>', 'evidence passages retrieved', '5')
    .option('--no-rerank', 'skip the reranker')
    .option('--adapter <id|path>', 'LoRA adapter on the chat model (fine-tuned; with retrieval: the hybrid)')
    .option('--no-retrieval', 'the model alone, no knowledge base (to try a fine-tuned adapter)')
    .option('--no-cache', 'do not reuse an earlier answer')
    .option('--max-tokens <n>', 'longest answer, in tokens', '128')
    .option(
      '--mode <mode>',
      'generate (the chat model answers) or extractive (the best source sentence, no generation)',
      'generate',
    )
    .option('--json', 'machine-readable result on stdout')
    .action(async (question: string, flags: AskFlags) => {
      const principal = parsePrincipal(flags.principal);
      if (flags.mode !== 'generate' && flags.mode !== 'extractive')
        throw new AttuneError(`--mode "${flags.mode}" is not a mode.`, {
          hint: 'Use generate or extractive.',
        });
      const adapter = flags.adapter ? resolveAdapter(context.config(), flags.adapter) : undefined;
      const answerer = await context.attune().answerer();
      let result: AnswerResult | undefined;
      let streamed = '';
      for await (const part of answerer.stream(question, {
        principal,
        k: positiveInt(flags.k, '--k'),
        rerank: flags.rerank !== false,
        retrieval: flags.retrieval !== false,
        cache: flags.cache !== false,
        maxTokens: positiveInt(flags.maxTokens, '--max-tokens'),
        mode: flags.mode,
        ...(adapter ? { adapter } : {}),
      })) {
        if (part.type === 'text-delta' && !flags.json) {
          process.stdout.write(printableText(part.delta));
          streamed += part.delta;
        } else if (part.type === 'done') result = part.result;
      }
      if (!result) return;
      if (flags.json) {
        context.out(JSON.stringify(answerJson(result), null, 2));
        return;
      }
      // What streamed was the model's draft; say what became of it.
      if (streamed.trim() !== result.answer.trim()) {
        if (streamed) process.stdout.write('\n');
        context.out(
          result.abstained
            ? `\n${printableText(result.answer)} (${describeAbstention(result)})`
            : `\nWith sources: ${printableText(result.answer)}`,
        );
      } else context.out('');
      for (const w of result.warnings) process.stderr.write(`warning: ${w}\n`);
      if (result.closest) {
        const c = result.closest;
        const before = c.passage.slice(Math.max(0, c.start - 160), c.start).replace(/\s+/g, ' ');
        const after = c.passage.slice(c.end, c.end + 160).replace(/\s+/g, ' ');
        context.out(`\nNot an answer — the closest passage, [${c.n}] ${printable(c.title)}:`);
        context.out(
          `  ${c.start > 160 ? '…' : ''}${before}»${c.sentence}«${after}${c.end + 160 < c.passage.length ? '…' : ''}`,
        );
      }
      if (result.sources.length) {
        context.out(result.abstained ? '\nClosest sources:' : '\nSources:');
        for (const s of result.sources) {
          const cited = result.citations.some((c) => c.n === s.n) ? '*' : ' ';
          context.out(
            `${cited}[${s.n}] ${printable(s.title)}${s.location ? ` › ${printable(s.location)}` : ''} (${printable(s.source)}, v${s.version})`,
          );
          context.out(`      ${printable(s.snippet)}`);
        }
      }
      context.out(
        `\naudit ${result.auditId}${result.cached ? ' (cached answer)' : ''} · knowledge base v${result.kbVersion ?? '-'} · ${Math.round(result.timings.totalMs)} ms`,
      );
    });

  const audit = program.command('audit').description('the record of every answer');
  audit
    .command('ls')
    .description('recent answers (a reader sees only their own; the default admin view sees all)')
    .option('--principal <user[:group,group]>', 'list as this reader')
    .option('--limit <n>', 'most records shown', '20')
    .option('--status <status>', 'answered, abstained or failed')
    .option('--since <iso>', 'only records at or after this time')
    .option('--json', 'machine-readable output')
    .action(
      async (flags: {
        principal?: string;
        limit?: string;
        status?: string;
        since?: string;
        json?: boolean;
      }) => {
        const log = await context.attune().audit();
        if (flags.status && !['answered', 'abstained', 'failed'].includes(flags.status))
          throw new AttuneError(`--status "${flags.status}" is not a status.`, {
            hint: 'Use answered, abstained or failed.',
          });
        const records = await log.list(parsePrincipal(flags.principal), {
          limit: positiveInt(flags.limit, '--limit'),
          ...(flags.status ? { status: flags.status as AuditRecord['status'] } : {}),
          ...(flags.since ? { since: flags.since } : {}),
        });
        if (flags.json) {
          context.out(JSON.stringify(records, null, 2));
          return;
        }
        for (const r of records) {
          context.out(
            `${r.id}  ${r.time}  ${printable(r.principal.user).padEnd(12)} ${r.status.padEnd(9)} ${printable(r.question.slice(0, 60))}`,
          );
        }
        context.out(`${records.length} record(s)`);
      },
    );
  audit
    .command('show')
    .argument('<id>', 'audit id (printed by attune ask, listed by audit ls)')
    .option('--principal <user[:group,group]>', 'read as this reader')
    .option('--documents', 'also print each cited document as it was when the answer was given')
    .option('--json', 'machine-readable output')
    .action(async (id: string, flags: { principal?: string; documents?: boolean; json?: boolean }) => {
      const attune = context.attune();
      const principal = parsePrincipal(flags.principal);
      const record = await (await attune.audit()).get(id, principal);
      if (!record)
        throw new AttuneError(`No audit record "${id}" is visible to ${principal.user}.`, {
          hint: 'List records with: attune audit ls',
        });
      const documents = flags.documents ? await attune.documentsAt(record) : undefined;
      if (flags.json) {
        context.out(JSON.stringify(documents ? { ...record, documents } : record, null, 2));
        return;
      }
      const t = record.timings;
      context.out(
        `${record.id} · ${record.time} · ${printable(record.principal.user)} · ${record.status}${record.abstainReason ? ` (${record.abstainReason})` : ''}`,
      );
      context.out(`question: ${printable(record.question)}`);
      context.out(`answer:   ${printableText(record.answer)}`);
      if (record.error) context.out(`error:    ${record.error.name}: ${record.error.message}`);
      context.out(
        `model ${record.model.id}${record.model.adapter ? ` + adapter ${record.model.adapter.id}` : ''} · mode ${record.mode} · knowledge base v${record.kbVersion ?? '-'} · prompt ${record.prompt.tokens}/${record.prompt.contextSize} tokens · out ${record.usage.outputTokens}`,
      );
      context.out(
        `groundedness ${record.groundedness.score.toFixed(2)} · retrieval confidence ${record.retrievalConfidence?.toFixed(2) ?? '-'}${record.cachedFrom ? ` · cached from ${record.cachedFrom}` : ''}`,
      );
      context.out(
        `timings ms: embed ${t.embedMs.toFixed(0)} · search ${t.searchMs.toFixed(0)} · rerank ${t.rerankMs.toFixed(0)}${t.verifyMs === undefined ? '' : ` · verify ${t.verifyMs.toFixed(0)}`} · first token ${t.firstTokenMs?.toFixed(0) ?? '-'} · generate ${t.generateMs.toFixed(0)} · total ${t.totalMs.toFixed(0)}`,
      );
      context.out('evidence:');
      for (const e of record.evidence) {
        const scores = Object.entries(e.scores)
          .map(([k, v]) => `${k} ${v.toFixed(3)}`)
          .join(', ');
        context.out(
          `  ${e.n ? `[${e.n}]` : ' - '} ${printable(e.chunkId)} v${e.chunkVersion} sha256:${e.contentHash.slice(0, 12)} rank ${e.rank} (${scores})${e.excluded ? ` excluded: ${e.excluded}` : ''}`,
        );
      }
      for (const s of record.groundedness.sentences) {
        context.out(
          `  ${s.supported ? 'supported  ' : 'unsupported'} lexical ${s.lexicalSupport.toFixed(2)} semantic ${s.semanticSupport.toFixed(2)} [${s.cited.join(',')}] ${printable(s.text)}`,
        );
      }
      for (const d of documents ?? []) {
        context.out(`\n--- ${printable(d.docId)} as at v${d.version} ---`);
        context.out(
          d.text === undefined ? '(no longer visible or pruned from history)' : printableText(d.text),
        );
      }
    });
  audit
    .command('export')
    .description('every visible record as JSON lines')
    .option('--principal <user[:group,group]>', 'export as this reader')
    .option('--out <file>', 'write to a file instead of stdout')
    .action(async (flags: { principal?: string; out?: string }) => {
      const records = await (await context.attune().audit()).list(parsePrincipal(flags.principal));
      const lines = records.map((r) => JSON.stringify(r)).join('\n') + (records.length ? '\n' : '');
      if (flags.out) {
        writeFileSync(flags.out, lines);
        process.stderr.write(`${records.length} record(s) written to ${flags.out}\n`);
      } else process.stdout.write(lines);
    });
}

function describeAbstention(result: AnswerResult): string {
  switch (result.abstainReason) {
    case 'low-retrieval-confidence':
      return 'nothing you may read matches the question closely enough';
    case 'not-grounded':
      return 'the draft answer was not supported by its sources';
    case 'model-declined':
      return 'the model found no answer in the sources';
    case 'degenerate':
      return 'the draft was not an answer (a loop, an echo of the question, or a bare title)';
    default:
      return 'no readable evidence';
  }
}
