import type { Command } from 'commander';
import type { Acl } from '../ingest/index.ts';
import { KnowledgeBase, type SyncProgress, SyncStoppedError, type SyncSummary } from '../knowledge/index.ts';
import { AttuneError } from '../models/model-error.ts';
import { type Principal, PrincipalError, parsePrincipalText } from '../store/index.ts';
import type { CliContext } from './cli-context.ts';
import { positiveInt, printable } from './flags.ts';
import { ProgressBars } from './progress.ts';
import { stopOnSignal } from './stop-signal.ts';

type SyncFlags = {
  json?: boolean;
  groups?: string;
  users?: string;
  public?: boolean;
  private?: boolean;
  note?: string;
};

export function registerKnowledgeCommands(program: Command, context: CliContext): void {
  const syncLike = (name: 'ingest' | 'sync', description: string) =>
    program
      .command(name)
      .description(description)
      .argument('<sources...>', 'files, folders and http(s) URLs')
      .option(
        '--groups <list>',
        'comma-separated groups allowed to read these documents (overrides sidecars and rules)',
      )
      .option('--users <list>', 'comma-separated users allowed to read these documents')
      .option('--public', 'everyone may read these documents')
      .option('--private', 'only admins and the listed users/groups may read these documents')
      .option('--note <text>', 'note recorded with the new version')
      .option('--json', 'machine-readable summary on stdout')
      .action(async (sources: string[], flags: SyncFlags) => {
        const bars = new ProgressBars({ enabled: !flags.json });
        // SIGINT/SIGTERM: stop after the current batch, commit what was written, say so, exit 130/143.
        const stop = stopOnSignal((signal) => {
          bars.stop();
          process.stderr.write(
            `\n${signal}: stopping after the current batch (send it again to stop at once)\n`,
          );
        });
        try {
          const kb = await context.knowledgeBase();
          const acl = aclFromFlags(flags);
          let summary: SyncSummary;
          let remaining: number | undefined;
          try {
            summary = await kb[name](sources, {
              ...(acl ? { acl } : {}),
              ...(flags.note ? { note: flags.note } : {}),
              onProgress: (p) => renderProgress(bars, p),
              signal: stop.signal,
            });
          } catch (error) {
            if (!(error instanceof SyncStoppedError)) throw error;
            ({ summary, remaining } = error);
          }
          bars.stop();
          const stopped = remaining === undefined ? {} : { stopped: { signal: stop.received, remaining } };
          if (flags.json) context.out(JSON.stringify({ ...summary, ...stopped }, null, 2));
          else renderSummary(context, summary);
          if (remaining !== undefined)
            process.stderr.write(
              `stopped by ${stop.received}: ${remaining} document write${remaining === 1 ? '' : 's'} left; run the same ${name} again to finish\n`,
            );
          if (summary.failed > 0) process.exitCode = 1;
        } finally {
          bars.stop();
          stop.dispose();
        }
        // Signalled, the command exits as a stopped process does, even if the run had just finished.
        if (stop.exitCode !== undefined) process.exitCode = stop.exitCode;
      });
  syncLike('ingest', 'add new and changed documents to the knowledge base');
  syncLike('sync', 'mirror sources exactly: add new, re-ingest changed, remove vanished documents');

  const docs = program.command('docs').description('documents in the knowledge base');
  docs
    .command('ls')
    .option('--principal <user[:group,group]>', 'list as this user (default: admin view)')
    .option('--limit <n>', 'at most n documents', '1000')
    .option('--json', 'machine-readable output')
    .action(async (flags: { principal?: string; limit: string; json?: boolean }) => {
      const kb = await context.knowledgeBase({ create: false });
      const list = await kb.listDocuments(parsePrincipal(flags.principal), {
        limit: positiveInt(flags.limit, '--limit'),
      });
      if (flags.json) context.out(JSON.stringify(list, null, 2));
      else {
        for (const d of list) {
          const readers = d.acl.public
            ? 'public'
            : printable([...d.acl.groups.map((g) => `@${g}`), ...d.acl.users].join(',')) || 'admins';
          context.out(
            `${printable(d.id).padEnd(40)} v${String(d.version).padEnd(4)} ${String(d.chunkCount).padStart(4)} chunks  ${readers}`,
          );
        }
        context.out(`${list.length} document(s)`);
      }
    });
  docs
    .command('show')
    .argument('<id>', 'document id (see docs ls)')
    .option('--principal <user[:group,group]>', 'read as this user (default: admin view)')
    .option('--version <n>', 'the document as it was at this knowledge-base version')
    .option('--json', 'machine-readable output')
    .action(async (id: string, flags: { principal?: string; version?: string; json?: boolean }) => {
      const snapshot = await context
        .attune()
        .document(
          id,
          parsePrincipal(flags.principal),
          flags.version ? { version: positiveInt(flags.version, '--version') } : {},
        );
      if (!snapshot) {
        throw new AttuneError(
          `No document "${id}"${flags.version ? ` at version ${flags.version}` : ''} is visible.`,
          {
            hint: 'List documents with: attune docs ls',
          },
        );
      }
      if (flags.json) context.out(JSON.stringify(snapshot, null, 2));
      else {
        const d = snapshot.document;
        context.out(
          `${printable(d.title)}\n  id: ${printable(d.id)}\n  source: ${printable(d.source)}\n  version: ${d.version}\n  hash: ${d.contentHash}`,
        );
        for (const c of snapshot.chunks) {
          context.out(
            `\n[${c.ordinal}] ${c.headingPath.join(' › ')}${c.page ? ` (p. ${c.page})` : ''} — ${c.tokenCount} tokens`,
          );
          context.out(c.text);
        }
      }
    });
  docs
    .command('rm')
    .argument('<ids...>', 'document ids')
    .action(async (ids: string[]) => {
      const kb = await context.knowledgeBase({ create: false });
      for (const id of ids) {
        if (await kb.remove(id)) context.out(`removed ${printable(id)}`);
        else {
          process.stderr.write(`error: no such document: ${printable(id)}\n`);
          process.exitCode = 1;
        }
      }
    });

  program
    .command('versions')
    .description('knowledge-base versions: what each ingest or sync changed')
    .option('--json', 'machine-readable output')
    .action(async (flags: { json?: boolean }) => {
      const kb = await context.knowledgeBase({ create: false });
      const versions = await kb.versions();
      if (flags.json) context.out(JSON.stringify(versions, null, 2));
      else {
        for (const v of versions) {
          const s = v.summary;
          context.out(
            `v${v.number}  ${v.createdAt}  +${s.added} ~${s.changed} -${s.removed} !${s.failed}  ${s.chunksEmbedded} chunks embedded  ${v.note ?? ''}`,
          );
        }
      }
    });

  program
    .command('reindex')
    .description('re-embed the knowledge base with the configured (or given) embedding model, then switch')
    .option('--json', 'machine-readable output')
    .action(async (flags: { json?: boolean }) => {
      const config = context.config();
      const bars = new ProgressBars({ enabled: !flags.json });
      const result = await KnowledgeBase.reindex(config, context.models(), config.models.embedding, (p) =>
        renderProgress(bars, p),
      );
      bars.stop();
      if (flags.json) context.out(JSON.stringify(result, null, 2));
      else
        context.out(
          `reindexed ${result.documents} documents and ${result.versions} versions of history (${result.chunksEmbedded} chunks) with ${result.to}`,
        );
    });
}

