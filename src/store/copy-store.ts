/**
 * Copies one knowledge store into another of any backend (LanceDB → PostgreSQL and back), then
 * proves the copy by counts and a checksum computed the same way on both sides.
 *
 * What is copied: every live document with its chunks and vectors, and every knowledge-base
 * version with its summary and note, under the same numbers (each document lands in the version
 * that introduced its current state, so `version` fields and cached answers keyed by version stay
 * valid). Not copied: superseded document states (history before a document's current state) and
 * timestamps, which are the copy's own.
 */
import { createHash } from 'node:crypto';
import type { Document } from '../ingest/document.ts';
import type { DocumentWrite, KnowledgeStore, StoredChunk, StoredDocument } from './knowledge-store.ts';
import type { Principal } from './principal.ts';
import { StoreError } from './store-error.ts';

const admin: Principal = { user: 'attune-copy', groups: [], admin: true };
const PAGE = 500;

export type CopyProgress = { phase: 'copy' | 'verify'; done: number; total: number };

export type CopyStoreOptions = {
  /** Documents per write; each write is atomic. Default 100. */
  batchDocuments?: number;
  onProgress?: (progress: CopyProgress) => void;
};

export type StoreCounts = { documents: number; chunks: number; versions: number };

export type CopyStoreResult = {
  counts: StoreCounts;
  /** sha256 over documents, chunks, vectors and versions; equal on both sides, or the copy throws. */
  checksum: string;
  seconds: number;
};

/**
 * Holds the source's writer lock for the whole copy, so nothing changes under it (and a version a
 * crashed writer left unrecorded is recorded first). The target must be empty.
 */
export async function copyStore(
  from: KnowledgeStore,
  to: KnowledgeStore,
  options: CopyStoreOptions = {},
): Promise<CopyStoreResult> {
  const started = performance.now();
  if (from.chunkVectors === undefined) {
    throw new StoreError(`The ${from.provider} store cannot give its vectors back, so it cannot be copied.`);
  }
  const [source, target] = [await from.embeddingModel(), await to.embeddingModel()];
  if (source.modelId !== target.modelId || source.dimensions !== target.dimensions) {
    throw new StoreError(
      `The target holds ${target.modelId} (${target.dimensions}-d) vectors, the source ${source.modelId} (${source.dimensions}-d).`,
      { hint: 'Create the target with the embedding model of the source.' },
    );
  }
  await from.beginWrite();
  try {
    const first = await to.beginWrite();
    try {
      if (first !== 1 || (await to.listDocuments(admin, { limit: 1 })).length > 0) {
        throw new StoreError(
          'The target knowledge store is not empty; a copy goes into a new, empty store.',
          {
            hint: 'Point --to at a new directory, or a new database or schema.',
          },
        );
      }
      const versions = await from.listVersions();
      const documents = await allDocuments(from);
      const byVersion = new Map<number, StoredDocument[]>();
      for (const document of documents) {
        const list = byVersion.get(document.version) ?? [];
        list.push(document);
        byVersion.set(document.version, list);
      }
      const batch = options.batchDocuments ?? 100;
      let done = 0;
      for (const version of versions) {
        const pending = byVersion.get(version.number) ?? [];
        for (let start = 0; start < pending.length; start += batch) {
          const writes = await Promise.all(
            pending.slice(start, start + batch).map((document) => readWrite(from, document)),
          );
          await to.upsertDocuments(writes, version.number);
          done += writes.length;
          options.onProgress?.({ phase: 'copy', done, total: documents.length });
        }
        const committed = await to.commitVersion(version.summary, version.note);
        if (committed.number !== version.number) {
          throw new StoreError(`Copying version ${version.number} produced version ${committed.number}.`);
        }
      }
      if (done !== documents.length) {
        throw new StoreError(
          `${documents.length - done} documents carry a version the source never recorded; nothing was verified.`,
        );
      }
    } finally {
      await to.endWrite();
    }
    const [a, b] = [await storeChecksum(from, options), await storeChecksum(to, options)];
    if (a.checksum !== b.checksum || JSON.stringify(a.counts) !== JSON.stringify(b.counts)) {
      throw new StoreError(
        `The copy differs from its source: ${JSON.stringify(b.counts)} vs ${JSON.stringify(a.counts)}, checksum ${b.checksum} vs ${a.checksum}.`,
      );
    }
    return { counts: a.counts, checksum: a.checksum, seconds: (performance.now() - started) / 1000 };
  } finally {
    await from.endWrite();
  }
}

