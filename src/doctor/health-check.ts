import { execFile } from 'node:child_process';
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import type { AttuneConfig } from '../config/index.ts';
import type { Models } from '../models/models.ts';
import { redactUrl } from '../store/index.ts';

const run = promisify(execFile);

/** One thing Attune needs, and whether this machine has it. */
export type HealthCheck = {
  name: string;
  ok: boolean;
  detail: string;
  /** What to run or set when it is not ok. */
  fix?: string;
  /** A required check that fails means the defaults do not work here. */
  required: boolean;
};

/**
 * What is installed and usable for this configuration: the llama.cpp runtime, the default chat and
 * embedding models (present and loading), Python for PyPI model sources and the trainer, the trainer
 * worker, and the knowledge store. Reads only: nothing is created, pulled or installed.
 */
export async function healthChecks(config: AttuneConfig, models: Models): Promise<HealthCheck[]> {
  const checks: HealthCheck[] = [];
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
      fix: 'npm install (node-llama-cpp ships prebuilt binaries for linux/mac/windows x64 and arm64)',
      required: true,
    });
  }
  for (const [role, name] of [
    ['chat model', models.defaultChatName],
    ['embedding model', models.defaultEmbeddingName],
  ] as const) {
    checks.push(await modelCheck(models, role, name));
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
    fix: 'attune trainer setup',
    required: false,
  });
  checks.push(
    config.store.kind === 'postgres' ? await postgresCheck(config.store.url ?? '') : lanceCheck(config.dir),
  );
  return checks;
}

async function modelCheck(
  models: Models,
  role: 'chat model' | 'embedding model',
  name: string,
): Promise<HealthCheck> {
  let present: boolean;
  try {
    present = models.cache.isPresent(name);
  } catch (error) {
    return {
      name: role,
      ok: false,
      detail: (error as Error).message,
      fix: 'attune models ls',
      required: true,
    };
  }
  if (!present)
    return {
      name: role,
      ok: false,
      detail: `${name} not in cache`,
      fix: `attune models pull ${name}`,
      required: true,
    };
  try {
    if (role === 'chat model') await models.chat(name);
    else await models.embedding(name);
    return { name: role, ok: true, detail: `${name} loads (${models.cache.pathOf(name)})`, required: true };
  } catch (error) {
    return {
      name: role,
      ok: false,
      detail: `${name} fails to load: ${(error as Error).message}`,
      fix: `attune models verify ${name}`,
      required: true,
    };
  }
}

/** Writable where it is, or where it would be created: the nearest existing ancestor. */
function lanceCheck(dir: string): HealthCheck {
  let existing = dir;
  while (!existsSync(existing) && dirname(existing) !== existing) existing = dirname(existing);
  if (!statSync(existing).isDirectory())
    return {
      name: 'knowledge store',
      ok: false,
      detail: `${existing} is a file, not a directory, so ${dir} cannot be a knowledge base`,
      fix: 'set ATTUNE_DIR to a directory, or to a path that does not exist yet',
      required: true,
    };
  try {
    accessSync(existing, constants.W_OK);
    return {
      name: 'knowledge store',
      ok: true,
      detail: `${dir} (embedded LanceDB${existing === dir ? '' : ', created on the first sync'})`,
      required: true,
    };
  } catch (error) {
    return {
      name: 'knowledge store',
      ok: false,
      detail: `${existing} is not writable: ${(error as Error).message}`,
      fix: 'set ATTUNE_DIR to a writable directory',
      required: true,
    };
  }
}

async function postgresCheck(url: string): Promise<HealthCheck> {
  const shown = redactUrl(url) ?? '(an ATTUNE_STORE_URL that does not parse)';
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    const { rows } = await client.query<{ server: string; vector: string | null }>(
      `SELECT current_setting('server_version') AS server,
              (SELECT extversion FROM pg_extension WHERE extname = 'vector') AS vector`,
    );
    const { server, vector } = rows[0]!;
    return {
      name: 'knowledge store',
      ok: true,
      detail: `${shown} (PostgreSQL ${server}, pgvector ${vector ?? 'installed on the first migration'})`,
      required: true,
    };
  } catch (error) {
    return {
      name: 'knowledge store',
      ok: false,
      detail: `${shown}: ${(error as Error).message}`,
      fix: 'check ATTUNE_STORE_URL (a PostgreSQL server with the pgvector extension available)',
      required: true,
    };
  } finally {
    await client.end().catch(() => {});
  }
}
