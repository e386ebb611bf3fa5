import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseAclSidecar, resolveAcl } from './index.ts';

const rules = [
  { glob: 'hr/**', groups: ['hr'] },
  { glob: 'hr/payroll/**', groups: ['payroll'] },
  { glob: 'public/**', public: true },
];

describe('ACL resolution', () => {
  it('falls back to the default visibility', () => {
    assert.deepEqual(resolveAcl('guide.md', { rules, defaultVisibility: 'public' }), {
      public: true,
      groups: [],
      users: [],
    });
    assert.deepEqual(resolveAcl('guide.md', { rules, defaultVisibility: 'private' }), {
      public: false,
      groups: [],
      users: [],
    });
  });

  it('applies the first matching rule, private unless the rule says public', () => {
    assert.deepEqual(resolveAcl('hr/payroll/2024.pdf', { rules, defaultVisibility: 'public' }), {
      public: false,
      groups: ['hr'],
      users: [],
    });
    assert.equal(resolveAcl('public/faq.md', { rules, defaultVisibility: 'private' }).public, true);
  });

  it('prefers a sidecar over rules, and an explicit ACL over everything', () => {
    const sidecar = { public: false, groups: ['hr', 'legal', 'hr'], users: ['ann'] };
    assert.deepEqual(resolveAcl('hr/x.md', { sidecar, rules, defaultVisibility: 'public' }), {
      public: false,
      groups: ['hr', 'legal'],
      users: ['ann'],
    });
    const explicit = { public: false, groups: [], users: ['bob'] };
    assert.deepEqual(
      resolveAcl('hr/x.md', { explicit, sidecar, rules, defaultVisibility: 'public' }),
      explicit,
    );
  });

  it('parses sidecars strictly: a broken one is an error, not public', () => {
    assert.deepEqual(parseAclSidecar('{"groups":["hr"]}', 'a.md.acl.json'), {
      public: false,
      groups: ['hr'],
      users: [],
    });
    assert.throws(() => parseAclSidecar('{"groups":', 'a.md.acl.json'), /a\.md\.acl\.json is not valid JSON/);
    assert.throws(() => parseAclSidecar('{"group":["hr"]}', 'a.md.acl.json'), /unknown field "group"/);
    assert.throws(() => parseAclSidecar('{"users":"ann"}', 'a.md.acl.json'), /"users" must be a list/);
    assert.throws(
      () => parseAclSidecar('{"public":"no"}', 'a.md.acl.json'),
      /"public" must be true or false/,
    );
    // A group name with a newline or a terminal escape would forge lines where readers are printed.
    for (const name of ['hr\nadmins', 'hr\u001b[2K', '  '])
      assert.throws(
        () => parseAclSidecar(JSON.stringify({ groups: [name] }), 'a.md.acl.json'),
        /a\.md\.acl\.json: "groups" (holds .* control characters|must be a list of non-empty strings)/,
        JSON.stringify(name),
      );
  });
});
