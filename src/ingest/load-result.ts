import { resolveAcl } from './acl.ts';
import { buildDocument } from './build-document.ts';
import type { Acl, Document } from './document.ts';
import { failureReason } from './ingest-error.ts';
import { isRecordFailure, type Loader, type ResolvedLoadOptions } from './loader.ts';

/** Per source (or per record, for JSON/JSONL): a document, or the reason there is none. */
export type LoadResult =
  | { ok: true; document: Document }
  | {
      ok: false;
      /** The file path or URL that failed. */
      source: string;
      /** The document id it would have had, when known (lets a sync keep the previous version). */
      id?: string;
      /**
       * A folder that could not be read: the id prefix of the documents under it, which a sync
       * keeps as they were instead of taking them for deleted.
       */
      folderId?: string;
      /**
       * Passed over by policy (a symbolic link), not broken: reported so nothing goes unseen, but
       * not a failure of the run.
       */
      skipped?: true;
      reason: string;
    };

export type RunLoaderInput = {
  loader: Loader;
  bytes: Uint8Array;
  name: string;
  charset?: string;
  id: string;
  source: string;
  /** ACL from a sidecar, already parsed. */
  sidecar?: Acl;
  options: ResolvedLoadOptions;
  /** Extra metadata from the transport (URL, content type). */
  metadata?: Record<string, string | number | boolean>;
};

/** Runs a loader and turns everything it produced, or threw, into results. */
export async function runLoader(input: RunLoaderInput): Promise<LoadResult[]> {
  const { id, source, options } = input;
  if (input.bytes.length === 0) return [{ ok: false, source, id, reason: 'empty file (0 bytes)' }];
  let items: Awaited<ReturnType<Loader['load']>>;
  try {
    items = await input.loader.load({
      bytes: input.bytes,
      name: input.name,
      ...(input.charset === undefined ? {} : { charset: input.charset }),
      options,
    });
  } catch (error) {
    return [{ ok: false, source, id, reason: failureReason(error) }];
  }
  return items.map((item): LoadResult => {
    const itemId = item.key === undefined ? id : `${id}#${item.key}`;
    if (isRecordFailure(item)) return { ok: false, source, id: itemId, reason: item.reason };
    try {
      const acl = resolveAcl(id, {
        ...(options.acl ? { explicit: options.acl } : {}),
        ...(input.sidecar ? { sidecar: input.sidecar } : {}),
        rules: options.aclRules,
        defaultVisibility: options.defaultVisibility,
      });
      const document = buildDocument({
        id: itemId,
        source,
        title: item.title,
        sections: item.sections,
        metadata: { ...item.metadata, ...input.metadata },
        acl,
      });
      return { ok: true, document };
    } catch (error) {
      return { ok: false, source, id: itemId, reason: failureReason(error) };
    }
  });
}
