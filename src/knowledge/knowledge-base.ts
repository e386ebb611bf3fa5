import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve } from 'node:path';
import type { AttuneConfig } from '../config/index.ts';
import {
  type Acl,
  type Chunk,
  chunkDocument,
  type Document,
  isUrl,
  type LoadOptions,
  type LoadResult,
  loadPath,
  loadUrl,
} from '../ingest/index.ts';
import { AttuneError } from '../models/model-error.ts';
import type { EmbeddingModel } from '../models/model-spec.ts';
import type { Models } from '../models/models.ts';
import {
  type DocumentSnapshot,
  type DocumentWrite,
  type EmbeddedChunk,
  type KbVersion,
  type KnowledgeStore,
  openKnowledgeStore,
  openLanceStore,
  type Principal,
  type StoredDocument,
  StoreNotFoundError,
  type UpsertResult,
} from '../store/index.ts';
import { CrashPoints } from './crash-point.ts';

export type SyncProgress =
  | { phase: 'load'; done: number; total: number | undefined; source: string }
  | { phase: 'embed'; done: number; total: number }
  | { phase: 'write'; done: number; total: number };

export type SyncFailure = { source: string; id?: string; reason: string };

export type SyncSummary = {
  /** The version this run committed; the unchanged current one when nothing changed. */
  version: number | undefined;
  added: number;
  changed: number;
  removed: number;
  unchanged: number;
  failed: number;
  chunksEmbedded: number;
  failures: SyncFailure[];
  /** Passed over by policy (symbolic links), each with why; not failures. */
  skipped: SyncFailure[];
  durationMs: number;
};

export type SyncOptions = {
  /** Remove stored documents under these sources that no longer exist (sync), or keep them (ingest). */
  removeMissing?: boolean;
  /** Overrides sidecars and rules for every document of this run (a CLI flag). */
  acl?: Acl;
  note?: string;
  onProgress?: (progress: SyncProgress) => void;
  /**
   * Stops the run at the next safe point: between files while loading, between batches while
   * writing. What was written by then is committed as a version, and the run rejects with
   * `SyncStoppedError`, which says what was done; the next sync does the rest.
   */
  signal?: AbortSignal;
  /**
   * Documents are embedded and written together until their chunks reach this many (default 128):
   * a store write has a fixed cost (two LanceDB commits), which many small documents written one
   * by one would pay many times. A crash keeps each document wholly old or wholly new either way.
   */
  batchChunks?: number;
};

/**
 * A sync or ingest stopped by its `signal`. `summary` is what it did: the documents it wrote are
 * committed as `summary.version` (or, when it wrote nothing, that is the unchanged current
 * version); `remaining` writes (documents to add or change, removals) are left for the next sync,
 * which finds them still different from the store.
 */
export class SyncStoppedError extends AttuneError {
  readonly summary: SyncSummary;
  readonly remaining: number;
  constructor(summary: SyncSummary, remaining: number, options: { cause?: unknown } = {}) {
    const written = summary.added + summary.changed + summary.removed;
    super(
      `The sync was stopped: ${written} document${written === 1 ? '' : 's'} written${written > 0 ? ` and committed as version ${summary.version}` : ''}, ${remaining} left for the next sync.`,
      { hint: 'Run the same sync again to finish it.', ...options },
    );
    this.name = 'SyncStoppedError';
    this.summary = summary;
    this.remaining = remaining;
  }
}

const admin: Principal = { user: 'attune-sync', groups: [], admin: true };
const POINTER_FILE = 'kb.json';
const EMBED_BATCH = 32;
const BATCH_CHUNKS = 128;

/**
 * The knowledge base: keeps the store an exact, current mirror of its sources. Loads, chunks
 * with the embedding model's own tokenizer, embeds only what changed, writes documents in batches
 * (each document atomic), and commits one version per run that changed something.
 */
export class KnowledgeBase {
  readonly store: KnowledgeStore;
  readonly dir: string;
  readonly #config: AttuneConfig;
  readonly #models: Models;
  readonly #embeddingName: string;
  readonly #crash: CrashPoints;

