/**
 * Principal fuzz (issue #11.1): every malformed principal, as CLI text or as a library object, is
 * an error on every read path (answer and its sources and citations, audit, the answer cache,
 * docs, the store's searches), never a wider view; a valid low-privilege principal never sees the
 * HR-only fact through any of them, including an answer first produced, and cached, for an admin.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Attune } from '../attune.ts';
import { seededRandom } from '../finetune/index.ts';
import { type Principal, PrincipalError, parsePrincipalText } from '../store/index.ts';
import { runAttune } from './testing.ts';

const handbook = join(import.meta.dirname, '..', '..', 'examples', 'handbook');
const RESTRICTED = 'handbook/hr/leave-policy.md';
const QUESTION = 'How many weeks of paid parental leave do employees receive?';
// The HR-only facts: "16 weeks" of parental leave, "28 days" of annual leave.
const RESTRICTED_FACT = /\b16\b|sixteen|\b28 days\b/i;
const admin: Principal = { user: 'ops', groups: [], admin: true };

const malformedTexts = [
  '',
  ' ',
  '\t',
  ':',
  '::',
  'bob:',
  ':hr',
  'bob:hr:x',
  'bob:hr,',
  'bob:,hr',
  'bob: hr',
  ' bob',
  'bob ',
  'bob\n',
  'bob\u0000',
  'bob\u001b[31m',
  'bob:hr\u2028',
  '*',
  'bob:*',
  '%',
  "o'brien",
  'bob;hr',
  'bob:hr;admin',
  'bob,hr',
  '\u200b',
  'admin:',
  '.admin',
  '-admin',
  `${'a'.repeat(100_000)}:`,
];

// Objects a library caller (or a server decoding a token badly) might hand over.
const malformedObjects: unknown[] = [
  null,
  undefined,
  'bob',
  {},
  { user: '', groups: [] },
  { user: '   ', groups: [] },
  { user: 'bob' },
  { user: 'bob', groups: 'hr' },
  { user: 'bob', groups: [''] },
  { user: 'bob', groups: [null] },
  { user: 'bob', groups: [], admin: 'true' },
  { user: 'bob', groups: [], admin: 1 },
  { user: 'bob\n', groups: [] },
  { user: 'bob', groups: ['hr\u0000'] },
  { user: 42, groups: [] },
];

describe('principal fuzz', { timeout: 600_000 }, () => {
  const work = mkdtempSync(join(tmpdir(), 'attune-principal-'));
  const env = { ATTUNE_DIR: join(work, '.attune'), ATTUNE_CHAT_MODEL: 'smollm2-135m-instruct' };
  let attune: Attune;
  let adminAuditId = '';

  before(async () => {
    cpSync(handbook, join(work, 'handbook'), { recursive: true });
    attune = await Attune.open({ env });
    const summary = await attune.sync([join(work, 'handbook')]);
    assert.equal(summary.failed, 0);
    // The admin's answer is cached first: the one a widened cache lookup would hand to bob.
    const first = await attune.ask(QUESTION, { principal: admin, maxTokens: 32 });
    adminAuditId = first.auditId;
    assert.ok(
      first.sources.some((s) => s.docId === RESTRICTED),
      'the admin answer comes from the HR-only page',
    );
    assert.equal((await attune.ask(QUESTION, { principal: admin, maxTokens: 32 })).cached, true);
  });
  after(async () => {
    await attune?.close();
    rmSync(work, { recursive: true, force: true });
  });

  it('parses no malformed text, and never yields an admin from any text', () => {
    for (const text of malformedTexts)
      assert.throws(() => parsePrincipalText(text), PrincipalError, JSON.stringify(text).slice(0, 60));
    // Lookalikes are ordinary, non-admin users.
    for (const text of ['admin', 'Admin', 'ADMIN', 'аdmin', 'root', 'local-admin', 'admin:admin', 'bób:hr']) {
      const p = parsePrincipalText(text);
      assert.notEqual(p.admin, true, text);
      assert.equal(`${p.user}${p.groups.length ? `:${p.groups.join(',')}` : ''}`, text.normalize(), text);
    }
    // Random strings over the characters that matter: each parses to exactly what it says, or fails.
    const alphabet = [
      'a',
      'b',
      'Z',
      '1',
      ':',
      ',',
      ' ',
      '\n',
      '\u0000',
      '*',
      '%',
      "'",
      '.',
      '-',
      '_',
      '@',
      'é',
      '\u202e',
    ];
    const random = seededRandom(7);
    for (let n = 0; n < 2000; n++) {
      const text = Array.from(
        { length: 1 + Math.floor(random() * 12) },
        () => alphabet[Math.floor(random() * alphabet.length)],
      ).join('');
      let parsed: Principal;
      try {
        parsed = parsePrincipalText(text);
      } catch (error) {
        assert.ok(error instanceof PrincipalError, `${JSON.stringify(text)}: ${error}`);
        continue;
      }
      assert.notEqual(parsed.admin, true);
      const [user, groups] = text.split(':');
      assert.equal(parsed.user, user);
      assert.deepEqual(parsed.groups, groups === undefined ? [] : [...new Set(groups.split(','))]);
      assert.doesNotMatch(text, /[\s\p{Cc}*%']/u, `${JSON.stringify(text)} was accepted`);
    }
  });

  it('refuses a malformed principal object on every library read path', async () => {
    const kb = await attune.knowledgeBase({ create: false });
    const audit = await attune.audit();
    const answerer = await attune.answerer();
    const vector = new Array(384).fill(0.05);
    const paths: [string, (p: Principal) => Promise<unknown>][] = [
      ['ask', (p) => attune.ask(QUESTION, { principal: p, maxTokens: 8 })],
      [
        'stream',
        async (p) => {
          for await (const _ of answerer.stream(QUESTION, { principal: p, maxTokens: 8 })) {
            /* drain */
          }
        },
      ],
      ['docs list', (p) => kb.listDocuments(p)],
      ['docs get', (p) => kb.store.getDocument(RESTRICTED, p)],
      ['chunks', (p) => kb.store.getChunks(RESTRICTED, p)],
      ['history', (p) => kb.store.documentAt(RESTRICTED, 1, p)],
      ['dense search', (p) => kb.store.denseSearch(vector, { k: 5, principal: p })],
      ['text search', (p) => kb.store.textSearch('parental leave', { k: 5, principal: p })],
      ['audit list', (p) => audit.list(p)],
      ['audit get', (p) => audit.get(adminAuditId, p)],
    ];
    for (const bad of malformedObjects)
      for (const [name, read] of paths)
        await assert.rejects(
          read(bad as Principal),
          (error: Error) => error instanceof PrincipalError || /principal/i.test(error.message),
          `${name} accepted ${JSON.stringify(bad)}`,
        );
  });

  it('never shows the HR-only fact to a valid low-privilege principal, cached or not', async () => {
    const kb = await attune.knowledgeBase({ create: false });
    const audit = await attune.audit();
    // "admin" and "local-admin" are names, not the admin view.
    for (const text of ['bob:engineering', 'admin', 'local-admin', 'ann:hr-all', 'eve:engineering,support']) {
      const reader = parsePrincipalText(text);
      const result = await attune.ask(QUESTION, { principal: reader, maxTokens: 32 });
      const shown = [
        ...result.sources.map((s) => s.docId),
        ...result.citations.map((c) => c.docId),
        result.closest?.docId,
      ];
      assert.ok(!shown.includes(RESTRICTED), `${text} was shown the HR page (cached: ${result.cached})`);
      assert.notEqual(result.cached, true, `${text} got a cached answer made for someone else`);
      assert.doesNotMatch(
        [result.answer, ...result.sources.map((s) => s.snippet), result.closest?.passage ?? ''].join('\n'),
        RESTRICTED_FACT,
        text,
      );
      assert.ok(!(await kb.listDocuments(reader)).some((d) => d.id === RESTRICTED), text);
      assert.equal(await kb.store.getDocument(RESTRICTED, reader), undefined, text);
      assert.deepEqual(await kb.store.getChunks(RESTRICTED, reader), [], text);
      assert.equal(await audit.get(adminAuditId, reader), undefined, `${text} read the admin's audit record`);
      assert.ok(
        (await audit.list(reader)).every((r) => r.principal.user === reader.user),
        `${text} listed another reader's audit records`,
      );
    }
    // And the one who may read it does get it.
    const hr = await attune.ask(QUESTION, { principal: { user: 'ann', groups: ['hr'] }, maxTokens: 32 });
    assert.ok(
      hr.sources.some((s) => s.docId === RESTRICTED),
      'an hr reader is answered from the HR page',
    );
  });

  it('the CLI refuses every malformed --principal before it reads anything', async () => {
    const commands: string[][] = [
      ['ask', QUESTION],
      ['audit', 'ls'],
      ['audit', 'show', adminAuditId],
      ['audit', 'export'],
      ['docs', 'ls'],
      ['docs', 'show', RESTRICTED],
    ];
    const cases = ['', ' ', ':', 'bob:', 'bob:hr:x', 'bob\u001b[31m', '*', 'bob:*', `${'b'.repeat(5000)}:x:`];
    for (let i = 0; i < Math.max(cases.length, commands.length); i++) {
      const text = cases[i % cases.length]!;
      const command = commands[i % commands.length]!;
      const run = await runAttune([...command, '--principal', text, '--json'], env);
      const label = `${command.join(' ')} --principal ${JSON.stringify(text).slice(0, 40)}`;
      assert.equal(run.code, 1, `${label}: ${run.stdout}`);
      assert.match(run.stderr, /--principal/, label);
      assert.equal(run.stdout, '', `${label} printed something`);
    }
    // The --principal= spelling of the empty principal.
    const eq = await runAttune(['docs', 'ls', '--principal=', '--json'], env);
    assert.equal(eq.code, 1);
    assert.equal(eq.stdout, '');
    // A valid low-privilege reader on the CLI: the HR page does not exist for them.
    const show = await runAttune(['docs', 'show', RESTRICTED, '--principal', 'bob:engineering'], env);
    assert.equal(show.code, 1);
    assert.doesNotMatch(show.stdout + show.stderr, RESTRICTED_FACT);
    const audit = await runAttune(['audit', 'show', adminAuditId, '--principal', 'admin', '--json'], env);
    assert.equal(audit.code, 1, 'the user named "admin" cannot read the admin\'s record');
    assert.doesNotMatch(audit.stdout, RESTRICTED_FACT);
  });
});
