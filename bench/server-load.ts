// Load on the HTTP API: autocannon against `attune serve` (a child process, as users run it) on
// loopback, 16 and 64 concurrent clients, retrieval only (/api/search) and with generation
// (/api/ask, answer cache off), and retrieval again while uploads are being ingested. Reports
// throughput, p50/p95 of successful requests (the project's one percentile definition), every status
// seen, errors and timeouts, and how generation queues: answers beyond the queue get 503 with
// Retry-After at once rather than time out.
//
//   npx tsx bench/server-load.ts [--seconds 10] [--gen-seconds 30]
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { Attune } from '../src/attune.ts';
import { argValue, loadAverage, percentile, writeResult } from './bench-env.ts';

const seconds = argValue('--seconds') ?? 10;
const genSeconds = argValue('--gen-seconds') ?? 30;
const work = join(import.meta.dirname, '.work', 'server-load');
rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
const env = { ...process.env, ATTUNE_DIR: join(work, 'kb') };
const attune = await Attune.open({ env });
await attune.sync([join(import.meta.dirname, '..', 'examples', 'handbook')]);
const admin = attune.keys().create({ principal: 'ops', admin: true }).key;
const reader = attune.keys().create({ principal: 'bob:engineering' }).key;
await attune.close();

const child = spawn(
  process.execPath,
  [join(import.meta.dirname, '..', 'bin', 'attune.js'), 'serve', '--port', '0', '--rate', '1000000'],
  {
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  },
);
const url = await new Promise<string>((resolve, reject) => {
  child.stdout.on('data', (d: Buffer) => {
    const m = /"url":"([^"]+)"/.exec(d.toString());
    if (m) resolve(m[1]!);
  });
  child.once('exit', (code) => reject(new Error(`attune serve exited with ${code}`)));
});
const auth = (key: string) => ({ authorization: `Bearer ${key}`, 'content-type': 'application/json' });

async function load(
  name: string,
  options: { path: string; body: unknown; connections: number; duration: number },
) {
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  const instance = autocannon({
    url: `${url}${options.path}`,
    method: 'POST',
    headers: auth(reader),
    body: JSON.stringify(options.body),
    connections: options.connections,
    duration: options.duration,
    timeout: 600,
  });
  instance.on('response', (_client, status, _bytes, ms) => {
    statuses[status] = (statuses[status] ?? 0) + 1;
    if (status < 300) latencies.push(ms);
  });
  const before = loadAverage();
  const result = await instance;
  const health = (await (await fetch(`${url}/health`)).json()) as { queue: unknown };
  const ok = latencies.length;
  const row = {
    name,
    connections: options.connections,
    seconds: options.duration,
    requests: result.requests.total,
    ok,
    throughputPerSecond: ok / options.duration,
    p50Ms: ok ? percentile(latencies, 50) : null,
    p95Ms: ok ? percentile(latencies, 95) : null,
    statuses,
    errors: result.errors,
    timeouts: result.timeouts,
    queue: health.queue,
    loadBefore: before,
    loadAfter: loadAverage(),
  };
  process.stderr.write(`${JSON.stringify(row)}\n`);
  return row;
}

const search = { query: 'How long must passwords be?', k: 5 };
const ask = { question: 'Within how many days can an annual plan be refunded in full?', cache: false };
const rows = [];
// Warm: load the models once before anything is timed.
await fetch(`${url}/api/ask`, { method: 'POST', headers: auth(reader), body: JSON.stringify(ask) });
for (const connections of [16, 64])
  rows.push(
    await load(`search c${connections}`, {
      path: '/api/search',
      body: search,
      connections,
      duration: seconds,
    }),
  );
for (const connections of [16, 64])
  rows.push(
    await load(`ask c${connections}`, { path: '/api/ask', body: ask, connections, duration: genSeconds }),
  );
// Retrieval while documents are uploaded and ingested through the same server.
let uploads = 0;
let uploadFailures = 0;
let uploading = true;
const uploader = (async () => {
  while (uploading) {
    const form = new FormData();
    form.set(
      'file',
      new File(
        [`# Note ${uploads}\n\nThe parking code for week ${uploads} is ${1000 + uploads}.\n`],
        `note-${uploads}.md`,
      ),
    );
    form.set('public', 'true');
    const res = await fetch(`${url}/api/documents`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}` },
      body: form,
    });
    if (res.status === 201) uploads++;
    else uploadFailures++;
  }
})();
rows.push(
  await load('search c16 while ingesting', {
    path: '/api/search',
    body: search,
    connections: 16,
    duration: seconds,
  }),
);
uploading = false;
await uploader;
child.kill('SIGTERM');
const path = writeResult('server-load', {
  command: 'npx tsx bench/server-load.ts',
  note: 'attune serve in a child process on loopback; autocannon in this process. Latency percentiles: nearest rank over successful requests. 503 = the generation queue (16 waiting) was full: refused at once with Retry-After.',
  rows,
  ingestDuringLoad: { uploads, uploadFailures },
});
process.stderr.write(`wrote ${path}\n`);
process.exit(0);
