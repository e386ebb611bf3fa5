import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import {
  type Article,
  type Draft,
  EDITORIAL_STAGES,
  type EditorialDesk,
  type PublishTarget,
  type RunSummary,
} from '../editorial/index.ts';
import { toChatJsonl } from '../finetune/index.ts';
import { AttuneError } from '../models/model-error.ts';
import type { CliContext } from './cli-context.ts';
import { positiveInt, printable } from './flags.ts';
import { ProgressBars } from './progress.ts';

type DeskFlags = { desk: string; json?: boolean };

const TARGETS: PublishTarget[] = ['markdown', 'docx', 'webhook'];

export function registerEditorialCommands(program: Command, context: CliContext): void {
  const editorial = program
    .command('editorial')
    .description('the editorial desk: feeds → relevance → drafts → fact-check → review → publish');
  const desk = (flags: DeskFlags, chatModel?: string) =>
    context.attune().editorial(flags.desk, chatModel ? { chatModel } : {});
  const withDesk = (c: Command) =>
    c.requiredOption('--desk <file>', 'the desk file (JSON)').option('--json', 'machine-readable output');

  withDesk(editorial.command('poll'))
    .description('read the feeds once (or every --every minutes) and store new items')
    .option('--every <minutes>', 'keep polling at this interval until interrupted')
    .action(async (flags: DeskFlags & { every?: string }) => {
      const d = await desk(flags);
      const once = async () => {
        const bars = new ProgressBars({ enabled: !flags.json });
        const result = await d.poll({
          onProgress: (p) =>
            bars.update(p.stage, p.stage, p.done, p.total, p.stage === 'poll' ? 'feeds' : 'items'),
        });
        bars.stop();
        const out = {
          fetched: result.fetched,
          new: result.added.length,
          updated: result.updated.length,
          duplicates: result.duplicates,
          feeds: result.feeds,
        };
        if (flags.json) context.out(JSON.stringify(out, null, 2));
        else {
          renderFeeds(context, result.feeds);
          context.out(
            `${out.fetched} fetched, ${out.new} new, ${out.updated} updated, ${out.duplicates} duplicates`,
          );
        }
        if (result.feeds.some((f) => !f.ok)) process.exitCode = 1;
      };
      if (!flags.every) return once();
      const everyMs = positiveInt(flags.every, '--every') * 60_000;
      const controller = new AbortController();
      process.once('SIGINT', () => controller.abort());
      while (!controller.signal.aborted) {
        await once();
        await new Promise((r) => {
          const t = setTimeout(r, everyMs);
          controller.signal.addEventListener('abort', () => {
            clearTimeout(t);
            r(undefined);
          });
        });
      }
    });

  withDesk(editorial.command('run'))
    .description(
      'the whole pipeline once: poll, classify (cached), cluster, draft, fact-check, queue for review',
    )
    .option('--max-drafts <n>', 'write at most n articles this run')
    .option('--skip-poll', 'do not read the feeds; work on stored items')
    .action(async (flags: DeskFlags & { maxDrafts?: string; skipPoll?: boolean }) => {
      const d = await desk(flags);
      const bars = new ProgressBars({ enabled: !flags.json });
      const summary = await d.run({
        ...(flags.maxDrafts ? { maxDrafts: positiveInt(flags.maxDrafts, '--max-drafts') } : {}),
        ...(flags.skipPoll ? { skipPoll: true } : {}),
        onProgress: (p) => bars.update(p.stage, p.stage.padEnd(10), p.done, p.total, unitOf(p.stage)),
      });
      bars.stop();
      if (flags.json) context.out(JSON.stringify(summary, null, 2));
      else renderRun(context, summary);
      if (summary.failedFeeds > 0 || summary.draftFailures.length > 0) process.exitCode = 1;
    });

  withDesk(editorial.command('review'))
    .description('the review queue, or one draft with its sources, flags and edits')
    .argument('[id]', 'a draft id')
    .option('--all', 'every draft, not only those waiting')
    .action(async (id: string | undefined, flags: DeskFlags & { all?: boolean }) => {
      const d = await desk(flags);
      if (id) {
        const draft = d.draft(id);
        const log = d.log(id);
        if (flags.json) context.out(JSON.stringify({ draft, log }, null, 2));
        else renderDraft(context, draft, log);
        return;
      }
      const list = flags.all ? d.drafts() : d.queue();
      if (flags.json) context.out(JSON.stringify(list.map(brief), null, 2));
      else {
        for (const x of list.map(brief))
          context.out(
            `${x.id}  ${x.state.padEnd(9)} ${String(x.flags).padStart(2)} flag(s)  ${printable(x.headline)}`,
          );
        context.out(`${list.length} draft(s)${flags.all ? '' : ' waiting'}`);
      }
    });

  withDesk(editorial.command('edit'))
    .description("an editor's changes as a new revision (the diff is logged)")
    .argument('<id>', 'draft id')
    .requiredOption('--editor <name>', 'who edits')
    .option('--file <article.json>', 'the article (headline, lead, paragraphs, insights) as JSON')
    .option('--headline <text>', 'a new headline')
    .option('--lead <text>', 'a new lead (keeps its sources)')
    .action(
      async (
        id: string,
        flags: DeskFlags & { editor: string; file?: string; headline?: string; lead?: string },
      ) => {
        const d = await desk(flags);
        const current = d.draft(id);
        let changes: Partial<Article> = {};
        if (flags.file) {
          try {
            changes = JSON.parse(readFileSync(flags.file, 'utf8')) as Partial<Article>;
          } catch (error) {
            throw new AttuneError(`${flags.file}: not a JSON article (${(error as Error).message}).`);
          }
        }
        if (flags.headline) changes.headline = flags.headline;
        if (flags.lead) changes.lead = { ...current.article.lead, text: flags.lead };
        const draft = await d.edit(id, flags.editor, changes);
        const action = d.log(id).at(-1)!;
        if (flags.json) context.out(JSON.stringify({ draft: brief(draft), diff: action.diff }, null, 2));
        else
          context.out(
            `${draft.id} revision ${draft.revision} by ${printable(flags.editor)}\n${printable(action.diff ?? '')}\n${draft.flags.length} flag(s) after re-check`,
          );
      },
    );

  withDesk(editorial.command('approve'))
    .argument('<id>', 'draft id')
    .requiredOption('--editor <name>', 'who approves')
    .action(async (id: string, flags: DeskFlags & { editor: string }) => {
      const draft = (await desk(flags)).approve(id, flags.editor);
      if (flags.json) context.out(JSON.stringify(brief(draft), null, 2));
      else
        context.out(
          `${draft.id} approved at revision ${draft.revision} by ${printable(flags.editor)}${draft.flags.length ? ` (${draft.flags.length} fact-check flag(s) acknowledged)` : ''}`,
        );
    });

  withDesk(editorial.command('reject'))
    .argument('<id>', 'draft id')
    .requiredOption('--editor <name>', 'who rejects')
    .requiredOption('--reason <text>', 'why')
    .action(async (id: string, flags: DeskFlags & { editor: string; reason: string }) => {
      const draft = (await desk(flags)).reject(id, flags.editor, flags.reason);
      if (flags.json) context.out(JSON.stringify(brief(draft), null, 2));
      else context.out(`${draft.id} rejected by ${printable(flags.editor)}: ${printable(flags.reason)}`);
    });

  withDesk(editorial.command('publish'))
    .description('publish an approved draft (each target once; a failed one can be retried)')
    .argument('<id>', 'draft id')
    .requiredOption('--editor <name>', 'who publishes')
    .option(
      '--to <targets>',
      `comma-separated: ${TARGETS.join(', ')} (default markdown,docx and the webhook when set)`,
    )
    .action(async (id: string, flags: DeskFlags & { editor: string; to?: string }) => {
      const targets = flags.to?.split(',').map((t) => t.trim()) as PublishTarget[] | undefined;
      const bad = targets?.find((t) => !TARGETS.includes(t));
      if (bad)
        throw new AttuneError(`--to: unknown target "${bad}".`, { hint: `Use ${TARGETS.join(', ')}.` });
      const { draft, results } = await (await desk(flags)).publish(id, {
        editor: flags.editor,
        ...(targets ? { targets } : {}),
      });
      if (flags.json) context.out(JSON.stringify({ draft: brief(draft), results }, null, 2));
      else
        for (const r of results)
          context.out(
            `${r.target.padEnd(8)} ${r.status.padEnd(9)} ${printable(r.location ?? r.error ?? '')}`,
          );
      if (results.some((r) => r.status === 'failed')) process.exitCode = 1;
    });

  withDesk(editorial.command('log'))
    .description('the editorial log: who drafted, edited, approved, rejected and published what, when')
    .argument('[id]', 'only this draft')
    .action(async (id: string | undefined, flags: DeskFlags) => {
      const log = (await desk(flags)).log(id);
      if (flags.json) context.out(JSON.stringify(log, null, 2));
      else
        for (const a of log)
          context.out(
            `${a.time}  ${a.action.padEnd(14)} ${a.draftId} r${a.revision}  ${printable(a.actor)}${a.reason ? `  ${printable(a.reason)}` : ''}${a.target ? `  ${a.target}` : ''}${a.error ? `  ${printable(a.error)}` : ''}`,
          );
    });

  withDesk(editorial.command('dataset'))
    .description("the desk's example articles as a chat fine-tuning dataset (JSONL)")
    .requiredOption('--out <file.jsonl>', 'where to write it')
    .action(async (flags: DeskFlags & { out: string }) => {
      const examples = (await desk(flags)).fineTuningExamples();
      writeFileSync(flags.out, toChatJsonl(examples));
      context.out(`${examples.length} example(s) written to ${flags.out}`);
    });
}