  private constructor(
    config: AttuneConfig,
    models: Models,
    store: KnowledgeStore,
    embeddingName: string,
    crash: CrashPoints,
  ) {
    this.#config = config;
    this.#crash = crash;
    this.#models = models;
    this.store = store;
    this.dir = config.dir;
    this.#embeddingName = embeddingName;
  }

  /**
   * Opens the knowledge base in `config.dir`, creating it on first use. Its index was built with
   * one embedding model; configuring another needs `reindex` first, so searches never mix spaces.
   */
  /**
   * Opens the knowledge base in `config.dir`, creating it unless `create` is false: reads must not
   * leave an empty store behind in a mistyped directory, and say that none exists instead.
   */
  static async open(
    config: AttuneConfig,
    models: Models,
    options: {
      create?: boolean;
      /** An already open store to use instead of the configured one (its embedding model must match). */
      store?: KnowledgeStore;
    } = {},
  ): Promise<KnowledgeBase> {
    const wanted = config.models.embedding;
    if (options.store !== undefined) {
      await assertEmbedding(options.store, wanted, 'the given store');
      return new KnowledgeBase(config, models, options.store, wanted, new CrashPoints(config.crashAt));
    }
    if (config.store.kind === 'postgres') return KnowledgeBase.#openShared(config, models, options);
    const kind = await stat(config.dir).then(
      (s) => (s.isDirectory() ? 'dir' : 'other'),
      () => 'missing',
    );
    if (kind === 'other')
      throw new AttuneError(`ATTUNE_DIR ${config.dir} is not a directory.`, {
        hint: 'Point ATTUNE_DIR (or --dir) at a knowledge-base directory, or at a path that does not exist yet.',
      });
    const pointer = await readPointer(config.dir);
    if (!pointer && options.create === false)
      throw new AttuneError(`There is no knowledge base in ${config.dir}.`, {
        hint: 'Check ATTUNE_DIR (or --dir), or create one with: attune sync <folder|file|url>',
      });
    if (pointer && pointer.embeddingModel !== wanted) {
      throw new AttuneError(
        `The knowledge base in ${config.dir} was indexed with "${pointer.embeddingModel}", but the configured embedding model is "${wanted}".`,
        {
          hint: `Run: attune reindex --embedding-model ${wanted}   (the current index keeps serving until it completes)`,
        },
      );
    }
    const indexDir = join(config.dir, pointer?.index ?? indexDirName(wanted));
    const embedder = await models.embedding(wanted);
    const crash = new CrashPoints(config.crashAt);
    const store = await openLanceStore({
      dir: indexDir,
      embedding: { modelId: wanted, dimensions: embedder.dimensions },
      ...(crash.armed ? { afterRowsWritten: () => crash.hit('rows') } : {}),
    });
    if (!pointer) await writePointer(config.dir, { index: basename(indexDir), embeddingModel: wanted });
    return new KnowledgeBase(config, models, store, wanted, crash);
  }

