import type { AclRule, Visibility } from './acl.ts';
import type { Acl, Section } from './document.ts';

/** Which fields of a JSON / JSONL record become the document. */
export type JsonFieldOptions = {
  /** Joined, in this order, into the text. Default: text, content, body. */
  textFields?: string[];
  /** First present one is the title. Default: title, name. */
  titleFields?: string[];
  /** Scalar fields copied into metadata. Default: every top-level scalar that is not text or title. */
  metadataFields?: string[];
  /** Field whose value keys the record's document id (`file.jsonl#<value>`). Default: id, else the line / index. */
  idField?: string;
};

export type LoadOptions = {
  /** Globs (relative to the root) of files to load. Default: every supported extension. */
  include?: string[];
  /** Globs to skip, in addition to node_modules, .git and .attune. ACL sidecars are always skipped. */
  exclude?: string[];
  /** Files (and fetched bodies) over this size are refused. Default 50 MB. */
  maxFileBytes?: number;
  /** Visibility of documents no sidecar, rule or explicit ACL covers. Default 'public'. */
  defaultVisibility?: Visibility;
  aclRules?: AclRule[];
  /** Overrides sidecars, rules and the default (a CLI flag). */
  acl?: Acl;
  /** Base for document ids; default the root folder (or a single file's folder). */
  idRoot?: string;
  json?: JsonFieldOptions;
  /** Timeout for fetching a URL, in milliseconds. Default 15 s. */
  fetchTimeoutMs?: number;
  /** Files loaded at once. Default 4. */
  concurrency?: number;
  /** For tests and proxies; default the global fetch. */
  fetch?: typeof fetch;
  signal?: AbortSignal;
};

export type ResolvedLoadOptions = Required<
  Pick<LoadOptions, 'maxFileBytes' | 'defaultVisibility' | 'aclRules' | 'fetchTimeoutMs' | 'concurrency'>
> & {
  json: Required<Omit<JsonFieldOptions, 'metadataFields' | 'idField'>> &
    Pick<JsonFieldOptions, 'metadataFields' | 'idField'>;
  acl: Acl | undefined;
  signal: AbortSignal | undefined;
};

export const DEFAULT_MAX_FILE_BYTES = 50 * 1024 * 1024;

export function resolveLoadOptions(options: LoadOptions = {}): ResolvedLoadOptions {
  return {
    maxFileBytes: options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES,
    defaultVisibility: options.defaultVisibility ?? 'public',
    aclRules: options.aclRules ?? [],
    fetchTimeoutMs: options.fetchTimeoutMs ?? 15_000,
    concurrency: Math.max(1, options.concurrency ?? 4),
    json: {
      textFields: options.json?.textFields ?? ['text', 'content', 'body'],
      titleFields: options.json?.titleFields ?? ['title', 'name'],
      metadataFields: options.json?.metadataFields,
      idField: options.json?.idField,
    },
    acl: options.acl,
    signal: options.signal,
  };
}

export type LoaderInput = {
  bytes: Uint8Array;
  /** Last path segment (file name or URL path), for title fallbacks. */
  name: string;
  /** Declared character set (HTTP Content-Type); files are UTF-8. */
  charset?: string;
  options: ResolvedLoadOptions;
};

/** One document's worth of content, before id, ACL and hash are attached. */
export type LoadedRecord = {
  /** Set by formats with one document per record: the document id becomes `<file id>#<key>`. */
  key?: string;
  title: string;
  sections: Section[];
  metadata: Record<string, string | number | boolean>;
};

/** A record of a multi-record file that could not be loaded; the others still are. */
export type RecordFailure = { key?: string; reason: string };

/**
 * One implementation per source format. `load` throws `IngestError` when the whole source is
 * unusable, and returns `RecordFailure`s for bad records of an otherwise good file.
 */
export interface Loader {
  readonly format: string;
  /** Lower-case, without the dot. */
  readonly extensions: readonly string[];
  /** For URLs: Content-Type values (without parameters) this loader reads. */
  readonly mediaTypes: readonly string[];
  load(input: LoaderInput): Promise<Array<LoadedRecord | RecordFailure>>;
}

export function isRecordFailure(item: LoadedRecord | RecordFailure): item is RecordFailure {
  return 'reason' in item;
}
