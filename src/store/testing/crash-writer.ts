/**
 * A writer process for the store's crash and lock tests, run as
 * `node --import tsx crash-writer.ts <dir> <mode> [docCount]`.
 *   loop:             rewrites every document round after round until killed, printing progress;
 *   loop-slow:        the same, but announcing "between <n>" and pausing after writing a write's
 *                     rows and before making them live, so a kill can be aimed at that window;
 *   batch-loop(-slow): loop(-slow) with upsertDocuments, BATCH documents per write;
 *   crash-on-doc:     writes round 2 one document at a time and dies by SIGKILL between writing
 *                     the middle document's new rows and making them live;
 *   crash-in-batch:   the same with batch writes: dies inside the batch holding the middle document;
 *   crash-in-delete:  deletes every document in one batch and dies before the deletion is live;
 *   hold:             takes the write lock, prints "holding", releases when stdin says "release".
 */
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { openLanceStore } from '../lance-store.ts';
import { crashDocument, crashEmbedding, crashRound } from './crash-documents.ts';

const BATCH = 4;

const [dir, mode, docCountArg] = process.argv.slice(2);
if (dir === undefined || mode === undefined)
  throw new Error('usage: crash-writer.ts <dir> <mode> [docCount]');
const docCount = Number(docCountArg ?? 20);
const batched = mode.startsWith('batch') || mode === 'crash-in-batch';

let upserts = 0;
const crashAt = mode.startsWith('crash') ? `doc-${Math.floor(docCount / 2)}` : undefined;
const store = await openLanceStore({
  dir,
  embedding: crashEmbedding,
  afterRowsWritten: async (docIds) => {
    if (crashAt !== undefined && docIds.includes(crashAt)) process.kill(process.pid, 'SIGKILL');
    if (mode.endsWith('-slow')) {
      process.stdout.write(`between ${upserts + docIds.length}\n`);
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
} else if (mode === 'crash-in-delete') {
  const ids = Array.from({ length: docCount }, (_, i) => `doc-${i}`);
  await store.deleteDocuments(ids, await store.nextVersion());
  throw new Error('the deletion should have been killed');
} else {
  const previous = (await store.listDocuments({ user: 'writer', groups: [], admin: true })).map((d) =>
    crashRound(d.title),
  );
  let round = Math.max(0, ...previous) + 1;
  for (;;) {
    const version = await store.nextVersion();
    const step = batched ? BATCH : 1;
    for (let i = 0; i < docCount; i += step) {
      const writes = Array.from({ length: Math.min(step, docCount - i) }, (_, n) =>
        crashDocument(i + n, round),
      );
      if (batched) await store.upsertDocuments(writes, version);
      else await store.upsertDocument(writes[0]!.document, writes[0]!.chunks, version);
      upserts += writes.length;
      process.stdout.write(`upserts ${upserts}\n`);
    }
    await store.commitVersion({ added: 0, changed: docCount, removed: 0, failed: 0, chunksEmbedded: 0 });
    round++;
    if (!mode.includes('loop')) break;
  }
  await store.close();
}
