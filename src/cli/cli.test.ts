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
    assert.deepEqual(defaults.map((m) => m.task).sort(), ['chat', 'embedding']);
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

  it('ask refuses an empty question and an unknown adapter clearly', async () => {
    const empty = await attune(['ask', '  '], env);
    assert.equal(empty.code, 1);
    assert.match(empty.stderr, /question is empty/);
    const adapter = await attune(['ask', 'Hi?', '--adapter', 'nope'], env);
    assert.equal(adapter.code, 1);
    assert.match(adapter.stderr, /No adapter "nope"/);
  });
});