function renderProgress(bars: ProgressBars, p: SyncProgress): void {
  if (p.phase === 'load') bars.update('load', 'files loaded', p.done, p.total ?? p.done, 'files');
  else if (p.phase === 'embed') bars.update('embed', 'chunks embedded', p.done, p.total, 'chunks');
  else bars.update('write', 'documents written', p.done, p.total, 'docs');
}

function renderSummary(context: CliContext, s: SyncSummary): void {
  context.out(
    `${s.version === undefined ? 'no version' : `version ${s.version}`}: ${s.added} added, ${s.changed} changed, ${s.removed} removed, ${s.unchanged} unchanged, ${s.failed} failed; ${s.chunksEmbedded} chunks embedded in ${(s.durationMs / 1000).toFixed(1)} s`,
  );
  for (const f of s.failures) context.out(`  failed: ${printable(f.source)}: ${printable(f.reason)}`);
  for (const f of s.skipped)
    context.out(`  skipped: ${printable(f.source)}: ${printable(f.reason.replace(/^skipped: /, ''))}`);
}

function aclFromFlags(flags: SyncFlags): Acl | undefined {
  const groups =
    flags.groups
      ?.split(',')
      .map((g) => g.trim())
      .filter(Boolean) ?? [];
  const users =
    flags.users
      ?.split(',')
      .map((u) => u.trim())
      .filter(Boolean) ?? [];
  if (!flags.public && !flags.private && groups.length === 0 && users.length === 0) return undefined;
  return { public: flags.public === true, groups, users };
}

/** `ann` or `ann:hr,finance`; no flag means the admin view a local operator has. */
/**
 * The --principal flag: absent means the local operator's admin view; anything given must be a
 * valid principal. `--principal ""` (an unset variable) is an error, never the admin view.
 */
export function parsePrincipal(value: string | undefined): Principal {
  if (value === undefined) return { user: 'local-admin', groups: [], admin: true };
  try {
    return parsePrincipalText(value);
  } catch (error) {
    if (error instanceof PrincipalError)
      throw new AttuneError(`--principal: ${error.message}`, { hint: error.hint });
    throw error;
  }
}
