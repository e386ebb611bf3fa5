import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../config/index.ts';
import type { Models } from '../models/models.ts';
import { SMALL_CHAT_MODEL, testModels } from '../models/testing.ts';
import { healthChecks } from './index.ts';

describe('healthChecks (real runtime and models)', () => {
  const work = mkdtempSync(join(tmpdir(), 'attune-doctor-'));
  let models: Models;
  before(async () => {
    models = await testModels({ chat: SMALL_CHAT_MODEL });
  });
  after(async () => {
    await models?.dispose();
    rmSync(work, { recursive: true, force: true });
  });
  const byName = (checks: Awaited<ReturnType<typeof healthChecks>>) =>
    Object.fromEntries(checks.map((c) => [c.name, c]));

  it('passes every required check with working defaults, and creates nothing', async () => {
    const dir = join(work, 'not', 'yet', 'kb');
    const config = loadConfig({ cwd: work, env: { ATTUNE_DIR: dir } });
    const checks = byName(await healthChecks(config, models));
    for (const name of ['llama.cpp runtime', 'embedding model', 'knowledge store'])
      assert.equal(checks[name]?.ok, true, `${name}: ${checks[name]?.detail}`);
    assert.match(checks['knowledge store']!.detail, /created on the first sync/);
    assert.equal(existsSync(join(work, 'not')), false, 'a check never creates the directory');
  });

  it('names an unwritable directory and an unreachable PostgreSQL, never printing its password', async () => {
    const locked = join(work, 'locked');
    mkdirSync(locked);
    chmodSync(locked, 0o500);
    const root = process.getuid?.() === 0; // root writes anywhere: that case is not testable as root
    const lance = byName(
      await healthChecks(loadConfig({ cwd: work, env: { ATTUNE_DIR: join(locked, 'kb') } }), models),
    );
    if (!root) {
      assert.equal(lance['knowledge store']?.ok, false);
      assert.match(lance['knowledge store']!.fix ?? '', /ATTUNE_DIR/);
    }
    // A file where the directory (or one above it) should be fails for anyone, root included.
    writeFileSync(join(work, 'a-file'), 'x');
    for (const dir of [join(work, 'a-file'), join(work, 'a-file', 'kb')]) {
      const file = byName(await healthChecks(loadConfig({ cwd: work, env: { ATTUNE_DIR: dir } }), models));
      assert.equal(file['knowledge store']?.ok, false, dir);
      assert.match(file['knowledge store']!.detail, /is a file/);
    }
    // A port that refuses: listen, note it, close.
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const { port } = s.address() as { port: number };
        s.close(() => resolve(port));
      });
    });
    const url = `postgres://attune:s3cret-pw@127.0.0.1:${port}/kb`;
    const pg = byName(await healthChecks(loadConfig({ cwd: work, env: { ATTUNE_STORE_URL: url } }), models));
    const store = pg['knowledge store']!;
    assert.equal(store.ok, false);
    assert.equal(store.required, true);
    assert.match(store.detail, /127\.0\.0\.1/);
    assert.ok(!JSON.stringify(store).includes('s3cret-pw'), store.detail);
    assert.match(store.fix ?? '', /ATTUNE_STORE_URL/);
  });
});
