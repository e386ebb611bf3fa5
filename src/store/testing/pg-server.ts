/**
 * A throwaway PostgreSQL server with pgvector for the Postgres store's tests and benchmark.
 *
 * The binaries come from the PyPI package `pgserver` (PostgreSQL 16 with pgvector), pip-installed
 * once into `.venv/pg` of this checkout: Debian bookworm has PostgreSQL but no pgvector package,
 * and PyPI is reachable wherever the tests run. Installing is idempotent (a stamp file), like
 * scripts/setup-trainer.mjs. Each server gets its own data directory in a temp dir and a random
 * loopback port, and is stopped (and its directory removed) by `stop()`.
 *
 * PostgreSQL refuses to run as root; as root the server runs as `nobody`.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';

const REPO = resolve(import.meta.dirname, '..', '..', '..');
const VENV = join(REPO, '.venv', 'pg');
const PGSERVER_SPEC = 'pgserver==0.1.4';
const STAMP = join(VENV, `.installed-${PGSERVER_SPEC}`);

export type PgServer = {
  /** postgres://… of the `postgres` database, superuser, trust auth on loopback. */
  url: string;
  port: number;
  dataDir: string;
  /** Creates a fresh database and returns its URL: one per test keeps tests independent. */
  createDatabase(name?: string): Promise<string>;
  /** The last few kB of the server's log, for a failing test or a slow statement. */
  log(): string;
  stop(): Promise<void>;
};

/** Installs pgserver into .venv/pg unless it is there; returns its bin directory. */
export function ensurePgBinaries(): string {
  const bin = pgBin();
  if (existsSync(STAMP) && existsSync(join(bin, 'postgres'))) return bin;
  const python = spawnSync('python3', ['-m', 'venv', VENV], { stdio: 'inherit' });
  if (python.status !== 0) throw new Error(`python3 -m venv ${VENV} failed; PostgreSQL tests need Python 3.`);
  const pip = spawnSync(join(VENV, 'bin', 'pip'), ['install', '-q', PGSERVER_SPEC], { stdio: 'inherit' });
  // Looked up again: before the install there was no site-packages to find it in.
  const installed = pgBin();
  if (pip.status !== 0 || !existsSync(join(installed, 'postgres'))) {
    throw new Error(`pip install ${PGSERVER_SPEC} into ${VENV} failed; it ships the test PostgreSQL.`);
  }
  writeFileSync(STAMP, `${new Date().toISOString()}\n`);
  return installed;
}

function pgBin(): string {
  const lib = join(VENV, 'lib');
  const found = existsSync(lib)
    ? spawnSync(
        'sh',
        ['-c', `ls -d ${lib}/python3*/site-packages/pgserver/pginstall/bin 2>/dev/null | head -1`],
        {
          encoding: 'utf8',
        },
      ).stdout.trim()
    : '';
  return found || join(lib, 'python3', 'site-packages', 'pgserver', 'pginstall', 'bin');
}

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

function runAs(): { uid: number; gid: number } | undefined {
  return process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : undefined;
}

export type PgServerOptions = {
  /** Keep fsync and synchronous commit on, as a production server has them (benchmarks). Default off. */
  durable?: boolean;
  /** Extra server settings, e.g. `{ shared_buffers: '1GB' }`. */
  settings?: Record<string, string>;
};

/**
 * As root the server runs as `nobody`, which must be able to reach the binaries: a checkout under a
 * private directory (/root/…) is not reachable, so the installed tree is copied once to the temp dir.
 */
