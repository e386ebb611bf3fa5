/** A part of an article with the sources (numbers into `Draft.sources`) it rests on. */
export type ArticlePart = { text: string; sources: number[] };

/** The desk's declared structure: every article has all of these. */
export type Article = {
  headline: string;
  lead: ArticlePart;
  paragraphs: ArticlePart[];
  insights: ArticlePart[];
};

export type DraftSource = {
  /** As cited in the article: [1] is sources[0]. */
  n: number;
  itemId: string;
  title: string;
  feed: string;
  link?: string;
  published?: string;
  /** The item's text was condensed to fit the context (its best sentences kept, in order). */
  condensed?: { keptSentences: number; ofSentences: number };
};

export type FlagKind = 'number' | 'date' | 'name' | 'quote' | 'claim' | 'citation';

/** A claim of the article that its cited sources do not support, with what they say instead. */
export type FactFlag = {
  /** `headline`, `lead`, `paragraphs[2]`, `insights[0]`. */
  part: string;
  sentence: string;
  kind: FlagKind;
  /** The numbers, dates, names or quotes not found in the cited sources. */
  missing: string[];
  /** The closest sentence of the cited sources (or of another item that does support it). */
  evidence?: { n?: number; itemId: string; sentence: string; link?: string };
  message: string;
};

export type DraftState = 'in-review' | 'approved' | 'rejected' | 'published';

export type PublishTarget = 'markdown' | 'docx' | 'webhook';

export type Publication = {
  target: PublishTarget;
  status: 'published' | 'failed';
  revision: number;
  /** ISO 8601 of the last attempt. */
  at: string;
  attempts: number;
  location?: string;
  error?: string;
};

export type Revision = { revision: number; article: Article; by: string; at: string };

export type Draft = {
  id: string;
  desk: string;
  /** sha256 of the sorted item ids it was written from: the same cluster is not drafted twice. */
  clusterKey: string;
  topic: string;
  /** Part i of n when a cluster had to be split to fit the context. */
  part: { index: number; of: number };
  createdAt: string;
  model: string;
  state: DraftState;
  /** The current revision: 1 is the model's draft, each edit adds one. */
  revision: number;
  article: Article;
  revisions: Revision[];
  sources: DraftSource[];
  flags: FactFlag[];
  /** Prompt tokens measured with the chat model's tokenizer, and the context they had to fit. */
  budget: { promptTokens: number; contextSize: number; reservedTokens: number };
  approved?: { by: string; at: string; revision: number };
  rejected?: { by: string; at: string; reason: string; revision: number };
  publications: Publication[];
  timings: { draftMs: number; factCheckMs: number };
};

/** One editorial action, appended to the desk's log: who did what, when, to which revision. */
export type EditorialAction = {
  time: string;
  actor: string;
  action: 'draft' | 'edit' | 'approve' | 'reject' | 'publish' | 'publish-failed';
  draftId: string;
  revision: number;
  reason?: string;
  /** For an edit: the word diff of the rendered article, `[-old-]{+new+}`. */
  diff?: string;
  target?: PublishTarget;
  location?: string;
  error?: string;
};
