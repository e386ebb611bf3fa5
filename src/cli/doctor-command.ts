import { execFile } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type { Command } from 'commander';
import type { CliContext } from './cli-context.ts';

const run = promisify(execFile);

type Check = { name: string; ok: boolean; detail: string; fix?: string; required: boolean };

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

async function runChecks(context: CliContext): Promise<Check[]> {
  const checks: Check[] = [];
  let config: ReturnType<CliContext['config']>;
  try {
    config = context.config();
    checks.push({
      name: 'config',
      ok: true,
      detail: `home=${config.home} dir=${config.dir}`,
      required: true,
    });
  } catch (error) {
    checks.push({ name: 'config', ok: false, detail: (error as Error).message, required: true });
    return checks;
  }
  const models = context.models();
  try {
    const llama = await models.runtime.llama();
    checks.push({
      name: 'llama.cpp runtime',
      ok: true,
      detail: `node-llama-cpp, gpu=${String(llama.gpu)}`,
      required: true,
    });
  } catch (error) {
    checks.push({
      name: 'llama.cpp runtime',
      ok: false,
      detail: (error as Error).message,
      fix: 'npm ci (node-llama-cpp ships prebuilt binaries for linux/mac/windows x64 and arm64)',
      required: true,
    });
  }
  for (const [role, name] of [
    ['chat model', models.defaultChatName],
    ['embedding model', models.defaultEmbeddingName],
  ] as const) {
    let present: boolean;
    try {
      present = models.cache.isPresent(name);
    } catch (error) {
      checks.push({
        name: role,
        ok: false,
        detail: (error as Error).message,
        fix: 'attune models ls',
        required: true,
      });
      continue;
    }
    if (!present) {
      checks.push({
        name: role,
        ok: false,
        detail: `${name} not in cache`,
        fix: `attune models pull ${name}`,
        required: true,
      });
      continue;
    }
    try {
      if (role === 'chat model') await models.chat(name);
      else await models.embedding(name);
      checks.push({
        name: role,
        ok: true,
        detail: `${name} loads (${models.cache.pathOf(name)})`,
        required: true,
      });
    } catch (error) {
      checks.push({
        name: role,
        ok: false,
        detail: `${name} fails to load: ${(error as Error).message}`,
        fix: `attune models verify ${name}`,
        required: true,
      });
    }
  }
  try {
    const { stdout } = await run(config.python, ['-m', 'pip', '--version']);
    checks.push({
      name: 'python + pip',
      ok: true,
      detail: stdout.trim().split(' from ')[0] ?? '',
      required: false,
    });
  } catch {
    checks.push({
      name: 'python + pip',
      ok: false,
      detail: `${config.python} -m pip failed (needed for PyPI model sources and fine-tuning)`,
      fix: 'install Python 3.10+ with pip, or set ATTUNE_PYTHON',
      required: false,
    });
  }
  const venv = join(config.home, 'trainer-venv');
  checks.push({
    name: 'trainer worker',
    ok: existsSync(join(venv, 'bin', 'python')),
    detail: existsSync(venv) ? venv : 'fine-tuning worker not installed (optional)',
    fix: 'npm run setup:trainer',
    required: false,
  });
  try {
    const parent = existsSync(config.dir) ? config.dir : dirname(config.dir);
    mkdirSync(parent, { recursive: true });
    accessSync(parent, constants.W_OK);
    checks.push({
      name: 'knowledge store',
      ok: true,
      detail: `${config.dir} (embedded LanceDB)`,
      required: true,
    });
  } catch (error) {
    checks.push({
      name: 'knowledge store',
      ok: false,
      detail: `${config.dir} not writable: ${(error as Error).message}`,
      fix: 'set ATTUNE_DIR to a writable directory',
      required: true,
    });
  }
  return checks;
}
