/**
 * Crash matrix (issue #11.2): a real `attune sync` in a child process is killed with SIGKILL at
 * every write boundary (ATTUNE_CRASH_AT, src/knowledge/crash-point.ts) and at random moments.
 * After each kill the store must be consistent as it stands (every live document whole, at a
 * listed version; the answer cache never shows what the asking reader may no longer read), and
 * the next sync must repair it (or find nothing to do) so the store mirrors the folder exactly.
 * Run on both stores: the embedded LanceDB and PostgreSQL (a real server, started here).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Attune } from '../attune.ts';
import { runAttune } from '../cli/testing.ts';
import { seededRandom } from '../finetune/index.ts';
import type { Principal } from '../store/index.ts';
import { type PgServer, startPgServer } from '../store/testing/pg-server.ts';

const bin = join(import.meta.dirname, '..', '..', 'bin', 'attune.js');
const admin: Principal = { user: 'checker', groups: [], admin: true };
const bob: Principal = { user: 'bob', groups: ['engineering'] };
const DOCS = 8;
const SECRET_ID = 'kb/secret.md';
const QUESTION = 'What is the vault code?';

type Summary = { version: number; added: number; changed: number; removed: number; chunksEmbedded: number };

/** The folder as round `r` has it: half the pages rewritten, the vault page public on even rounds. */
function writeRound(root: string, round: number): void {
  for (let i = 0; i < DOCS; i++) {
    const r = (i + round) % 2 === 0 ? round : round - 1;
    if (round > 0 && (i + round) % 2 !== 0) continue; // unchanged this round
    writeFileSync(
      join(root, `page-${i}.md`),
      `# Page ${i} round ${Math.max(0, r)}\n\nPage ${i} describes topic ${i} in round ${Math.max(0, r)}.\n`,
    );
  }
  writeFileSync(
    join(root, 'secret.md'),
    `# Vault round ${round}\n\nThe vault code is ZX-${1000 + round}. It opens the vault.\n`,
  );
  writeFileSync(
    join(root, 'secret.md.acl.json'),
    JSON.stringify(round % 2 === 0 ? { public: true } : { public: false, groups: ['hr'] }),
  );
  // One page added and the previous round's one removed: each sync also deletes.
  rmSync(join(root, `extra-${round - 1}.md`), { force: true });
  writeFileSync(join(root, `extra-${round}.md`), `# Extra round ${round}\n\nExtra page of round ${round}.\n`);
}

function roundOf(title: string): number {
  return Number(/round (\d+)$/.exec(title)?.[1] ?? Number.NaN);
}

for (const backend of ['lancedb', 'postgres'] as const) crashMatrix(backend);

/**
 * The same matrix on each store. PostgreSQL writes a batch in one transaction, so it has no
 * "rows appended but hidden" moment to crash at; every other boundary is the same.
 */
