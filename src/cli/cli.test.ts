import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runAttune } from './testing.ts';

const handbook = join(import.meta.dirname, '..', '..', 'examples', 'handbook');
const attune = runAttune;

describe('attune CLI', () => {
  const work = mkdtempSync(join(tmpdir(), 'attune-cli-'));
  const env = { ATTUNE_DIR: join(work, '.attune') };
  after(() => rmSync(work, { recursive: true, force: true }));

  it('models ls --json lists the catalog with presence', async () => {
    const r = await attune(['models', 'ls', '--json'], env);
    assert.equal(r.code, 0, r.stderr);
    const rows = JSON.parse(r.stdout) as { name: string; present: boolean; default: boolean; task: string }[];
    const defaults = rows.filter((m) => m.default);
    // The reranking-task default is the answerability verifier (models.verifier), the gate before generation.
    assert.deepEqual(defaults.map((m) => m.task).sort(), ['chat', 'embedding', 'reranking']);
    assert.ok(defaults.some((m) => m.name === 'attune-verifier-minilm-l6-squad2'));
    assert.ok(
      defaults.every((m) => m.present),
      'the test runner pulled the defaults',
    );
  });

  it('doctor exits 0 with the defaults and 1 naming an unusable model', async () => {
    const ok = await attune(['doctor'], env);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /ok +chat model/);
    const bad = await attune(['doctor', '--json'], { ...env, ATTUNE_CHAT_MODEL: 'no-such-model' });
    assert.equal(bad.code, 1);
    const checks = JSON.parse(bad.stdout) as { name: string; ok: boolean; detail: string }[];
    const chat = checks.find((c) => c.name === 'chat model')!;
    assert.equal(chat.ok, false);
    assert.match(chat.detail, /Unknown model "no-such-model"/);
  });

  it('ingest reports each bad file, ingests the rest, and exits non-zero', async () => {
    const root = join(work, 'handbook');
    cpSync(handbook, root, { recursive: true });
    writeFileSync(join(root, 'empty.md'), '');
    writeFileSync(join(root, 'broken.jsonl'), '{"text": "fine line"}\n{not json\n');
    const r = await attune(['ingest', root, '--json'], env);
    assert.equal(r.code, 1, r.stderr);
    const summary = JSON.parse(r.stdout) as {
      added: number;
      failed: number;
      chunksEmbedded: number;
      failures: { source: string; reason: string }[];
    };
    assert.equal(summary.added, 6, 'five handbook pages and the good JSONL line');
    assert.equal(summary.failed, 2);
    assert.ok(summary.failures.some((f) => /empty\.md$/.test(f.source)));
    assert.ok(summary.failures.some((f) => /broken\.jsonl/.test(f.source) && /line 2/.test(f.reason)));
    assert.ok(summary.chunksEmbedded > 0);
  });

  it('a second sync embeds nothing; docs ls hides what a principal may not read', async () => {
    const root = join(work, 'handbook');
    rmSync(join(root, 'empty.md'));
    rmSync(join(root, 'broken.jsonl'));
    const sync = await attune(['sync', root, '--json'], env);
    assert.equal(sync.code, 0, sync.stderr);
    const summary = JSON.parse(sync.stdout) as { removed: number; chunksEmbedded: number; unchanged: number };
    assert.equal(summary.chunksEmbedded, 0);
    assert.equal(summary.removed, 1, 'the JSONL record vanished with its file');
    assert.equal(summary.unchanged, 5);
    const bob = JSON.parse(
      (await attune(['docs', 'ls', '--principal', 'bob:engineering', '--json'], env)).stdout,
    ) as {
      id: string;
    }[];
    assert.ok(!bob.some((d) => d.id === 'handbook/hr/leave-policy.md'));
    const ann = JSON.parse((await attune(['docs', 'ls', '--principal', 'ann:hr', '--json'], env)).stdout) as {
      id: string;
    }[];
    assert.ok(ann.some((d) => d.id === 'handbook/hr/leave-policy.md'));
    const versions = JSON.parse((await attune(['versions', '--json'], env)).stdout) as { number: number }[];
    assert.deepEqual(
      versions.map((v) => v.number),
      [1, 2],
    );
    const hidden = await attune(['docs', 'show', 'handbook/hr/leave-policy.md', '--principal', 'bob'], env);
    assert.equal(hidden.code, 1);
    assert.match(hidden.stderr, /No document "handbook\/hr\/leave-policy\.md"/);
  });

  it('two syncs at once: both finish or one refuses clearly, and the store stays consistent', async () => {
    const root = join(work, 'handbook');
    writeFileSync(join(root, 'new-a.md'), '# A\n\nA new page about expense reports, filed within 30 days.\n');
    const [a, b] = await Promise.all([
      attune(['sync', root, '--json'], env),
      attune(['sync', root, '--json'], env),
    ]);
    for (const r of [a, b]) {
      if (r.code !== 0) assert.match(r.stderr, /lock|another process|busy/i, r.stderr);
    }
    assert.ok(a.code === 0 || b.code === 0, 'at least one sync succeeded');
    const docs = JSON.parse((await attune(['docs', 'ls', '--json'], env)).stdout) as {
      id: string;
      chunkCount: number;
    }[];
    assert.equal(docs.filter((d) => d.id === 'handbook/new-a.md').length, 1);
    const show = JSON.parse((await attune(['docs', 'show', 'handbook/new-a.md', '--json'], env)).stdout) as {
      chunks: unknown[];
      document: { chunkCount: number };
    };
    assert.equal(show.chunks.length, show.document.chunkCount);
  });

  it('ask --json answers with sources and an audit id; a reader outside the ACL is told the knowledge base does not say', async () => {
    const ask = async (question: string, ...extra: string[]) => {
      const r = await attune(['ask', question, '--json', ...extra], env);
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout) as {
        answer: string;
        abstained: boolean;
        citations: { docId: string; source: string }[];
        sources: { docId: string; source: string; n: number }[];
        auditId: string;
      };
    };
    const ann = await ask('How many weeks of parental leave do employees get?', '--principal', 'ann:hr');
    assert.ok(
      ann.sources.some((s) => s.docId === 'handbook/hr/leave-policy.md'),
      JSON.stringify(ann),
    );
    for (const s of ann.sources)
      assert.ok(s.source.endsWith(s.docId.replace(/^handbook/, '')), 'sources carry the path');
    const bob = await ask(
      'How many weeks of parental leave do employees get?',
      '--principal',
      'bob:engineering',
    );
    assert.ok(bob.sources.every((s) => s.docId !== 'handbook/hr/leave-policy.md'));
    assert.ok(!/16 weeks/.test(bob.answer));

    const mine = JSON.parse((await attune(['audit', 'ls', '--principal', 'bob', '--json'], env)).stdout) as {
      id: string;
    }[];
    assert.deepEqual(
      mine.map((r) => r.id),
      [bob.auditId],
      'bob sees only his own record',
    );
    const shown = await attune(['audit', 'show', ann.auditId, '--principal', 'bob'], env);
    assert.equal(shown.code, 1);
    assert.match(shown.stderr, /No audit record/);
    const full = await attune(['audit', 'show', ann.auditId, '--documents', '--json'], env);
    assert.equal(full.code, 0, full.stderr);
    const record = JSON.parse(full.stdout) as {
      question: string;
      documents: { docId: string; text?: string }[];
    };
    assert.match(record.question, /parental leave/);
    const leave = record.documents.find((d) => d.docId === 'handbook/hr/leave-policy.md');
    assert.match(leave?.text ?? '', /16 weeks/, 'the document as it was when answered');
    const out = join(work, 'audit.jsonl');
    const exported = await attune(['audit', 'export', '--out', out], env);
    assert.equal(exported.code, 0, exported.stderr);
    const { readFileSync } = await import('node:fs');
    assert.equal(readFileSync(out, 'utf8').trim().split('\n').length, 2);
  });

  it('an empty or malformed --principal is an error on every read path, never the admin view', async () => {
    for (const principal of ['', 'bob:hr:x', ':hr', 'bob:']) {
      for (const args of [
        ['ask', 'How many weeks of parental leave do employees get?', '--json'],
        ['audit', 'ls', '--json'],
        ['docs', 'ls', '--json'],
        ['docs', 'show', 'handbook/hr/leave-policy.md'],
      ]) {
        const r = await attune([...args, '--principal', principal], env);
        assert.equal(r.code, 1, `${args.join(' ')} --principal ${JSON.stringify(principal)}: ${r.stdout}`);
        assert.match(r.stderr, /--principal/);
        assert.doesNotMatch(r.stdout, /16 weeks|leave-policy/);
      }
    }
    const equals = await attune(['docs', 'ls', '--json', '--principal='], env);
    assert.equal(equals.code, 1);
  });

  it('flags and ids are checked; a mistyped ATTUNE_DIR is not silently created', async () => {
    for (const limit of ['abc', '-1', '0']) {
      const r = await attune(['docs', 'ls', '--limit', limit], env);
      assert.equal(r.code, 1, limit);
      assert.match(r.stderr, /--limit must be a positive whole number/);
    }
    const version = await attune(['docs', 'show', 'handbook/customer-policies.md', '--version', 'abc'], env);
    assert.equal(version.code, 1);
    assert.match(version.stderr, /--version must be a positive whole number/);
    const since = await attune(['audit', 'ls', '--since', 'notadate'], env);
    assert.equal(since.code, 1);
    assert.match(since.stderr, /since "notadate" is not a date/);
    const future = JSON.parse((await attune(['audit', 'ls', '--since', '2999-01-01', '--json'], env)).stdout);
    assert.deepEqual(future, []);
    const past = JSON.parse((await attune(['audit', 'ls', '--since', '2000-01-01', '--json'], env)).stdout);
    assert.ok(past.length > 0);
    const rm = await attune(['docs', 'rm', 'no/such/doc.md'], env);
    assert.equal(rm.code, 1);
    assert.match(rm.stderr, /no such document/);
    const typo = join(work, 'no-such-kb');
    const missing = await attune(['docs', 'ls'], { ATTUNE_DIR: typo });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no knowledge base in/i);
    const { existsSync } = await import('node:fs');
    assert.equal(existsSync(typo), false, 'nothing created');
    const file = join(work, 'a-file');
    writeFileSync(file, 'x');
    const notDir = await attune(['versions'], { ATTUNE_DIR: file });
    assert.equal(notDir.code, 1);
    assert.match(notDir.stderr, /is not a directory/);
    assert.doesNotMatch(notDir.stderr, /\n\s+at /, 'no stack trace');
  });

  it('output over 64 KiB reaches a pipe whole', async () => {
    const big = join(work, 'big');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(big);
    const paragraph = 'Expense reports are filed within 30 days of the purchase, with receipts attached. ';
    writeFileSync(
      join(big, 'long.md'),
      `# Long\n\n${Array.from({ length: 60 }, (_v, i) => `## Part ${i}\n\n${paragraph.repeat(20)}`).join('\n\n')}\n`,
    );
    const dir = { ATTUNE_DIR: join(work, '.attune-big') };
    assert.equal((await attune(['sync', big, '--json'], dir)).code, 0);
    const r = await attune(['docs', 'show', 'big/long.md', '--json'], dir);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.length > 65536, `only ${r.stdout.length} bytes`);
    // A reader that is slow to start fills the pipe's 64 KiB buffer: exiting then used to drop the rest.
    const { execFileSync } = await import('node:child_process');
    const bin = join(import.meta.dirname, '..', '..', 'bin', 'attune.js');
    const piped = execFileSync(
      'sh',
      ['-c', `"${process.execPath}" "${bin}" docs show big/long.md --json | (sleep 2; cat)`],
      { env: { ...process.env, ...dir }, maxBuffer: 1 << 26 },
    ).toString();
    assert.equal(piped.length, r.stdout.length);
    assert.ok((JSON.parse(piped) as { chunks: unknown[] }).chunks.length > 10);
    // A reader that leaves early (| head) ends the output quietly: no EPIPE crash.
    const head = execFileSync(
      'bash',
      [
        '-c',
        `set -o pipefail; "${process.execPath}" "${bin}" docs show big/long.md 2>&1 | head -c 100 >/dev/null; echo "rc=$?"`,
      ],
      { env: { ...process.env, ...dir } },
    ).toString();
    assert.match(head, /^rc=0\s*$/, head);
  });

  it('ask refuses an empty question and an unknown adapter clearly', async () => {
    const empty = await attune(['ask', '  '], env);
    assert.equal(empty.code, 1);
    assert.match(empty.stderr, /question is empty/);
    const adapter = await attune(['ask', 'Hi?', '--adapter', 'nope'], env);
    assert.equal(adapter.code, 1);
    assert.match(adapter.stderr, /No adapter "nope"/);
  });
});
