// Schemathesis (PyPI) against the served OpenAPI document: every described operation, with a
// reader's key and with an admin's, checking that no generated request gets a 5xx. The server runs
// as users run it (`attune serve`, a child process) over the sample handbook; its chat model is the
// small SmolLM2-135M so that the valid questions schemathesis generates are answered in a second —
// the HTTP layer, not the model, is under test. Long admin work (training, model pulls, syncing
// arbitrary server paths) is left out of the admin pass. Counts come from the HAR of every request.
//
//   npx tsx bench/server-fuzz.ts [--examples 60]     (installs schemathesis into .venv/fuzz once)
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Attune } from '../src/attune.ts';
import { argValue, loadAverage, writeResult } from './bench-env.ts';

const examples = argValue('--examples') ?? 60;
const root = join(import.meta.dirname, '..');
const venv = join(root, '.venv', 'fuzz');
const st = join(venv, 'bin', 'schemathesis');
if (!existsSync(st)) {
  spawnSync('python3', ['-m', 'venv', venv], { stdio: 'inherit' });
  const pip = spawnSync(join(venv, 'bin', 'pip'), ['install', '-q', 'schemathesis==4.32.5'], {
    stdio: 'inherit',
  });
  if (pip.status) throw new Error('could not install schemathesis');
}
const work = join(import.meta.dirname, '.work', 'server-fuzz');
rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
const env = { ...process.env, ATTUNE_DIR: join(work, 'kb'), ATTUNE_CHAT_MODEL: 'smollm2-135m-instruct' };
const attune = await Attune.open({ env });
await attune.sync([join(root, 'examples', 'handbook')]);
const keys = {
  reader: attune.keys().create({ principal: 'bob:engineering' }).key,
  admin: attune.keys().create({ principal: 'ops', admin: true }).key,
};
await attune.close();
const child = spawn(
  process.execPath,
  [join(root, 'bin', 'attune.js'), 'serve', '--port', '0', '--rate', '1000000'],
  {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  },
);
let serverLog = '';
child.stderr.on('data', (d: Buffer) => {
  serverLog += d.toString();
});
const url = await new Promise<string>((resolve, reject) => {
  child.stdout.on('data', (d: Buffer) => {
    const m = /"url":"([^"]+)"/.exec(d.toString());
    if (m) resolve(m[1]!);
  });
  child.once('exit', (code) => reject(new Error(`attune serve exited with ${code}`)));
});

type Har = { log: { entries: { request: { method: string; url: string }; response: { status: number } }[] } };
const passes = [];
for (const [name, key, exclude] of [
  ['reader', keys.reader, []],
  ['admin', keys.admin, ['/api/finetune/jobs', '/api/models/pull', '/api/sync']],
] as const) {
  const har = join(work, `${name}.har`);
  const started = performance.now();
  const run = spawnSync(
    st,
    [
      'run',
      `${url}/openapi.json`,
      '--header',
      `Authorization: Bearer ${key}`,
      '--checks',
      'not_a_server_error',
      '--max-examples',
      String(examples),
      '--generation-deterministic',
      '--request-timeout',
      '120',
      '--report',
      'har',
      '--report-har-path',
      har,
      ...exclude.flatMap((path) => ['--exclude-path', path]),
    ],
    { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
  );
  const entries = existsSync(har) ? (JSON.parse(readFileSync(har, 'utf8')) as Har).log.entries : [];
  const statuses: Record<string, number> = {};
  for (const e of entries) statuses[e.response.status] = (statuses[e.response.status] ?? 0) + 1;
  const serverErrors = entries
    .filter((e) => e.response.status >= 500)
    .map((e) => `${e.request.method} ${e.request.url.replace(url, '')} → ${e.response.status}`);
  passes.push({
    key: name,
    excluded: exclude,
    exitCode: run.status,
    requests: entries.length,
    statuses,
    serverErrors: serverErrors.length,
    serverErrorSamples: serverErrors.slice(0, 10),
    seconds: (performance.now() - started) / 1000,
    summary: run.stdout.split('\n').slice(-25).join('\n'),
  });
  process.stderr.write(
    `${name}: ${entries.length} requests, ${serverErrors.length} 5xx, exit ${run.status}\n`,
  );
}
child.kill('SIGTERM');
const path = writeResult('server-fuzz', {
  command: `npx tsx bench/server-fuzz.ts --examples ${examples}`,
  tool: 'schemathesis 4.32.5, --checks not_a_server_error, deterministic generation',
  load: loadAverage(),
  passes,
  totalRequests: passes.reduce((n, p) => n + p.requests, 0),
  total5xx: passes.reduce((n, p) => n + p.serverErrors, 0),
  serverLogTail: serverLog.split('\n').slice(-20).join('\n'),
});
process.stderr.write(`wrote ${path}\n`);
process.exit(0);
