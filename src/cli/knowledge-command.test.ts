import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { runAttune, startAttune } from './testing.ts';

describe('attune sync, stopped by a signal', () => {
  const work = mkdtempSync(join(tmpdir(), 'attune-sync-signal-'));
  const env = { ATTUNE_DIR: join(work, '.attune'), ATTUNE_THREADS: '1' };
  after(() => rmSync(work, { recursive: true, force: true }));

  it('SIGTERM mid-sync: commits what was written, says so, exits 143 within seconds; the next sync finishes', async () => {
    const folder = join(work, 'notes');
    mkdirSync(folder);
    const files = 120;
    for (let i = 0; i < files; i++)
      writeFileSync(
        join(folder, `note-${String(i).padStart(3, '0')}.md`),
        `# Room ${i}\n\nMeeting room ${i} on floor ${i % 7} seats ${i + 3} people; book it a day ahead through the front desk, and leave it tidy for the next team.\n`,
      );
    // Small batches, so the sync takes many of them and a stop waits for one short batch at most.
    writeFileSync(join(work, 'attune.config.json'), JSON.stringify({ ingest: { batchChunks: 8 } }));

    const sync = startAttune(['sync', folder], env, work);
    // Wait until the first batch is written (progress goes to stderr), then stop it mid-run.
    const deadline = Date.now() + 120_000;
    while (!/documents written/.test(sync.output().stderr)) {
      assert.ok(Date.now() < deadline, `no write within 2 minutes:\n${sync.output().stderr}`);
      assert.equal(sync.output().code, null, `exited before it was signalled:\n${sync.output().stderr}`);
      await sleep(50);
    }
    const signalled = Date.now();
    sync.child.kill('SIGTERM');
    const stopped = await sync.done;
    const seconds = (Date.now() - signalled) / 1000;
    assert.equal(stopped.code, 143, stopped.stderr);
    assert.ok(seconds < 5, `took ${seconds} s to stop`);

    // What was done: the documents written so far, committed as version 1, and what is left.
    const done = /version 1: (\d+) added, 0 changed, 0 removed/.exec(stopped.stdout);
    assert.ok(done, stopped.stdout + stopped.stderr);
    const added = Number(done[1]);
    const left = /stopped by SIGTERM: (\d+) document writes? left/.exec(stopped.stderr);
    assert.ok(left, stopped.stderr);
    assert.ok(added > 0 && added < files, `${added} of ${files} written before the stop`);
    assert.equal(added + Number(left[1]), files);
    const versions = JSON.parse((await runAttune(['versions', '--json'], env, work)).stdout) as {
      number: number;
      note?: string;
      summary: { added: number };
    }[];
    assert.equal(versions.length, 1);
    assert.equal(versions[0]!.summary.added, added);
    assert.match(versions[0]!.note ?? '', new RegExp(`stopped after ${added} of ${files} writes`));

    // Nothing corrupted: the next sync does exactly the rest, and every file is listed.
    const rest = await runAttune(['sync', folder, '--json'], env, work);
    assert.equal(rest.code, 0, rest.stderr);
    const summary = JSON.parse(rest.stdout) as { version: number; added: number; unchanged: number };
    assert.deepEqual([summary.version, summary.added, summary.unchanged], [2, files - added, added]);
    const ls = await runAttune(['docs', 'ls', '--json'], env, work);
    assert.equal(ls.code, 0, ls.stderr);
    const ids = (JSON.parse(ls.stdout) as { id: string }[]).map((d) => d.id).sort();
    assert.deepEqual(
      ids,
      Array.from({ length: files }, (_, i) => `notes/note-${String(i).padStart(3, '0')}.md`),
    );
  });
});
