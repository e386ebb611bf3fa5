/** Who may read a document. Empty lists with `public: false` means admins only. */
export type Acl = {
  public: boolean;
  users: string[];
  groups: string[];
};

/** A heading-delimited part of a document, as the loader found it. */
export type Section = {
  /** Headings from the top of the document down to this section. */
  headingPath: string[];
  text: string;
  /** 1-based page, for paged formats (PDF). */
  page?: number;
};

/** One loaded source file, record or page, before chunking. */
export type Document = {
  /** Stable: the normalised path relative to the ingest root, or the URL. */
  id: string;
  /** Where it came from: absolute path or URL. */
  source: string;
  title: string;
  /** The whole text, sections joined. */
  text: string;
  sections: Section[];
  metadata: Record<string, string | number | boolean>;
  acl: Acl;
  /** sha256 of the normalised text plus ACL and metadata: unchanged hash means nothing to do. */
  contentHash: string;
};

export type Chunk = {
  /** Stable across re-ingests of unchanged text: derived from docId and the chunk's text. */
  id: string;
  docId: string;
  ordinal: number;
  text: string;
  headingPath: string[];
  page?: number;
  /** In the embedding model's own tokens. */
  tokenCount: number;
};
