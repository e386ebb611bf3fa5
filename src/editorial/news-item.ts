import { createHash } from 'node:crypto';

/** One item of a feed, as parsed: before deduplication and storage. */
export type ParsedItem = {
  /** The feed's own id for the item (RSS guid, Atom id, JSON Feed id); absent when it has none. */
  guid?: string;
  link?: string;
  title: string;
  /** Plain text: HTML is reduced to its text. */
  text: string;
  /** ISO 8601, when the feed gives a date. */
  published?: string;
  authors: string[];
};

/** A stored news item: deduplicated, with the knowledge-base document it became. */
export type NewsItem = ParsedItem & {
  /** Stable, and the id of its knowledge-base document: `news/<first 16 hex of the content hash>`. */
  id: string;
  /** The feed it was first seen in (URL or absolute path). */
  feed: string;
  feedTitle?: string;
  /** sha256 of the normalised title and text: what deduplication and the classification cache key on. */
  contentHash: string;
  /** ISO 8601. */
  firstSeen: string;
  /** Every feed it was seen in; a duplicate from another feed is recorded here, not stored again. */
  seenIn: string[];
};

/** Lower-case, collapsed whitespace: the same story re-encoded by another feed hashes the same. */
export function normalizeForHash(text: string): string {
  return text.normalize('NFKC').toLowerCase().replace(/\s+/g, ' ').trim();
}

export function itemContentHash(item: Pick<ParsedItem, 'title' | 'text'>): string {
  return createHash('sha256')
    .update(`${normalizeForHash(item.title)}\n${normalizeForHash(item.text)}`)
    .digest('hex');
}

const TRACKING = /^(utm_\w+|fbclid|gclid|mc_cid|mc_eid|ref|source)$/i;

/**
 * A link as a deduplication key: the same article linked with tracking parameters, another
 * fragment, a trailing slash or http instead of https is the same article.
 */
export function normalizeLink(link: string): string {
  try {
    const url = new URL(link);
    url.hash = '';
    for (const key of [...url.searchParams.keys()]) if (TRACKING.test(key)) url.searchParams.delete(key);
    url.searchParams.sort();
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const host = url.hostname.toLowerCase().replace(/^www\./, '');
    return `${host}${url.port ? `:${url.port}` : ''}${path}${url.search}`;
  } catch {
    return link.trim();
  }
}
