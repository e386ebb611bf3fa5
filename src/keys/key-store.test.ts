import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { KeyError, KeyStore } from './index.ts';

const store = () => new KeyStore(join(mkdtempSync(join(tmpdir(), 'attune-keys-')), 'keys.json'));

test('a created key authenticates as its principal, and only its hash is stored', () => {
  const keys = store();
  const { key, info } = keys.create({ principal: 'bob:engineering,ops', name: 'bob laptop' });
  assert.match(key, /^attune_[a-z0-9]{8}_[A-Za-z0-9_-]{32}$/);
  const file = readFileSync(keys.path, 'utf8');
  assert.ok(!file.includes(key.slice('attune_12345678_'.length)), 'the secret is not in the file');
  assert.equal(statSync(keys.path).mode & 0o077, 0, 'the key file is private to its owner');
  assert.deepEqual(keys.authenticate(key)?.principal, { user: 'bob', groups: ['engineering', 'ops'] });
  assert.equal(keys.authenticate(key)?.key.id, info.id);
  assert.equal(keys.list()[0]?.name, 'bob laptop');
  assert.ok(!('hash' in keys.list()[0]!));
});

test('unknown, altered, malformed and revoked keys authenticate nobody', () => {
  const keys = store();
  const { key, info } = keys.create({ principal: 'ann:hr', admin: true });
  assert.equal(keys.authenticate(key)?.principal.admin, true);
  const last = key.at(-1) === 'A' ? 'B' : 'A';
  for (const bad of [
    '',
    ' ',
    'Bearer x',
    key.slice(0, -1),
    `${key.slice(0, -1)}${last}`,
    `${key} `,
    key.toUpperCase(),
  ])
    assert.equal(keys.authenticate(bad), undefined, JSON.stringify(bad));
  assert.equal(keys.revoke(info.id), true);
  assert.equal(keys.authenticate(key), undefined);
  assert.ok(keys.list()[0]?.revokedAt);
  assert.equal(keys.revoke('nosuchid'), false);
});

test('an empty or malformed principal is refused when a key is created', () => {
  const keys = store();
  for (const bad of ['', ':', 'bob:', 'bob:hr:x', 'a b'])
    assert.throws(() => keys.create({ principal: bad }), /rincipal/, JSON.stringify(bad));
  assert.deepEqual(keys.list(), []);
});

test('a damaged key file fails closed and names the file', () => {
  const keys = store();
  const { key } = keys.create({ principal: 'bob' });
  writeFileSync(keys.path, '{"keys": [');
  assert.throws(
    () => keys.authenticate(key),
    (e: unknown) => e instanceof KeyError && e.message.includes(keys.path),
  );
});

test('a key file in a directory that is a file (a mistyped ATTUNE_DIR) is a named error, not a stack trace', () => {
  const dir = mkdtempSync(join(tmpdir(), 'attune-keys-'));
  writeFileSync(join(dir, 'not-a-dir'), 'x');
  const keys = new KeyStore(join(dir, 'not-a-dir', 'keys.json'));
  assert.throws(
    () => keys.list(),
    (error: unknown) =>
      error instanceof KeyError && /ENOTDIR/.test(error.message) && /ATTUNE_DIR/.test(error.hint ?? ''),
  );
  // Fail closed: nobody authenticates against a key file that cannot be read.
  assert.throws(() => keys.authenticate('attune_00000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'), KeyError);
});
