/**
 * `attune store copy`: a whole knowledge base, store and audit trail, from an embedded directory
 * to PostgreSQL or back (or between two of either). The store part is `copyStore` (counts and a
 * checksum must match); audit records are copied oldest first and counted.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type AuditLog, LanceAuditLog, PostgresAuditLog } from '../audit/index.ts';
import { AttuneError } from '../models/model-error.ts';
import {
  type CopyProgress,
  type CopyStoreResult,
  copyStore,
  type EmbeddingModelInfo,
  type KnowledgeStore,
  openKnowledgeStore,
  type Principal,
  parseStoreLocation,
  redactUrl,
  type StoreLocation,
} from '../store/index.ts';
import { indexDirName, readPointer, writePointer } from './knowledge-base.ts';

const admin: Principal = { user: 'attune-copy', groups: [], admin: true };

export type CopyKnowledgeBaseResult = CopyStoreResult & { auditRecords: number; from: string; to: string };

/**
 * `from`/`to`: a knowledge-base directory (what ATTUNE_DIR names) or a postgres:// URL (with an
 * optional `#schema`). The target must be empty.
 */
export async function copyKnowledgeBase(
  from: string,
  to: string,
  options: { onProgress?: (progress: CopyProgress) => void } = {},
): Promise<CopyKnowledgeBaseResult> {
  const source = parseStoreLocation(from);
  const target = parseStoreLocation(to);
  const opened: { close(): Promise<void> }[] = [];
  try {
    const fromStore = await openSource(source);
    opened.push(fromStore);
    const embedding = await fromStore.embeddingModel();
    const { store: toStore, finish } = await openTarget(target, embedding);
    opened.push(toStore);
    const result = await copyStore(fromStore, toStore, options);
    const fromAudit = await openAudit(source, false);
    let auditRecords = 0;
    if (fromAudit) {
      opened.push(fromAudit);
      const toAudit = (await openAudit(target, true))!;
      opened.push(toAudit);
      if ((await toAudit.list(admin, { limit: 1 })).length > 0) {
        throw new AttuneError(`The audit log at ${describe(target)} is not empty.`);
      }
      const records = await fromAudit.list(admin);
      for (const record of records.reverse()) await toAudit.append(record);
      auditRecords = (await toAudit.list(admin)).length;
      if (auditRecords !== records.length) {
        throw new AttuneError(`Copied ${records.length} audit records but the target holds ${auditRecords}.`);
      }
    }
    await finish();
    return { ...result, auditRecords, from: describe(source), to: describe(target) };
  } finally {
    for (const handle of opened.reverse()) await handle.close().catch(() => {});
  }
}

async function openSource(location: StoreLocation): Promise<KnowledgeStore> {
  if (location.kind === 'postgres') return openKnowledgeStore(location);
  const dir = resolve(location.dir);
  const pointer = await readPointer(dir);
  if (!pointer) {
    throw new AttuneError(`There is no knowledge base in ${dir} to copy.`, {
      hint: 'Give the knowledge-base directory (ATTUNE_DIR, default ./.attune) or a postgres:// URL.',
    });
  }
  return openKnowledgeStore({ kind: 'lancedb', dir: join(dir, pointer.index) });
}

async function openTarget(
  location: StoreLocation,
  embedding: EmbeddingModelInfo,
): Promise<{ store: KnowledgeStore; finish: () => Promise<void> }> {
  if (location.kind === 'postgres') {
    return { store: await openKnowledgeStore(location, { embedding }), finish: async () => {} };
  }
  const dir = resolve(location.dir);
  if (await readPointer(dir)) {
    throw new AttuneError(`${dir} already holds a knowledge base; a copy goes into a new, empty one.`);
  }
  const index = indexDirName(embedding.modelId);
  const store = await openKnowledgeStore({ kind: 'lancedb', dir: join(dir, index) }, { embedding });
  // The pointer last: until the copy is verified, the directory holds no knowledge base.
  return { store, finish: () => writePointer(dir, { index, embeddingModel: embedding.modelId }) };
}

async function openAudit(location: StoreLocation, create: boolean): Promise<AuditLog | undefined> {
  if (location.kind === 'postgres') {
    return PostgresAuditLog.open({
      url: location.url,
      ...(location.schema ? { schema: location.schema } : {}),
    });
  }
  const dir = join(resolve(location.dir), 'audit');
  if (!create && !existsSync(dir)) return undefined;
  return LanceAuditLog.open(dir);
}

function describe(location: StoreLocation): string {
  if (location.kind === 'lancedb') return resolve(location.dir);
  const shown = redactUrl(location.url);
  return shown ? `${shown}${location.schema ? `#${location.schema}` : ''}` : 'postgres (unparsable URL)';
}