function binariesFor(user: { uid: number; gid: number } | undefined): string {
  const bin = ensurePgBinaries();
  if (user === undefined) return bin;
  const reachable = spawnSync(join(bin, 'postgres'), ['--version'], { ...user });
  if (reachable.status === 0) return bin;
  const sitePackages = resolve(bin, '..', '..', '..');
  const copy = join(tmpdir(), `attune-${PGSERVER_SPEC.replace('==', '-')}`);
  const copiedBin = join(copy, 'pgserver', 'pginstall', 'bin');
  if (!existsSync(join(copy, '.complete'))) {
    rmSync(copy, { recursive: true, force: true });
    mkdirSync(copy, { recursive: true });
    // Both, side by side: initdb finds its libpq through a relative path to pgserver.libs.
    for (const part of ['pgserver', 'pgserver.libs']) {
      const cp = spawnSync('cp', ['-a', join(sitePackages, part), join(copy, part)], { stdio: 'inherit' });
      if (cp.status !== 0) throw new Error(`copying ${part} to ${copy} failed`);
    }
    spawnSync('chmod', ['-R', 'a+rX', copy]);
    writeFileSync(join(copy, '.complete'), '');
  }
  return copiedBin;
}

export async function startPgServer(options: PgServerOptions = {}): Promise<PgServer> {
  const bin = binariesFor(runAs());
  const root = mkdtempSync(join(tmpdir(), 'attune-pg-'));
  const dataDir = join(root, 'data');
  const user = runAs();
  if (user) {
    chmodSync(root, 0o755);
    chownSync(root, user.uid, user.gid);
  }
  const initdb = spawnSync(
    join(bin, 'initdb'),
    ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--no-sync', '--locale=C'],
    { encoding: 'utf8', ...(user ?? {}) },
  );
  if (initdb.status !== 0) {
    rmSync(root, { recursive: true, force: true });
    throw new Error(`initdb failed:\n${initdb.stderr}`);
  }
  let port = 0;
  let child: ChildProcess | undefined;
  let log = '';
  for (let attempt = 0; attempt < 5 && child === undefined; attempt++) {
    port = await freePort();
    // Durability off unless asked for: a test server's data dies with it; fsync only costs time.
    const candidate = spawn(
      join(bin, 'postgres'),
      [
        '-D',
        dataDir,
        '-p',
        String(port),
        '-h',
        '127.0.0.1',
        '-k',
        root,
        ...Object.entries({
          ...(options.durable ? {} : { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' }),
          max_connections: '100',
          shared_buffers: '128MB',
          ...options.settings,
        }).flatMap(([key, value]) => ['-c', `${key}=${value}`]),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], ...(user ?? {}) },
    );
    candidate.stderr?.on('data', (data: Buffer) => {
      log = (log + data.toString()).slice(-64_000);
    });
    const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
    if (await waitReady(url, candidate)) child = candidate;
    else candidate.kill('SIGKILL');
  }
  if (child === undefined) {
    rmSync(root, { recursive: true, force: true });
    throw new Error(`PostgreSQL did not start:\n${log}`);
  }
  const server = child;
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  let databases = 0;
  return {
    url,
    port,
    dataDir,
    async createDatabase(name = `t${process.pid}_${++databases}_${Date.now() % 100000}`) {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
      } finally {
        await client.end();
      }
      return `postgres://postgres@127.0.0.1:${port}/${encodeURIComponent(name)}`;
    },
    log: () => log,
    async stop() {
      if (server.exitCode === null && server.signalCode === null) {
        const exited = new Promise((done) => server.once('exit', done));
        // SIGINT: fast shutdown, open sessions are cut.
        server.kill('SIGINT');
        await Promise.race([exited, sleep(10_000)]);
        if (server.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
      }
      rmSync(root, { recursive: true, force: true });
    },
  };
}

async function waitReady(url: string, child: ChildProcess): Promise<boolean> {
  const started = Date.now();
  while (Date.now() - started < 30_000) {
    if (child.exitCode !== null || child.signalCode !== null) return false;
    const client = new pg.Client({ connectionString: url });
    try {
      await client.connect();
      await client.query('SELECT 1');
      await client.end();
      return true;
    } catch {
      await client.end().catch(() => {});
      await sleep(100);
    }
  }
  return false;
}
