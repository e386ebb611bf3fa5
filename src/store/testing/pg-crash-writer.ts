/**
 * A writer process for the Postgres store's crash and lock tests, run as
 * `node --import tsx pg-crash-writer.ts <url> <schema> <mode> [docCount]`.
 *   loop:          rewrites every document round after round until killed, printing progress;
 *   crash-on-doc:  writes round 2 one document at a time and dies by SIGKILL inside the middle
 *                  document's transaction, after its rows are written and before COMMIT;
 *   hold:          takes the write lock, prints "holding", releases when stdin says "release".
 */
import { createInterface } from 'node:readline';
import { openPostgresStore } from '../postgres-store.ts';
import { crashDocument, crashEmbedding, crashRound } from './crash-documents.ts';

const [url, schema, mode, docCountArg] = process.argv.slice(2);
if (url === undefined || schema === undefined || mode === undefined)
  throw new Error('usage: pg-crash-writer.ts <url> <schema> <mode> [docCount]');
const docCount = Number(docCountArg ?? 20);
const crashAt = mode === 'crash-on-doc' ? `doc-${Math.floor(docCount / 2)}` : undefined;

let upserts = 0;
const store = await openPostgresStore({
  url,
  schema,
  embedding: crashEmbedding,
  afterRowsWritten: (docIds) => {
    if (crashAt !== undefined && docIds.includes(crashAt)) process.kill(process.pid, 'SIGKILL');
  },
});

if (mode === 'hold') {
  const version = await store.beginWrite();
  const { document, chunks } = crashDocument(0, 0);
  await store.upsertDocument(document, chunks, version);
  process.stdout.write('holding\n');
  for await (const line of createInterface({ input: process.stdin })) {
    if (line.trim() === 'release') break;
  }
  await store.close();
  process.stdout.write('released\n');
  process.stdin.destroy();
} else {
  const previous = (await store.listDocuments({ user: 'writer', groups: [], admin: true })).map((d) =>
    crashRound(d.title),
  );
  let round = Math.max(0, ...previous) + 1;
  for (;;) {
    const version = await store.beginWrite();
    for (let i = 0; i < docCount; i++) {
      const { document, chunks } = crashDocument(i, round);
      await store.upsertDocument(document, chunks, version);
      upserts++;
      process.stdout.write(`upserts ${upserts}\n`);
    }
    await store.commitVersion({ added: 0, changed: docCount, removed: 0, failed: 0, chunksEmbedded: 0 });
    await store.endWrite();
    round++;
    if (mode !== 'loop') break;
  }
  await store.close();
}