function unitOf(stage: string): string {
  return stage === 'poll'
    ? 'feeds'
    : stage === 'cluster'
      ? 'clusters'
      : stage === 'draft'
        ? 'drafts'
        : stage === 'fact-check'
          ? 'drafts'
          : 'items';
}

function brief(d: Draft) {
  return {
    id: d.id,
    state: d.state,
    revision: d.revision,
    headline: d.article.headline,
    sources: d.sources.length,
    flags: d.flags.length,
    createdAt: d.createdAt,
  };
}

function renderFeeds(context: CliContext, feeds: RunSummary['feeds']): void {
  for (const f of feeds) {
    context.out(
      f.ok
        ? `  ${printable(f.feed)}: ${f.format}, ${f.listed} listed, ${f.new} new, ${f.duplicates} duplicate(s)`
        : `  ${printable(f.feed)}: FAILED — ${printable(f.error ?? '')}${f.hint ? ` (${f.hint})` : ''}`,
    );
    for (const p of f.problems) context.out(`    - ${printable(p.item)}: ${printable(p.reason)}`);
  }
}

function renderRun(context: CliContext, s: RunSummary): void {
  renderFeeds(context, s.feeds);
  context.out(
    `items: ${s.fetched} fetched, ${s.new} new, ${s.duplicates} duplicate(s), ${s.itemProblems} left out; ${s.failedFeeds} feed(s) failed`,
  );
  context.out(
    `relevance (${s.classified.classifier}): ${s.classified.computed} classified, ${s.classified.cached} from cache; ${s.relevant} relevant`,
  );
  context.out(
    `drafts: ${s.drafts.length} from ${s.clusters} cluster(s); ${s.split} split to fit, ${s.condensed} item(s) condensed; ${s.flags} fact-check flag(s)`,
  );
  for (const d of s.drafts) {
    context.out(
      `  ${d.id}  ${String(d.flags).padStart(2)} flag(s)  ${(d.ms / 1000).toFixed(1)} s  ${printable(d.headline)}`,
    );
    for (const n of d.notes) context.out(`    note: ${printable(n)}`);
  }
  for (const f of s.draftFailures)
    context.out(`  FAILED cluster ${f.cluster.join(',')}: ${printable(f.reason)}`);
  const stages = EDITORIAL_STAGES.map((st) => `${st} ${(s.stageMs[st] / 1000).toFixed(1)} s`).join(', ');
  context.out(
    `time: ${stages}; total ${(s.totalMs / 1000).toFixed(1)} s${s.msPerArticle !== undefined ? `, ${(s.msPerArticle / 1000).toFixed(1)} s per article` : ''}`,
  );
}

