import type { Command } from 'commander';
import type { Attune } from '../attune.ts';
import type { CliContext } from './cli-context.ts';
import { ProgressBars } from './progress.ts';

export function registerModelsCommand(program: Command, context: CliContext): void {
  const models = program.command('models').description('list and fetch the local models');

  models
    .command('ls')
    .description('list catalog models and whether each is in the cache')
    .option('--json', 'machine-readable output')
    .action(async (options: { json?: boolean }) => {
      const rows = context.attune().modelCatalog();
      if (options.json) {
        context.out(JSON.stringify(rows, null, 2));
        return;
      }
      for (const r of rows) {
        const mark = r.present ? 'present' : 'missing';
        const size = `${(r.sizeBytes / 1e6).toFixed(0)} MB`;
        context.out(
          `${r.default ? '*' : ' '} ${r.name.padEnd(24)} ${r.task.padEnd(10)} ${r.format.padEnd(5)} ${size.padStart(7)}  ${mark.padEnd(8)} ${r.licence}`,
        );
      }
      context.out('\n* default.  Fetch with: attune models pull [name]');
    });

  models
    .command('pull')
    .description('fetch models into the cache (default: the configured chat, embedding and reranker models)')
    .argument('[names...]', 'catalog names')
    .option('--json', 'machine-readable output')
    .action(async (names: string[], options: { json?: boolean }) => {
      const attune = context.attune();
      const results = await pullAll(attune, names.length ? names : undefined, !options.json);
      if (options.json) context.out(JSON.stringify(results, null, 2));
      else {
        for (const r of results) {
          context.out(
            r.downloaded
              ? `✓ ${r.model} fetched from ${r.source} → ${r.path}`
              : `✓ ${r.model} already cached`,
          );
        }
      }
    });

  models
    .command('verify')
    .description('re-check the sha256 of cached models')
    .argument('[names...]', 'catalog names')
    .action(async (names: string[]) => {
      const m = context.models();
      const targets = names.length ? names : m.catalog.list().map((e) => e.name);
      let bad = 0;
      for (const name of targets) {
        if (!m.cache.isPresent(name)) continue;
        const ok = await m.cache.verify(name);
        if (!ok) bad++;
        context.out(
          `${ok ? 'ok     ' : 'CORRUPT'} ${name}${ok ? '' : `  (re-fetch: rm -r ${m.cache.modelDir(name)} && attune models pull ${name})`}`,
        );
      }
      if (bad) process.exitCode = 1;
    });
}

/** `Attune.pullModels` with a progress bar per file on stderr. */
export async function pullAll(attune: Attune, names: string[] | undefined, showProgress: boolean) {
  const bars = new ProgressBars({ enabled: showProgress });
  try {
    return await attune.pullModels(names, {
      onProgress: (name, p) => {
        if (p.phase === 'download' && p.total !== undefined)
          bars.update(
            `${name}:${p.file}`,
            `${name} ${p.file}`,
            p.received,
            p.total,
            p.total > 1000 ? 'B' : 'pkgs',
          );
        if (p.phase === 'convert') bars.update(`${name}:convert`, `${name} convert→GGUF`, p.received, 1, '');
      },
    });
  } finally {
    bars.stop();
  }
}