  /**
   * The knowledge base in a PostgreSQL database (config.store.url): no pointer file, the store's
   * own metadata names its embedding model, and several processes may open it at once.
   */
  static async #openShared(
    config: AttuneConfig,
    models: Models,
    options: { create?: boolean },
  ): Promise<KnowledgeBase> {
    const wanted = config.models.embedding;
    const location = { kind: 'postgres' as const, url: config.store.url ?? '' };
    let store: KnowledgeStore;
    try {
      store = await openKnowledgeStore(location);
    } catch (error) {
      if (!(error instanceof StoreNotFoundError)) throw error;
      if (options.create === false)
        throw new AttuneError(error.message.replace('knowledge store', 'knowledge base'), {
          hint: 'Check ATTUNE_STORE_URL (or store.url), or create one with: attune sync <folder|file|url>',
        });
      const embedder = await models.embedding(wanted);
      store = await openKnowledgeStore(location, {
        embedding: { modelId: wanted, dimensions: embedder.dimensions },
      });
    }
    await assertEmbedding(store, wanted, 'the PostgreSQL knowledge store');
    return new KnowledgeBase(config, models, store, wanted, new CrashPoints(config.crashAt));
  }

  get embeddingModelName(): string {
    return this.#embeddingName;
  }

  /** Adds new and changed documents from paths and URLs; never removes. */
  ingest(sources: string[], options: SyncOptions = {}): Promise<SyncSummary> {
    return this.sync(sources, { ...options, removeMissing: options.removeMissing ?? false });
  }

  /** Makes the store mirror the sources: adds, re-ingests changed, removes vanished. */
  async sync(sources: string[], options: SyncOptions = {}): Promise<SyncSummary> {
    const started = performance.now();
    const removeMissing = options.removeMissing ?? true;
    const summary = emptySummary();

    // 1. Load every source. A failed file is reported and its stored state left untouched.
    const seen = new Set<string>();
    const unreadFolders: string[] = [];
    const documents: Document[] = [];
    let loaded = 0;
    for (const source of sources) {
      const results = await this.#load(source, options, (r) => {
        loaded++;
        options.onProgress?.({ phase: 'load', done: loaded, total: undefined, source: sourceOf(r) });
      }).catch(async (error: unknown) => {
        if (!options.signal?.aborted) throw error;
        // Stopped before anything was compared or written: the store is as it was.
        summary.version = (await this.store.currentVersion())?.number;
        summary.durationMs = performance.now() - started;
        throw new SyncStoppedError(summary, 0, { cause: error });
      });
      for (const result of results) {
        if (result.ok) {
          seen.add(result.document.id);
          documents.push(result.document);
        } else {
          if (result.id) seen.add(result.id);
          if (result.folderId !== undefined) unreadFolders.push(result.folderId);
          (result.skipped ? summary.skipped : summary.failures).push({
            source: result.source,
            ...(result.id ? { id: result.id } : {}),
            reason: result.reason,
          });
        }
      }
    }
    summary.failed = summary.failures.length;
    this.#crash.hit('loaded');

    // 2. Only documents whose content hash changed are chunked and embedded. The writer lock is
    // taken before comparing, so another process cannot commit between the comparison and the write.
    const version = await this.store.beginWrite();
    this.#crash.hit('began');
    try {
      return await this.#apply(sources, documents, removeMissing, seen, version, summary, started, {
        ...options,
        unreadFolders,
      });
    } finally {
      await this.store.endWrite();
    }
  }

  /**
   * Writes documents built in code (not loaded from sources) as one new version: changed ones are
   * re-chunked and re-embedded, unchanged ones skipped, nothing removed. The freshness probe uses
   * it to change a fact in a copy of the knowledge base.
   */
  async update(documents: Document[], options: SyncOptions = {}): Promise<SyncSummary> {
    const started = performance.now();
    const summary = emptySummary();
    const ids = documents.map((d) => d.id);
    const version = await this.store.beginWrite();
    try {
      return await this.#apply([], documents, false, new Set(ids), version, summary, started, {
        ...options,
        note: options.note ?? `update ${ids.join(' ')}`.slice(0, 500),
      });
    } finally {
      await this.store.endWrite();
    }
  }

  async #apply(
    sources: string[],
    documents: Document[],
    removeMissing: boolean,
    seen: Set<string>,
    version: number,
    summary: SyncSummary,
    started: number,
    options: SyncOptions & { unreadFolders?: string[] },
  ): Promise<SyncSummary> {
    const embedder = await this.#models.embedding(this.#embeddingName);
    const tokenizer = await this.#models.tokenizer(this.#embeddingName);
    const pending: { document: Document; chunks: Chunk[]; existed: boolean }[] = [];
    // One listing instead of a lookup per document: at ingest scale the per-document queries
    // cost more than the comparison itself.
    const storedDocs = await listAll(this.store);
    const storedHashes = new Map(storedDocs.map((d) => [d.id, d.contentHash]));
    for (const document of documents) {
      const storedHash = storedHashes.get(document.id);
      if (storedHash === document.contentHash) {
        summary.unchanged++;
        continue;
      }
      // A file that cannot be chunked fails alone, named; the rest of the sync goes on and what is
      // stored for it stays as it was.
      let chunks: Chunk[];
      try {
        chunks = chunkDocument(document, {
          tokenizer,
          maxTokens: chunkTokensFor(this.#config, embedder),
          overlapTokens: this.#config.ingest.overlapTokens,
        });
      } catch (error) {
        summary.failed++;
        summary.failures.push({
          source: document.source,
          id: document.id,
          reason: `chunking failed: ${(error as Error).message}`,
        });
        continue;
      }
      pending.push({ document, chunks, existed: storedHash !== undefined });
    }
    const toRemove = removeMissing
      ? this.#vanished(sources, seen, storedDocs, options.unreadFolders ?? [])
      : [];
    if (pending.length === 0 && toRemove.length === 0) {
      summary.version = (await this.store.currentVersion())?.number;
      summary.durationMs = performance.now() - started;
      return summary;
    }

    // 3. Embed and write in batches across documents: memory stays bounded by the batch, and the
    // store's fixed cost per write is paid once per batch instead of once per document.
    const totalChunks = pending.reduce((n, p) => n + p.chunks.length, 0);
    const totalWrites = pending.length + toRemove.length;
    let written = 0;
    let failedWrites = 0;
    let chunksWritten = 0;
    // Stopped by the signal: between batches (a batch under way is embedded or written whole, or
    // not at all), or before the removals. What was written is then committed below.
    let stop: unknown;
    try {
      await embedAndWrite(this.store, embedder, pending, version, {
        batchChunks: options.batchChunks ?? this.#config.ingest.batchChunks ?? BATCH_CHUNKS,
        ...(options.signal ? { signal: options.signal } : {}),
        onEmbedded: (n) => {
          summary.chunksEmbedded += n;
          options.onProgress?.({ phase: 'embed', done: summary.chunksEmbedded, total: totalChunks });
        },
        onWritten: (results, chunks) => {
          chunksWritten += chunks;
          for (const result of results) {
            if (result.status === 'added') summary.added++;
            else if (result.status === 'changed') summary.changed++;
            else summary.unchanged++;
          }
          written += results.length;
          options.onProgress?.({ phase: 'write', done: written + failedWrites, total: totalWrites });
          this.#crash.hit('written');
        },
        onFailed: ({ document }, error) => {
          summary.failed++;
          summary.failures.push({
            source: document.source,
            id: document.id,
            reason: `${error instanceof StageError ? error.stage : 'writing'} failed: ${causeMessage(error)}; what is stored for it is kept`,
          });
          failedWrites++;
          options.onProgress?.({ phase: 'write', done: written + failedWrites, total: totalWrites });
        },
      });
      if (toRemove.length > 0) {
        options.signal?.throwIfAborted();
        const removed = await this.store.deleteDocuments(toRemove, version);
        summary.removed += removed.filter(Boolean).length;
        this.#crash.hit('removed');
        written += toRemove.length;
        options.onProgress?.({ phase: 'write', done: written + failedWrites, total: totalWrites });
      }
    } catch (error) {
      if (!options.signal?.aborted) throw error;
      stop = error;
    }
    const stopped = stop !== undefined;
    // Chunks embedded for a batch the stop kept from being written are not in this version.
    // So are those of a document that failed alone.
    if (stopped || failedWrites > 0) summary.chunksEmbedded = chunksWritten;
    if (written === 0) {
      summary.version = (await this.store.currentVersion())?.number;
      summary.durationMs = performance.now() - started;
      if (stopped) throw new SyncStoppedError(summary, totalWrites, { cause: stop });
      // Every document failed alone and none was removed: no version records a run that stored nothing.
      return summary;
    }
    const note = options.note ?? `${removeMissing ? 'sync' : 'ingest'} ${sources.join(' ')}`;
    const committed = await this.store.commitVersion(
      {
        added: summary.added,
        changed: summary.changed,
        removed: summary.removed,
        failed: summary.failed,
        chunksEmbedded: summary.chunksEmbedded,
      },
      stopped
        ? `${note.slice(0, 440)} (stopped after ${written} of ${totalWrites} writes)`
        : note.slice(0, 500),
    );
    summary.version = committed.number;
    this.#crash.hit('committed');
    if (stopped) {
      // The compaction waits for the next run: a stop should be quick.
      summary.durationMs = performance.now() - started;
      throw new SyncStoppedError(summary, totalWrites - written, { cause: stop });
    }
    // Compacts the small writes of this run and builds or refreshes the ANN index once the table
    // has outgrown exact search.
    await this.store.optimize();
    this.#crash.hit('optimized');
    summary.durationMs = performance.now() - started;
    return summary;
  }

  /** Removes one document (a new version records it). */
  async remove(id: string): Promise<boolean> {
    const version = await this.store.nextVersion();
    const removed = await this.store.deleteDocument(id, version);
    if (removed) {
      await this.store.commitVersion(
        { added: 0, changed: 0, removed: 1, failed: 0, chunksEmbedded: 0 },
        `rm ${id}`,
      );
    }
    return removed;
  }

  listDocuments(
    principal: Principal,
    options: { limit?: number; offset?: number } = {},
  ): Promise<StoredDocument[]> {
    return this.store.listDocuments(principal, options);
  }

  versions(): Promise<KbVersion[]> {
    return this.store.listVersions();
  }

  close(): Promise<void> {
    return this.store.close();
  }

  /**
   * Re-embeds the knowledge base into a new index with another embedding model, then switches the
   * pointer in one rename. The whole history is replayed, version by version under the same
   * numbers: every document state each version wrote (re-chunked with the new model's tokenizer)
   * and every removal, with the version's summary and note; then the reindex itself is one more
   * version, which writes no document. So `documentAt` still shows what an earlier answer saw, and
   * audit records keep resolving. Until the switch the current index keeps serving and no sync can
   * write to it; a crash leaves it in charge.
   */
  static async reindex(
    config: AttuneConfig,
    models: Models,
    newModel: string,
    onProgress?: (p: SyncProgress) => void,
  ): Promise<{ from: string; to: string; documents: number; versions: number; chunksEmbedded: number }> {
    if (config.store.kind === 'postgres')
      throw new AttuneError('reindex does not support the PostgreSQL store yet.', {
        hint: 'Copy the store to a LanceDB directory (attune store copy), reindex there, and copy it back.',
      });
    const pointer = await readPointer(config.dir);
    if (!pointer) throw new AttuneError(`There is no knowledge base in ${config.dir} to reindex.`);
    if (pointer.embeddingModel === newModel) {
      return { from: newModel, to: newModel, documents: 0, versions: 0, chunksEmbedded: 0 };
    }
    const old = await openKnowledgeStore({ kind: 'lancedb', dir: join(config.dir, pointer.index) });
    // Holding the old index's writer lock keeps syncs out until the switch, so none is lost; it also
    // records any version a crashed writer left unrecorded, so that one is replayed too.
    await old.beginWrite();
    const embedder = await models.embedding(newModel);
    const tokenizer = await models.tokenizer(newModel);
    const targetName = `${indexDirName(newModel)}-${Date.now()}`;
    const target = await openKnowledgeStore(
      { kind: 'lancedb', dir: join(config.dir, targetName) },
      { embedding: { modelId: newModel, dimensions: embedder.dimensions } },
    );
    let replayed: { documents: number; versions: number; chunksEmbedded: number };
    try {
      replayed = await replayHistory(old, target, embedder, {
        // Re-chunking from the stored text keeps chunk bounds right for the new tokenizer.
        rechunk: (document) =>
          chunkDocument(document, {
            tokenizer,
            maxTokens: chunkTokensFor(config, embedder),
            overlapTokens: config.ingest.overlapTokens,
          }),
        note: `reindex with ${newModel}`,
        ...(onProgress ? { onProgress } : {}),
      });
    } catch (error) {
      await target.close();
      await old.close();
      await rm(join(config.dir, targetName), { recursive: true, force: true });
      throw error;
    }
    await target.close();
    await old.close();
    await writePointer(config.dir, { index: targetName, embeddingModel: newModel });
    await rm(join(config.dir, pointer.index), { recursive: true, force: true });
    return { from: pointer.embeddingModel, to: newModel, ...replayed };
  }

  async #load(
    source: string,
    options: SyncOptions,
    onResult: (r: LoadResult) => void,
  ): Promise<LoadResult[]> {
    const loadOptions: LoadOptions & { onResult: (r: LoadResult) => void } = {
      defaultVisibility: this.#config.defaultVisibility,
      aclRules: this.#config.ingest.aclRules,
      maxFileBytes: this.#config.ingest.maxFileBytes,
      ...(this.#config.ingest.include ? { include: this.#config.ingest.include } : {}),
      ...(this.#config.ingest.exclude ? { exclude: this.#config.ingest.exclude } : {}),
      ...(options.acl ? { acl: options.acl } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      onResult,
    };
    if (isUrl(source)) {
      const results = await loadUrl(source, loadOptions);
      for (const r of results) onResult(r);
      return results;
    }
    // Ids start with the folder's own name (handbook/refunds.md), so they do not depend on the
    // directory attune runs from and two roots rarely collide.
    return loadPath(source, { ...loadOptions, idRoot: dirname(resolve(source)) });
  }

  /** Stored documents that belong to these sources but were not seen in this run. */
  #vanished(
    sources: string[],
    seen: Set<string>,
    stored: StoredDocument[],
    unreadFolders: string[],
  ): string[] {
    const prefixes = sources.map((s) => {
      if (isUrl(s)) return { exact: s.replace(/#.*$/, '') };
      const abs = resolve(s);
      const rel = relative(dirname(abs), abs).split('\\').join('/');
      return { prefix: rel };
    });
    const out: string[] = [];
    for (const doc of stored) {
      if (seen.has(doc.id)) continue;
      // Under a folder that could not be read, absence proves nothing.
      if (unreadFolders.some((f) => doc.id === f || doc.id.startsWith(`${f}/`))) continue;
      const belongs = prefixes.some((p) =>
        'exact' in p
          ? doc.id === p.exact || doc.id.startsWith(`${p.exact}#`)
          : doc.id === p.prefix || doc.id.startsWith(`${p.prefix}/`) || doc.id.startsWith(`${p.prefix}#`),
      );
      if (belongs) out.push(doc.id);
    }
    return out;
  }
}

type DocumentChunks = { document: Document; chunks: Chunk[] };

/**
 * Writes every version of `from` into the empty store `to`, oldest first and under the same
 * numbers: the document states the version wrote, re-chunked and embedded anew, its removals, its
 * summary and note. Then one more version, `note`, for the replay itself (no document changes; a
 * version-keyed answer cache sees that retrieval changed). History that `from` pruned stays pruned:
 * a pruned version's surviving states are replayed, and `to` refuses the same old versions.
 */
async function replayHistory(
  from: KnowledgeStore,
  to: KnowledgeStore,
  embedder: EmbeddingModel,
  options: {
    rechunk: (document: Document) => Chunk[];
    note: string;
    onProgress?: (p: SyncProgress) => void;
  },
): Promise<{ documents: number; versions: number; chunksEmbedded: number }> {
  const first = await to.beginWrite();
  try {
    if (first !== 1) throw new AttuneError('reindex writes into a new, empty index.');
    // optimize() is what every sync ends with; here it also says where the retained history starts.
    const { historyFrom } = await from.optimize();
    const versions = await from.listVersions();
    const changes = new Map<number, string[]>();
    for (const version of versions)
      changes.set(version.number, await from.documentsChangedAt(version.number));
    const total = [...changes.values()].reduce((n, ids) => n + ids.length, 0);
    let written = 0;
    let chunksEmbedded = 0;
    for (const version of versions) {
      const upserts: DocumentChunks[] = [];
      const removals: string[] = [];
      for (const id of changes.get(version.number)!) {
        // A pruned version cannot be read; its surviving states are the ones still current at the
        // oldest retained version.
        const snapshot = await from.documentAt(id, Math.max(version.number, historyFrom), admin);
        if (snapshot === undefined) removals.push(id);
        else if (snapshot.document.version === version.number) {
          const document = documentFromSnapshot(snapshot);
          upserts.push({ document, chunks: options.rechunk(document) });
        }
      }
      await embedAndWrite(to, embedder, upserts, version.number, {
        batchChunks: BATCH_CHUNKS,
        onEmbedded: (n) => {
          chunksEmbedded += n;
          options.onProgress?.({ phase: 'embed', done: chunksEmbedded, total: chunksEmbedded });
        },
        onWritten: (results) => {
          written += results.length;
          options.onProgress?.({ phase: 'write', done: written, total });
        },
        // A replay stores every state or none: the switch to the new index waits for all of them.
        onFailed: (_item, error) => {
          throw error;
        },
      });
      if (removals.length > 0) {
        await to.deleteDocuments(removals, version.number);
        written += removals.length;
        options.onProgress?.({ phase: 'write', done: written, total });
      }
      const committed = await to.commitVersion(version.summary, version.note);
      if (committed.number !== version.number)
        throw new AttuneError(`Replaying version ${version.number} produced version ${committed.number}.`);
    }
    const documents = (await listAll(to)).length;
    const last = await to.commitVersion(
      { added: 0, changed: 0, removed: 0, failed: 0, chunksEmbedded },
      options.note,
    );
    // Compaction and the ANN index, as after a sync; and the same retained history as `from`.
    await to.optimize(historyFrom > 1 ? { retainVersions: last.number - historyFrom + 1 } : {});
    return { documents, versions: versions.length, chunksEmbedded };
  } finally {
    await to.endWrite();
  }
}

/** A stored document state as a `Document` to re-chunk: one section per stored chunk. */
function documentFromSnapshot({ document: doc, chunks }: DocumentSnapshot): Document {
  return {
    id: doc.id,
    source: doc.source,
    title: doc.title,
    text: chunks.map((c) => c.text).join('\n\n'),
    sections: chunks.map((c) => ({
      headingPath: c.headingPath,
      text: c.text,
      ...(c.page ? { page: c.page } : {}),
    })),
    metadata: doc.metadata,
    acl: doc.acl,
    contentHash: doc.contentHash,
  };
}

async function assertEmbedding(store: KnowledgeStore, wanted: string, what: string): Promise<void> {
  const stored = (await store.embeddingModel()).modelId;
  if (stored === wanted) return;
  await store.close();
  throw new AttuneError(
    `${what} was indexed with "${stored}", but the configured embedding model is "${wanted}".`,
    { hint: `Configure --embedding-model ${stored}, or reindex the knowledge base with ${wanted}.` },
  );
}

/**
 * Embeds documents' chunks and writes the documents, batch by batch: documents are gathered until
 * their chunks reach `batchChunks`, embedded together (EMBED_BATCH texts per model call, across
 * document boundaries), then written with one `upsertDocuments`. A document larger than a batch
 * goes alone.
 */
async function embedAndWrite(
  store: KnowledgeStore,
  embedder: EmbeddingModel,
  items: DocumentChunks[],
  version: number,
  hooks: {
    batchChunks: number;
    signal?: AbortSignal;
    onEmbedded: (n: number) => void;
    /** `chunks`: how many of the embedded chunks this write stored. */
    onWritten: (results: UpsertResult[], chunks: number) => void;
    /** A document that could not be embedded or written alone; what is stored for it is kept. */
    onFailed: (item: DocumentChunks, error: unknown) => void;
  },
): Promise<void> {
  const write = async (group: DocumentChunks[]) => {
    hooks.signal?.throwIfAborted();
    const chunks = group.flatMap((item) => item.chunks);
    const vectors = await embedChunks(embedder, chunks, hooks.onEmbedded, hooks.signal).catch(
      (error: unknown) => {
        throw hooks.signal?.aborted ? error : new StageError('embedding', error);
      },
    );
    let next = 0;
    const writes: DocumentWrite[] = group.map(({ document, chunks }) => ({
      document,
      chunks: chunks.map((chunk): EmbeddedChunk => ({ ...chunk, vector: vectors[next++]! })),
    }));
    hooks.signal?.throwIfAborted();
    const results = await store.upsertDocuments(writes, version).catch((error: unknown) => {
      throw hooks.signal?.aborted ? error : new StageError('writing', error);
    });
    hooks.onWritten(results, chunks.length);
  };
  let batch: DocumentChunks[] = [];
  let batchSize = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    const group = batch;
    batch = [];
    batchSize = 0;
    try {
      await write(group);
      return;
    } catch (error) {
      if (hooks.signal?.aborted) throw error;
      // One document must not sink the batch it shares: each is tried alone, and the one that
      // still fails is reported by name. When every one fails alone the fault is not in any
      // document (a full disk, a dead model) and the sync stops with it.
      if (group.length === 1) {
        hooks.onFailed(group[0]!, error);
        return;
      }
      const failures: [DocumentChunks, unknown][] = [];
      for (const item of group) {
        try {
          await write([item]);
        } catch (alone) {
          if (hooks.signal?.aborted) throw alone;
          failures.push([item, alone]);
        }
      }
      if (failures.length === group.length) throw error instanceof StageError ? error.cause : error;
      for (const [item, alone] of failures) hooks.onFailed(item, alone);
    }
  };
  for (const item of items) {
    if (batchSize > 0 && batchSize + item.chunks.length > hooks.batchChunks) await flush();
    batch.push(item);
    batchSize += item.chunks.length;
  }
  await flush();
}

/** Which step of a document's write failed, for the failure's reason. */
class StageError extends Error {
  constructor(
    readonly stage: 'embedding' | 'writing',
    cause: unknown,
  ) {
    super(causeMessage(cause), { cause });
  }
}

function causeMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function embedChunks(
  embedder: EmbeddingModel,
  chunks: Chunk[],
  onBatch: (n: number) => void,
  signal?: AbortSignal,
): Promise<number[][]> {
  const vectors: number[][] = [];
  for (let i = 0; i < chunks.length; i += EMBED_BATCH) {
    const batch = chunks.slice(i, i + EMBED_BATCH);
    const { embeddings } = await embedder.doEmbed({
      values: batch.map(embeddingText),
      ...(signal ? { abortSignal: signal } : {}),
    });
    vectors.push(...embeddings);
    onBatch(batch.length);
  }
  return vectors;
}

/** Chunk bound: the configured size, never more than the model reads (two positions go to [CLS]/[SEP]). */
function chunkTokensFor(config: AttuneConfig, embedder: EmbeddingModel): number {
  const fit = embedder.maxInputTokens - 2;
  // By default leave room for the heading path that embeddingText puts in front of the text.
  return config.ingest.chunkTokens > 0 ? Math.min(config.ingest.chunkTokens, fit) : Math.min(fit - 32, 256);
}

/** The heading path gives a chunk its context ("Refunds > Annual plans"), which the text alone may lack. */
function emptySummary(): SyncSummary {
  return {
    version: undefined,
    added: 0,
    changed: 0,
    removed: 0,
    unchanged: 0,
    failed: 0,
    chunksEmbedded: 0,
    failures: [],
    skipped: [],
    durationMs: 0,
  };
}

export function embeddingText(chunk: Pick<Chunk, 'headingPath' | 'text'>): string {
  return chunk.headingPath.length ? `${chunk.headingPath.join(' > ')}\n${chunk.text}` : chunk.text;
}

function sourceOf(r: LoadResult): string {
  return r.ok ? r.document.source : r.source;
}

async function listAll(store: KnowledgeStore): Promise<StoredDocument[]> {
  const out: StoredDocument[] = [];
  for (let offset = 0; ; offset += 1000) {
    const page = await store.listDocuments(admin, { limit: 1000, offset });
    out.push(...page);
    if (page.length < 1000) return out;
  }
}

export function indexDirName(model: string): string {
  return `index-${model.replace(/[^a-zA-Z0-9._-]+/g, '_')}`;
}

type Pointer = { index: string; embeddingModel: string };

export async function readPointer(dir: string): Promise<Pointer | undefined> {
  const path = join(dir, POINTER_FILE);
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(await readFile(path, 'utf8')) as Pointer;
  } catch (error) {
    throw new AttuneError(`${path} is unreadable: ${(error as Error).message}`, {
      hint: 'Restore it from backup, or delete the directory and ingest again.',
    });
  }
}

/** Written to a temporary file and renamed: the switch to a new index is one atomic step. */
export async function writePointer(dir: string, pointer: Pointer): Promise<void> {
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, `${POINTER_FILE}.${process.pid}.tmp`);
  await writeFile(tmp, `${JSON.stringify(pointer, null, 2)}\n`);
  await rename(tmp, join(dir, POINTER_FILE));
}
