/**
 * A writer process for the store's crash and lock tests, run as
 * `node --import tsx crash-writer.ts <dir> <mode> [docCount]`.
 *   loop:          rewrites every document round after round until killed, printing progress;
 *   loop-slow:     the same, but announcing "between <n>" and pausing after writing a document's
 *                  rows and before making them live, so a kill can be aimed at that window;
 *   crash-on-doc:  dies by SIGKILL between writing a document's new rows and making them live;
 *   hold:          takes the write lock, prints "holding", releases when stdin says "release".
 */
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { openLanceStore } from '../lance-store.ts';
import { crashDocument, crashEmbedding, crashRound } from './crash-documents.ts';

const [dir, mode, docCountArg] = process.argv.slice(2);
if (dir === undefined || mode === undefined)
  throw new Error('usage: crash-writer.ts <dir> <mode> [docCount]');
const docCount = Number(docCountArg ?? 20);

let upserts = 0;
const crashAt = mode === 'crash-on-doc' ? `doc-${Math.floor(docCount / 2)}` : undefined;
const store = await openLanceStore({
  dir,
  embedding: crashEmbedding,
  afterRowsWritten: async (docId) => {
    if (docId === crashAt) process.kill(process.pid, 'SIGKILL');
    if (mode === 'loop-slow') {
      process.stdout.write(`between ${upserts + 1}\n`);
      await sleep(100);
    }
  },
});

if (mode === 'hold') {
  const version = await store.nextVersion();
  const { document, chunks } = crashDocument(0, 0);
  await store.upsertDocument(document, chunks, version);
  process.stdout.write('holding\n');
  for await (const line of createInterface({ input: process.stdin })) {
    if (line.trim() === 'release') break;
  }
  await store.close();
  process.stdout.write('released\n');
  // The open stdin pipe would keep this process alive.
  process.stdin.destroy();
} else {
  const previous = (await store.listDocuments({ user: 'writer', groups: [], admin: true })).map((d) =>
    crashRound(d.title),
  );
  let round = Math.max(0, ...previous) + 1;
  for (;;) {
    const version = await store.nextVersion();
    for (let i = 0; i < docCount; i++) {
      const { document, chunks } = crashDocument(i, round);
      await store.upsertDocument(document, chunks, version);
      upserts++;
      process.stdout.write(`upserts ${upserts}\n`);
    }
    await store.commitVersion({ added: 0, changed: docCount, removed: 0, failed: 0, chunksEmbedded: 0 });
    round++;
    if (!mode.startsWith('loop')) break;
  }
  await store.close();
}
