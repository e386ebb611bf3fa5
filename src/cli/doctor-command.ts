import type { Command } from 'commander';
import type { HealthCheck } from '../doctor/index.ts';
import type { CliContext } from './cli-context.ts';

export function registerDoctorCommand(program: Command, context: CliContext): void {
  program
    .command('doctor')
    .description('check what is installed and usable; exit 0 only when the defaults work')
    .option('--json', 'machine-readable output')
    .action(async (options: { json?: boolean }) => {
      const checks = await runChecks(context);
      if (options.json) context.out(JSON.stringify(checks, null, 2));
      else {
        for (const c of checks) {
          const status = c.ok ? 'ok     ' : c.required ? 'missing' : 'absent ';
          context.out(
            `${status} ${c.name.padEnd(22)} ${c.detail}${!c.ok && c.fix ? `\n        fix: ${c.fix}` : ''}`,
          );
        }
      }
      if (checks.some((c) => c.required && !c.ok)) process.exitCode = 1;
    });
}

/** The config check is the command's own (the library needs a config to exist); the rest are the library's. */
async function runChecks(context: CliContext): Promise<HealthCheck[]> {
  let config: ReturnType<CliContext['config']>;
  try {
    config = context.config();
  } catch (error) {
    return [{ name: 'config', ok: false, detail: (error as Error).message, required: true }];
  }
  return [
    { name: 'config', ok: true, detail: `home=${config.home} dir=${config.dir}`, required: true },
    ...(await context.attune().doctor()),
  ];
}
