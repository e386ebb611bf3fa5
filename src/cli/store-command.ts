import type { Command } from 'commander';
import { copyKnowledgeBase } from '../knowledge/index.ts';
import { AttuneError } from '../models/model-error.ts';
import { migratePostgresStore } from '../store/index.ts';
import type { CliContext } from './cli-context.ts';
import { ProgressBars } from './progress.ts';

export function registerStoreCommands(program: Command, context: CliContext): void {
  const store = program.command('store').description('the knowledge store: copy between backends, migrate');

  store
    .command('copy')
    .description(
      'copy a whole knowledge base (documents, vectors, versions, audit) into an empty store, verified',
    )
    .requiredOption(
      '--from <dir|url>',
      'knowledge-base directory (ATTUNE_DIR) or postgres:// URL (#schema optional)',
    )
    .requiredOption('--to <dir|url>', 'an empty target: a new directory, or a postgres:// URL')
    .option('--json', 'machine-readable result on stdout')
    .action(async (flags: { from: string; to: string; json?: boolean }) => {
      const bars = new ProgressBars({ enabled: !flags.json });
      const result = await copyKnowledgeBase(flags.from, flags.to, {
        onProgress: (p) =>
          bars.update(
            p.phase,
            p.phase === 'copy' ? 'documents copied' : 'documents verified',
            p.done,
            p.total,
            'docs',
          ),
      });
      bars.stop();
      if (flags.json) context.out(JSON.stringify(result, null, 2));
      else
        context.out(
          `copied ${result.counts.documents} documents, ${result.counts.chunks} chunks, ${result.counts.versions} versions, ${result.auditRecords} audit records in ${result.seconds.toFixed(1)} s; checksum ${result.checksum} matches\n  from ${result.from}\n  to   ${result.to}`,
        );
    });

  store
    .command('migrate')
    .description('apply pending schema migrations to the configured PostgreSQL store (ATTUNE_STORE_URL)')
    .option('--json', 'machine-readable result on stdout')
    .action(async (flags: { json?: boolean }) => {
      const config = context.config();
      if (config.store.kind !== 'postgres' || config.store.url === undefined) {
        throw new AttuneError(
          'The configured store is the embedded LanceDB one; it has no migrations to run.',
          {
            hint: 'Set ATTUNE_STORE_URL (or store.url in attune.config.json) to migrate a PostgreSQL store.',
          },
        );
      }
      const result = await migratePostgresStore({ url: config.store.url });
      if (flags.json) context.out(JSON.stringify(result, null, 2));
      else
        context.out(
          result.applied.length === 0 ? 'up to date' : `applied migrations ${result.applied.join(', ')}`,
        );
    });
}