function crashMatrix(backend: 'lancedb' | 'postgres'): void {
  describe(`sync crash matrix (${backend})`, {
    timeout: 600_000 + Number(process.env.ATTUNE_CRASH_RANDOM_KILLS ?? 0) * 60_000,
  }, () => {
    const work = mkdtempSync(join(tmpdir(), 'attune-crash-'));
    const root = join(work, 'kb');
    const env: Record<string, string> = { ATTUNE_DIR: join(work, '.attune') };
    let server: PgServer | undefined;
    let attune: Attune;
    let syncMs = 0;

    const sync = async (extraEnv: Record<string, string> = {}) =>
      runAttune(['sync', root, '--json'], { ...env, ...extraEnv }, work);

    before(async () => {
      if (backend === 'postgres') {
        server = await startPgServer();
        env.ATTUNE_STORE_URL = await server.createDatabase('crash_matrix');
      }
      rmSync(root, { recursive: true, force: true });
      writeFileSync(join(work, 'attune.config.json'), JSON.stringify({ ingest: { batchChunks: 3 } }));
      mkdirSync(root);
      writeRound(root, 0);
      const started = performance.now();
      const first = await sync();
      syncMs = performance.now() - started;
      assert.equal(first.code, 0, first.stderr);
      attune = await Attune.open({
        cwd: work,
        env,
        config: { models: { chat: 'smollm2-135m-instruct' } },
      });
      // The cached answer the matrix tries to leak: produced while the vault page was public.
      const cached = await attune.ask(QUESTION, { principal: bob, maxTokens: 24 });
      assert.ok(
        cached.sources.some((s) => s.docId === SECRET_ID) || cached.closest?.docId === SECRET_ID,
        'the first answer used the vault page',
      );
    });
    after(async () => {
      await attune?.close();
      await server?.stop();
      rmSync(work, { recursive: true, force: true });
    });

    /** What must hold after any kill, before anything repairs it. */
    async function assertConsistent(label: string, round: number, ask = true): Promise<void> {
      const kb = await attune.knowledgeBase({ create: false });
      const versions = await kb.versions();
      const numbers = versions.map((v) => v.number);
      assert.deepEqual(
        numbers,
        numbers.map((_, i) => i + 1),
        `${label}: versions are 1..n without gaps`,
      );
      const current = numbers.at(-1) ?? 0;
      const docs = await kb.listDocuments(admin);
      for (const doc of docs) {
        assert.ok(
          doc.version <= current,
          `${label}: ${doc.id} is live at version ${doc.version}, listed up to ${current}`,
        );
        const r = roundOf(doc.title);
        assert.ok(
          r === round || r === round - 1 || doc.id.startsWith('kb/page-'),
          `${label}: ${doc.id} round ${r}`,
        );
        const chunks = await kb.store.getChunks(doc.id, admin);
        assert.equal(chunks.length, doc.chunkCount, `${label}: ${doc.id} has all its chunks`);
        for (const chunk of chunks) {
          assert.equal(chunk.version, doc.version, `${label}: ${doc.id}'s chunks are of its live state`);
          if (doc.id === SECRET_ID)
            assert.match(chunk.text, new RegExp(`ZX-${1000 + r}`), `${label}: one state`);
        }
      }
      if (!ask) return;
      // The cache: bob may be shown the vault page only while he may read it as it now stands.
      const readable = (await kb.store.getDocument(SECRET_ID, bob)) !== undefined;
      const answer = await attune.ask(QUESTION, { principal: bob, maxTokens: 24 });
      const shown = [...answer.sources.map((s) => s.docId), answer.closest?.docId];
      if (!readable) {
        assert.ok(
          !shown.includes(SECRET_ID),
          `${label}: bob was shown the restricted page (cached: ${answer.cached})`,
        );
        assert.doesNotMatch(answer.answer, /ZX-\d+/, `${label}: the restricted code leaked`);
      }
      if (answer.cached)
        assert.equal(answer.kbVersion, current, `${label}: a cache hit is of the current version`);
    }

    /** After the repair sync: the store mirrors the folder of round `round`, the last version recorded. */
    async function assertMirrors(label: string, round: number, repair: Summary): Promise<void> {
      const kb = await attune.knowledgeBase({ create: false });
      const docs = await kb.listDocuments(admin);
      const expected = [
        ...Array.from({ length: DOCS }, (_, i) => `kb/page-${i}.md`),
        `kb/extra-${round}.md`,
        SECRET_ID,
      ].sort();
      assert.deepEqual(
        docs.map((d) => d.id).sort(),
        expected,
        `${label}: the store holds exactly the folder's files`,
      );
      for (const doc of docs) {
        const want = doc.id.startsWith('kb/page-')
          ? Math.max(0, (Number(/page-(\d+)/.exec(doc.id)![1]) + round) % 2 === 0 ? round : round - 1)
          : round;
        assert.equal(roundOf(doc.title), want, `${label}: ${doc.id} is current`);
      }
      const versions = await kb.versions();
      const last = versions.at(-1)!;
      assert.doesNotMatch(last.note ?? '', /not recorded yet/, `${label}: the last version is recorded`);
      assert.equal(repair.version, last.number, `${label}: the repair sync reports the current version`);
      assert.equal(
        (await kb.store.getDocument(SECRET_ID, bob)) !== undefined,
        round % 2 === 0,
        `${label}: the vault page's ACL is the sidecar's`,
      );
    }

    const boundaries = [
      'loaded',
      'began',
      'rows:1',
      'written:1',
      'rows:2',
      'written:2',
      'removed',
      'committed',
      'optimized',
    ].filter((b) => backend === 'lancedb' || !b.startsWith('rows:'));
    // The default run kills LanceDB at two random moments too and PostgreSQL at its boundaries
    // only (the suite's time); a soak run asks for many on both:
    //   ATTUNE_CRASH_RANDOM_KILLS=40 node --import tsx --test src/knowledge/crash-matrix.test.ts
    const prng = seededRandom(11);
    const randomKills = Number(process.env.ATTUNE_CRASH_RANDOM_KILLS ?? (backend === 'lancedb' ? 2 : 0));

    it(`kill -9 at ${boundaries.length} write boundaries and ${randomKills} random moments`, async () => {
      let round = 0;
      const plan: { label: string; crashAt?: string; delayMs?: number }[] = [
        ...boundaries.map((b) => ({ label: b, crashAt: b })),
        ...Array.from({ length: randomKills }, (_, i) => {
          // Somewhere between start-up and the end of a sync that takes as long as the first one.
          const delayMs = Math.round(syncMs * (0.3 + 0.7 * prng()));
          return { label: `random ${i + 1} at ${delayMs} ms`, delayMs };
        }),
      ];
      for (const step of plan) {
        round++;
        writeRound(root, round);
        let killed: boolean;
        if (step.crashAt) {
          const crashed = await sync({ ATTUNE_CRASH_AT: step.crashAt });
          assert.equal(crashed.code, null, `${step.label}: the sync was killed (${crashed.stderr})`);
          killed = true;
        } else {
          killed = await syncKilledAfter(step.delayMs!, { ...env }, root, work);
        }
        await assertConsistent(step.label, round);
        const repair = await sync();
        assert.equal(repair.code, 0, `${step.label}: the next sync succeeds: ${repair.stderr}`);
        const summary = JSON.parse(repair.stdout) as Summary;
        if (step.crashAt === 'committed' || step.crashAt === 'optimized')
          assert.deepEqual(
            [summary.added, summary.changed, summary.removed, summary.chunksEmbedded],
            [0, 0, 0, 0],
            `${step.label}: everything was written; the next sync has nothing to do`,
          );
        await assertMirrors(`${step.label}${killed ? '' : ' (finished before the kill)'}`, round, summary);
        await assertConsistent(`${step.label}, repaired`, round, false);
      }
    });
  });
}

/** Starts a sync and kills it with SIGKILL after `delayMs`; false when it finished first. */
function syncKilledAfter(
  delayMs: number,
  env: Record<string, string>,
  root: string,
  cwd: string,
): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, 'sync', root, '--json'], {
      env: { ...process.env, ...env },
      cwd,
      stdio: 'ignore',
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), delayMs);
    child.on('close', (_code, signal) => {
      clearTimeout(timer);
      resolve(signal === 'SIGKILL');
    });
  });
}