/**
 * Counts and a sha256 over the live content of a store, independent of the backend: documents in
 * id order (metadata keys sorted), their chunks by ordinal with their float32 vectors, then the
 * versions. Timestamps are left out: a copy has its own.
 */
export async function storeChecksum(
  store: KnowledgeStore,
  options: Pick<CopyStoreOptions, 'onProgress'> = {},
): Promise<{ counts: StoreCounts; checksum: string }> {
  if (store.chunkVectors === undefined) {
    throw new StoreError(`The ${store.provider} store cannot give its vectors back to be checksummed.`);
  }
  const hash = createHash('sha256');
  const documents = await allDocuments(store);
  let chunks = 0;
  for (const [index, document] of documents.entries()) {
    hash.update(
      JSON.stringify([
        document.id,
        document.source,
        document.title,
        sortedEntries(document.metadata),
        [document.acl.public, document.acl.users, document.acl.groups],
        document.contentHash,
        document.version,
        document.chunkCount,
      ]),
    );
    const vectors = await store.chunkVectors(document.id);
    for (const chunk of await store.getChunks(document.id, admin)) {
      chunks++;
      hash.update(
        JSON.stringify([
          chunk.ordinal,
          chunk.id,
          chunk.contentHash,
          chunk.headingPath,
          chunk.page ?? null,
          chunk.tokenCount,
          chunk.version,
        ]),
      );
      const vector = vectors.get(chunk.ordinal);
      if (vector === undefined)
        throw new StoreError(`Chunk ${chunk.ordinal} of ${document.id} has no vector.`);
      hash.update(new Uint8Array(vector.buffer, vector.byteOffset, vector.byteLength));
    }
    options.onProgress?.({ phase: 'verify', done: index + 1, total: documents.length });
  }
  const versions = await store.listVersions();
  for (const version of versions)
    hash.update(JSON.stringify([version.number, version.summary, version.note ?? null]));
  return {
    counts: { documents: documents.length, chunks, versions: versions.length },
    checksum: hash.digest('hex'),
  };
}

async function allDocuments(store: KnowledgeStore): Promise<StoredDocument[]> {
  const out: StoredDocument[] = [];
  for (let offset = 0; ; offset += PAGE) {
    const page = await store.listDocuments(admin, { limit: PAGE, offset });
    out.push(...page);
    if (page.length < PAGE) return out;
  }
}

async function readWrite(from: KnowledgeStore, stored: StoredDocument): Promise<DocumentWrite> {
  const [chunks, vectors] = await Promise.all([
    from.getChunks(stored.id, admin),
    from.chunkVectors!(stored.id),
  ]);
  const document: Document = {
    id: stored.id,
    source: stored.source,
    title: stored.title,
    // The store keeps chunks, not the loaded text; neither backend reads these two fields.
    text: chunks.map((c) => c.text).join('\n\n'),
    sections: [],
    metadata: stored.metadata,
    acl: stored.acl,
    contentHash: stored.contentHash,
  };
  return {
    document,
    chunks: chunks.map((chunk: StoredChunk) => {
      const vector = vectors.get(chunk.ordinal);
      if (vector === undefined) throw new StoreError(`Chunk ${chunk.ordinal} of ${stored.id} has no vector.`);
      return {
        id: chunk.id,
        docId: chunk.docId,
        ordinal: chunk.ordinal,
        text: chunk.text,
        headingPath: chunk.headingPath,
        ...(chunk.page !== undefined ? { page: chunk.page } : {}),
        tokenCount: chunk.tokenCount,
        vector,
      };
    }),
  };
}

function sortedEntries(record: Record<string, unknown>): [string, unknown][] {
  return Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}
