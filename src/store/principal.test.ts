import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PrincipalError, parsePrincipal } from './principal.ts';

describe('parsePrincipal', () => {
  it('reads user and user:groups', () => {
    assert.deepEqual(parsePrincipal('ann'), { user: 'ann', groups: [] });
    assert.deepEqual(parsePrincipal('bob:hr,eng,hr'), { user: 'bob', groups: ['hr', 'eng'] });
    assert.deepEqual(parsePrincipal('svc.bot@acme:ops'), { user: 'svc.bot@acme', groups: ['ops'] });
  });
  it('never widens: empty, malformed or over-long principals are errors, and none is ever admin', () => {
    for (const bad of [
      '',
      ' ',
      ':',
      ':hr',
      'bob:',
      'bob:hr:x',
      'bob:hr,,eng',
      'bob:hr, eng',
      'a b',
      'bob\n',
      '\u0000',
      '-bob',
      'bob:-',
    ])
      assert.throws(() => parsePrincipal(bad), PrincipalError, JSON.stringify(bad));
    for (const text of ['admin', 'root:admin', 'local-admin'])
      assert.equal(parsePrincipal(text).admin, undefined, 'admin is never spelled in the syntax');
  });
});
