/**
 * Bad-file corpus (issue #11.3, .4, .6, .8): every bad input at once in one real `attune sync`
 * (a child process). Each bad file fails alone with its reason named, every good file beside them
 * is stored, the sync prints its JSON summary and exits 1, and the child's peak memory stays
 * bounded (a zip bomb or a huge paragraph does not inflate it).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Attune } from '../attune.ts';
import { makeDocx, makePdf, makeZipBombDocx } from '../ingest/testing.ts';
import type { SyncSummary } from './knowledge-base.ts';

const bin = join(import.meta.dirname, '..', '..', 'bin', 'attune.js');
const MAX_FILE_BYTES = 4 * 1024 * 1024;
const PEAK_RSS_BOUND_MB = 1536;
const LONG_NAME = `${'n'.repeat(252)}.md`; // 255 bytes, the most a file system allows

const good: Record<string, string> = {
  'good.md': '# Good\n\nThe good fact is seven.\n',
  'table.csv': 'name,value\nalpha,1\nbeta,2\n',
  'page.html': '<html><head><title>Page</title></head><body><p>An HTML page that loads.</p></body></html>',
  [LONG_NAME]: '# Long name\n\nA file with a 255-byte name.\n',
  'new\nline.md': '# Newline\n\nA file whose name holds a newline.\n',
  'esc\u001b[31mape.md': '# Escape\n\nA file whose name holds a terminal escape.\n',
};

// File name (under the root) -> what the failure must say.
const expectedFailures: Record<string, RegExp> = {
  'liar.docx': /inflates past .* although its directory claims less/,
  'bomb.docx': /zip bomb|over the .* limit|inflates past/,
  'cell.csv': /file is 10\.0 MB, over the 4\.0 MB limit; raise maxFileBytes/,
  'invalid-utf8.md': /not valid UTF-8 text/,
  'garbage.md': /binary content/,
  'empty.md': /empty/i,
  'truncated.pdf': /pdf/i,
  'truncated.docx': /not a valid DOCX/i,
  'broken.jsonl': /line 2/,
};

// Links are passed over by policy: reported with why, but not failures (docs/security.md).
const expectedSkips: Record<string, RegExp> = {
  'outside.md': /symbolic link leading outside the synced folder/,
  'loop-a': /link loop/,
  'dangling.md': /link to nothing, or a link loop/,
};

describe('bad-file corpus', { timeout: 900_000 }, () => {
  const work = mkdtempSync(join(tmpdir(), 'attune-badfiles-'));
  const root = join(work, 'corpus');
  const env = { ATTUNE_DIR: join(work, '.attune') };
  let summary: SyncSummary;
  let code: number | null;
  let peakMb: number;

  before(async () => {
    mkdirSync(root);
    for (const [name, text] of Object.entries(good)) writeFileSync(join(root, name), text);
    // Invalid UTF-8 is refused, not indexed as replacement characters.
    writeFileSync(
      join(root, 'invalid-utf8.md'),
      Buffer.concat([Buffer.from('# Invalid\n\nNot UTF-8: '), Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0x0a])]),
    );
    // 1 MB of one paragraph (#11.4): it used to overflow the chunker's stack; now it is stored.
    writeFileSync(join(root, 'paragraph.md'), `# One paragraph\n\n${'telecommunications '.repeat(55_000)}\n`);
    writeFileSync(join(root, 'docx-good.docx'), await makeDocx());
    writeFileSync(join(root, 'pdf-good.pdf'), await makePdf());
    // A zip bomb whose size fields all claim 1,000 bytes (#11.6), and an honest one.
    const liar = Buffer.from(await makeZipBombDocx(100 * 1024 * 1024));
    for (let i = 0; i + 4 <= liar.length; i++) {
      const signature = liar.readUInt32LE(i);
      if (signature === 0x04034b50) liar.writeUInt32LE(1000, i + 22);
      if (signature === 0x02014b50) liar.writeUInt32LE(1000, i + 24);
    }
    writeFileSync(join(root, 'liar.docx'), liar);
    writeFileSync(join(root, 'bomb.docx'), await makeZipBombDocx(12 * 1024 * 1024));
    // A 10 MB CSV cell: over the size limit, refused by name before it is read whole.
    writeFileSync(join(root, 'cell.csv'), `a,b\n1,"${'x'.repeat(10 * 1024 * 1024)}"\n`);
    const garbage = Buffer.alloc(64 * 1024);
    for (let i = 0; i < garbage.length; i++) garbage[i] = (i * 7919) % 256;
    writeFileSync(join(root, 'garbage.md'), garbage);
    writeFileSync(join(root, 'empty.md'), '');
    const pdf = await makePdf();
    writeFileSync(join(root, 'truncated.pdf'), pdf.subarray(0, Math.floor(pdf.length / 3)));
    const docx = await makeDocx();
    writeFileSync(join(root, 'truncated.docx'), docx.subarray(0, Math.floor(docx.length / 2)));
    writeFileSync(join(root, 'broken.jsonl'), '{"text": "a fine line"}\n{not json\n');
    // Links (#11.3): out of the root to a restricted file, a loop, and one to nothing.
    mkdirSync(join(work, 'elsewhere'));
    writeFileSync(join(work, 'elsewhere', 'secret.md'), '# Secret\n\nThe vault code is 4242.\n');
    writeFileSync(join(work, 'elsewhere', 'secret.md.acl.json'), '{ "public": false, "groups": ["board"] }');
    symlinkSync(join(work, 'elsewhere', 'secret.md'), join(root, 'outside.md'));
    symlinkSync('loop-b', join(root, 'loop-a'));
    symlinkSync('loop-a', join(root, 'loop-b'));
    symlinkSync(join(root, 'missing.md'), join(root, 'dangling.md'));
    writeFileSync(
      join(work, 'attune.config.json'),
      JSON.stringify({ ingest: { maxFileBytes: MAX_FILE_BYTES } }),
    );

    const run = await syncWithPeakRss(root, env, work);
    code = run.code;
    peakMb = run.peakKb / 1024;
    assert.ok(run.stdout.trim().startsWith('{'), `a JSON summary, not a crash: ${run.stderr.slice(-2000)}`);
    summary = JSON.parse(run.stdout) as SyncSummary;
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  it('names every bad file with its reason and exits 1', () => {
    assert.equal(code, 1, 'failures make the exit code 1');
    const reasons = new Map(summary.failures.map((f) => [f.source.split('/').pop()!, f.reason]));
    for (const [name, reason] of Object.entries(expectedFailures)) {
      assert.ok(reasons.has(name), `${name} is reported (got ${[...reasons.keys()].join(', ')})`);
      assert.match(reasons.get(name)!, reason, name);
    }
    // Nothing good is among the failures.
    for (const name of Object.keys(good))
      assert.ok(!reasons.has(name), `${JSON.stringify(name)}: ${reasons.get(name)}`);
    assert.equal(summary.failed, summary.failures.length);
  });

  it('reports every skipped link with why, apart from the failures', () => {
    const skipped = new Map(summary.skipped.map((f) => [f.source.split('/').pop()!, f.reason]));
    for (const [name, reason] of Object.entries(expectedSkips)) {
      assert.ok(skipped.has(name), `${name} is reported as skipped (got ${[...skipped.keys()].join(', ')})`);
      assert.match(skipped.get(name)!, reason, name);
      assert.ok(!summary.failures.some((f) => f.source.endsWith(`/${name}`)), `${name} is not a failure`);
    }
  });

  it('stores every good file beside them, and nothing from outside the folder', async () => {
    const attune = await Attune.open({ env, cwd: work });
    try {
      const kb = await attune.knowledgeBase({ create: false });
      const ids = new Set(
        (await kb.listDocuments({ user: 'checker', groups: [], admin: true })).map((d) => d.id),
      );
      for (const name of [...Object.keys(good), 'paragraph.md', 'docx-good.docx', 'pdf-good.pdf'])
        assert.ok(ids.has(`corpus/${name}`), `${JSON.stringify(name)} stored (have ${ids.size})`);
      assert.ok(![...ids].some((id) => /outside|secret|loop|dangling/.test(id)), [...ids].join(', '));
      const paragraph = await kb.store.getChunks('corpus/paragraph.md', {
        user: 'checker',
        groups: [],
        admin: true,
      });
      assert.ok(paragraph.length > 100, `the 1 MB paragraph is chunked whole (${paragraph.length} chunks)`);
      assert.ok(existsSync(join(root, LONG_NAME)));
    } finally {
      await attune.close();
    }
  });

  it(`keeps the sync's peak memory under ${PEAK_RSS_BOUND_MB} MB`, () => {
    assert.ok(peakMb < PEAK_RSS_BOUND_MB, `peak RSS ${Math.round(peakMb)} MB`);
  });
});

describe('a folder that cannot be read', { timeout: 300_000 }, () => {
  it('is named as a failure, and what is stored from it is kept, not taken for deleted', async () => {
    const work = mkdtempSync(join(tmpdir(), 'attune-unreadable-'));
    const root = join(work, 'kb');
    const team = join(root, 'team');
    mkdirSync(team, { recursive: true });
    writeFileSync(join(root, 'open.md'), '# Open\n\nThe open fact is three.\n');
    writeFileSync(join(team, 'plan.md'), '# Plan\n\nThe team plan is nine.\n');
    symlinkSync(join(root, 'open.md'), join(root, 'alias.md'));
    const env = { ATTUNE_DIR: join(work, '.attune') };
    try {
      const first = await syncWithPeakRss(root, env, work);
      // A skipped link is reported, and is no reason to fail the run.
      assert.equal(first.code, 0, first.stderr.slice(-2000));
      const firstSummary = JSON.parse(first.stdout) as SyncSummary;
      assert.deepEqual(
        firstSummary.skipped.map((f) => f.source),
        [join(root, 'alias.md')],
      );
      assert.equal(firstSummary.failed, 0);
      chmodSync(team, 0o000);
      // Root reads any folder: the second sync runs without the capabilities that let it.
      const second = await syncWithPeakRss(root, env, work, { withoutDacOverride: process.getuid?.() === 0 });
      chmodSync(team, 0o755);
      assert.ok(second.stdout.trim().startsWith('{'), second.stderr.slice(-2000));
      const summary = JSON.parse(second.stdout) as SyncSummary;
      assert.equal(second.code, 1, 'the unread folder is a failure');
      assert.equal(summary.removed, 0, 'nothing under it is taken for deleted');
      const failure = summary.failures.find((f) => f.source === team);
      assert.ok(failure, JSON.stringify(summary.failures));
      assert.match(failure.reason, /folder could not be read \(EACCES\)/);
      const attune = await Attune.open({ env, cwd: work });
      try {
        const ids = (await attune.listDocuments({ user: 'checker', groups: [], admin: true })).map(
          (d) => d.id,
        );
        assert.deepEqual(ids.sort(), ['kb/open.md', 'kb/team/plan.md']);
      } finally {
        await attune.close();
      }
    } finally {
      chmodSync(team, 0o755);
      rmSync(work, { recursive: true, force: true });
    }
  });
});

/** `attune sync` under GNU time: its JSON summary, exit code and peak resident set (KB). */
function syncWithPeakRss(
  root: string,
  env: Record<string, string>,
  cwd: string,
  options: { withoutDacOverride?: boolean } = {},
): Promise<{ code: number | null; stdout: string; stderr: string; peakKb: number }> {
  // util-linux setpriv: drop the permission-bypassing capabilities, so root obeys file modes.
  const drop = options.withoutDacOverride
    ? [
        'setpriv',
        '--bounding-set=-dac_override,-dac_read_search',
        '--inh-caps=-dac_override,-dac_read_search',
      ]
    : [];
  return new Promise((resolve) => {
    const child = spawn(
      '/usr/bin/time',
      ['-f', 'PEAK_RSS_KB %M', ...drop, process.execPath, bin, 'sync', root, '--json'],
      {
        env: { ...process.env, ...env },
        cwd,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('close', (code) => {
      const peakKb = Number(/PEAK_RSS_KB (\d+)/.exec(stderr)?.[1] ?? Number.NaN);
      // GNU time exits with the command's status.
      resolve({ code, stdout, stderr, peakKb });
    });
  });
}
