export {
  type AclRule,
  type AclSources,
  normalizeAcl,
  parseAclSidecar,
  resolveAcl,
  type Visibility,
} from './acl.ts';
export { buildDocument, type DocumentParts } from './build-document.ts';
export { type ChunkOptions, chunkDocument } from './chunker.ts';
export { parseCsv } from './csv-loader.ts';
export type { Acl, Chunk, Document, Section } from './document.ts';
export { loaderForMediaType, loaderForName, loaders, supportedExtensions } from './file-types.ts';
export { parseHtml } from './html-loader.ts';
export { IngestError } from './ingest-error.ts';
export { type LoadBytesInput, loadBytes } from './load-bytes.ts';
export {
  DEFAULT_EXCLUDE,
  DEFAULT_INCLUDE,
  documentIdForPath,
  listFiles,
  loadFile,
  loadPath,
} from './load-path.ts';
export type { LoadResult } from './load-result.ts';
export {
  DEFAULT_MAX_FILE_BYTES,
  type JsonFieldOptions,
  type LoadedRecord,
  type Loader,
  type LoaderInput,
  type LoadOptions,
  type RecordFailure,
  resolveLoadOptions,
} from './loader.ts';
export { parseMarkdown } from './markdown-loader.ts';
export { documentIdForUrl, isUrl, loadSources, loadUrl } from './url-loader.ts';
