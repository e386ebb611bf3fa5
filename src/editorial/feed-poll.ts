import { createHash } from 'node:crypto';
import { FeedError, type FeedFormat, type ItemProblem, parseFeedText } from './feed-parse.ts';
import { type FetchFeedOptions, readFeedSource } from './feed-source.ts';
import { itemContentHash, type NewsItem, normalizeLink, type ParsedItem } from './news-item.ts';

export type FeedReport = {
  feed: string;
  ok: boolean;
  format?: FeedFormat;
  /** Items the feed listed. */
  listed: number;
  new: number;
  updated: number;
  duplicates: number;
  /** Items left out, each with its reason: no text, a bad field, over the per-feed limit. */
  problems: ItemProblem[];
  error?: string;
  hint?: string;
};

export type PollResult = {
  feeds: FeedReport[];
  /** Items seen for the first time, and stored items whose text changed (same id, new content). */
  added: NewsItem[];
  updated: NewsItem[];
  fetched: number;
  duplicates: number;
};

/**
 * Keys that make two items the same story: the feed's id (scoped to the feed unless it is a URL,
 * since "1" in two feeds is not one story), the normalised link, and the content hash.
 */
function keysOf(item: ParsedItem, feed: string, contentHash: string): string[] {
  const keys: string[] = [];
  if (item.guid)
    keys.push(
      /^https?:\/\//i.test(item.guid) ? `link:${normalizeLink(item.guid)}` : `guid:${feed}|${item.guid}`,
    );
  if (item.link) keys.push(`link:${normalizeLink(item.link)}`);
  keys.push(`hash:${contentHash}`);
  return [...new Set(keys)];
}

function idFor(primaryKey: string): string {
  return `news/${createHash('sha256').update(primaryKey).digest('hex').slice(0, 16)}`;
}

/**
 * Reads every feed and merges its items into `items` (mutated): new stories are added, a story
 * already seen (by id, link or content, in any feed, in any earlier poll) is a duplicate, and a
 * story whose feed id or link is known but whose text changed is updated. A feed that fails is
 * reported and the others are read.
 */
export async function pollFeeds(
  feeds: string[],
  items: Map<string, NewsItem>,
  options: FetchFeedOptions & {
    maxItemsPerFeed: number;
    now?: () => Date;
    onFeed?: (done: number, total: number, feed: string) => void;
  },
): Promise<PollResult> {
  const now = options.now ?? (() => new Date());
  const index = new Map<string, string>();
  for (const item of items.values())
    for (const key of keysOf(item, item.feed, item.contentHash)) index.set(key, item.id);
  const result: PollResult = { feeds: [], added: [], updated: [], fetched: 0, duplicates: 0 };
  for (const [f, feed] of feeds.entries()) {
    const report: FeedReport = { feed, ok: true, listed: 0, new: 0, updated: 0, duplicates: 0, problems: [] };
    result.feeds.push(report);
    try {
      const parsed = parseFeedText(await readFeedSource(feed, options), feed, {
        maxItems: options.maxItemsPerFeed,
      });
      report.format = parsed.format;
      report.problems.push(...parsed.problems);
      report.listed = parsed.listed;
      const list = parsed.items;
      result.fetched += list.length;
      for (const entry of list) {
        const contentHash = itemContentHash(entry);
        const keys = keysOf(entry, feed, contentHash);
        const knownId = keys.map((k) => index.get(k)).find((id) => id !== undefined);
        if (knownId) {
          const known = items.get(knownId)!;
          if (!known.seenIn.includes(feed)) known.seenIn.push(feed);
          const sameStory = keys.slice(0, -1).some((k) => index.get(k) === knownId);
          if (known.contentHash !== contentHash && sameStory && known.feed === feed) {
            // The feed corrected its own item: keep the id, take the new text.
            Object.assign(known, { ...entry, contentHash });
            index.set(`hash:${contentHash}`, known.id);
            result.updated.push(known);
            report.updated++;
          } else {
            report.duplicates++;
            result.duplicates++;
          }
          continue;
        }
        const item: NewsItem = {
          ...entry,
          id: idFor(keys[0]!),
          feed,
          ...(parsed.title ? { feedTitle: parsed.title } : {}),
          contentHash,
          firstSeen: now().toISOString(),
          seenIn: [feed],
        };
        items.set(item.id, item);
        for (const key of keys) index.set(key, item.id);
        result.added.push(item);
        report.new++;
      }
    } catch (error) {
      report.ok = false;
      report.error = (error as Error).message;
      if (error instanceof FeedError && error.hint) report.hint = error.hint;
    }
    options.onFeed?.(f + 1, feeds.length, feed);
  }
  return result;
}
