import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from './config.ts';

describe('loadConfig', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'attune-config-'));

  it('layers defaults < file < env < flags', () => {
    writeFileSync(
      join(cwd, 'attune.config.json'),
      JSON.stringify({ dir: 'kb', models: { chat: 'from-file', threads: 2 }, defaultVisibility: 'private' }),
    );
    const config = loadConfig({
      cwd,
      env: { ATTUNE_CHAT_MODEL: 'from-env', ATTUNE_HOME: join(cwd, 'home') },
      flags: { models: { embedding: 'from-flag' } },
    });
    assert.equal(config.dir, join(cwd, 'kb'), 'relative path in the file resolves against cwd');
    assert.equal(config.models.chat, 'from-env');
    assert.equal(config.models.embedding, 'from-flag');
    assert.equal(config.models.threads, 2);
    assert.equal(config.home, join(cwd, 'home'));
    assert.equal(config.defaultVisibility, 'private');
  });

  it('names the field that is wrong', () => {
    const bad = mkdtempSync(join(tmpdir(), 'attune-config-'));
    writeFileSync(
      join(bad, 'attune.config.json'),
      JSON.stringify({ models: { threads: -1 }, colour: 'red' }),
    );
    assert.throws(
      () => loadConfig({ cwd: bad, env: {} }),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        assert.match(e.message, /models\.threads/);
        assert.match(e.message, /colour/);
        return true;
      },
    );
  });

  it('says which file is not JSON', () => {
    const bad = mkdtempSync(join(tmpdir(), 'attune-config-'));
    writeFileSync(join(bad, 'attune.config.json'), '{ nope');
    assert.throws(() => loadConfig({ cwd: bad, env: {} }), /attune\.config\.json is not valid JSON/);
  });
  it('chooses the store: embedded LanceDB by default, PostgreSQL from ATTUNE_STORE_URL', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'attune-config-'));
    assert.deepEqual(loadConfig({ cwd, env: {} }).store, { kind: 'lancedb' });
    const url = 'postgres://attune@db.internal:5432/kb';
    assert.deepEqual(loadConfig({ cwd, env: { ATTUNE_STORE_URL: url } }).store, { kind: 'postgres', url });
    writeFileSync(join(cwd, 'attune.config.json'), JSON.stringify({ store: { kind: 'postgres' } }));
    assert.throws(
      () => loadConfig({ cwd, env: {} }),
      (e: unknown) =>
        e instanceof ConfigError && /store\.url/.test(e.message) && /ATTUNE_STORE_URL/.test(e.message),
    );
    writeFileSync(join(cwd, 'attune.config.json'), JSON.stringify({ store: { kind: 'mysql' } }));
    assert.throws(() => loadConfig({ cwd, env: {} }), /store\.kind/);
  });
});