function renderDraft(context: CliContext, d: Draft, log: ReturnType<EditorialDesk['log']>): void {
  context.out(
    `${d.id}  ${d.state}  revision ${d.revision}  topic ${d.topic}  part ${d.part.index}/${d.part.of}`,
  );
  context.out(
    `\n# ${printable(d.article.headline)}\n\n${printable(d.article.lead.text)} ${cite(d.article.lead.sources)}\n`,
  );
  for (const p of d.article.paragraphs) context.out(`${printable(p.text)} ${cite(p.sources)}\n`);
  for (const p of d.article.insights) context.out(`- ${printable(p.text)} ${cite(p.sources)}`);
  context.out('\nSources:');
  for (const s of d.sources)
    context.out(
      `  [${s.n}] ${printable(s.title)} — ${printable(s.link ?? s.feed)}${s.condensed ? ` (condensed: ${s.condensed.keptSentences}/${s.condensed.ofSentences} sentences)` : ''}`,
    );
  context.out(`\nFact-check: ${d.flags.length} flag(s)`);
  for (const f of d.flags)
    context.out(`  ! ${f.part} [${f.kind}] "${printable(f.sentence)}"\n    ${printable(f.message)}`);
  context.out('\nHistory:');
  for (const a of log) {
    context.out(
      `  ${a.time} ${a.action} r${a.revision} by ${printable(a.actor)}${a.reason ? `: ${printable(a.reason)}` : ''}`,
    );
    if (a.diff) context.out(`    ${printable(a.diff).slice(0, 2000)}`);
  }
}

function cite(sources: number[]): string {
  return sources.map((n) => `[${n}]`).join('');
}
