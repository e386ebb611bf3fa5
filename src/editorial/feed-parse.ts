import { parseFeed } from '@rowanmanning/feed-parser';
import { parse as parseHtml } from 'node-html-parser';
import { z } from 'zod';
import type { ParsedItem } from './news-item.ts';

export type FeedFormat = 'rss' | 'atom' | 'json-feed';

/** A problem with one item: the rest of the feed is still read. */
export type ItemProblem = { item: string; reason: string };

export type ParsedFeed = {
  format: FeedFormat;
  title?: string;
  items: ParsedItem[];
  problems: ItemProblem[];
  /** Items the feed listed, before `maxItems` and before items without text were left out. */
  listed: number;
};

/** The feed as a whole could not be read; `feed` names it. */
export class FeedError extends Error {
  readonly feed: string;
  readonly hint: string | undefined;
  constructor(feed: string, message: string, hint?: string) {
    super(`${feed}: ${message}`);
    this.name = 'FeedError';
    this.feed = feed;
    this.hint = hint;
  }
}

// JSON Feed 1.0 / 1.1 (https://www.jsonfeed.org/version/1.1/): only the fields Attune reads.
const jsonFeedItem = z.object({
  id: z.union([z.string(), z.number()]).transform(String),
  url: z.string().optional(),
  external_url: z.string().optional(),
  title: z.string().optional(),
  content_text: z.string().optional(),
  content_html: z.string().optional(),
  summary: z.string().optional(),
  date_published: z.string().optional(),
  date_modified: z.string().optional(),
  authors: z.array(z.object({ name: z.string().optional() })).optional(),
  author: z.object({ name: z.string().optional() }).optional(),
});
const jsonFeed = z.object({
  version: z.string().startsWith('https://jsonfeed.org/version/'),
  title: z.string().optional(),
  items: z.array(z.unknown()),
});

/**
 * Parses RSS 2.0, Atom or JSON Feed text. A document that is no feed at all throws a FeedError; an
 * item without text, or one a JSON Feed declares wrongly, is left out with its reason in `problems`.
 */
export function parseFeedText(text: string, feed: string, options: { maxItems?: number } = {}): ParsedFeed {
  const maxItems = options.maxItems ?? Number.POSITIVE_INFINITY;
  const trimmed = text.replace(/^\uFEFF/, '').trimStart();
  if (trimmed.startsWith('{')) return parseJsonFeed(trimmed, feed, maxItems);
  let parsed: ReturnType<typeof parseFeed>;
  try {
    parsed = parseFeed(trimmed);
  } catch (error) {
    throw new FeedError(
      feed,
      `not an RSS, Atom or JSON feed (${(error as Error).message}).`,
      'Check the URL or file: it should return RSS 2.0, Atom or JSON Feed.',
    );
  }
  const format: FeedFormat = parsed.meta.type === 'atom' ? 'atom' : 'rss';
  const items: ParsedItem[] = [];
  const problems: ItemProblem[] = [];
  const all = parsed.items;
  // The newest first, chosen on the date alone: the parser's url and authors getters scan the whole
  // document for the feed's own values, so reading them for every item of a 10,000-item archive
  // took minutes; only the items kept are read in full.
  const kept = newest(all, maxItems, (e) => (e.published ?? e.updated)?.getTime() ?? 0);
  if (kept.length < all.length) problems.push(overLimit(all.length, kept.length));
  for (const { value: entry, index: i } of kept) {
    const candidate = {
      guid: entry.id ?? undefined,
      link: entry.url ?? undefined,
      title: plainText(entry.title ?? ''),
      html: entry.content ?? entry.description ?? '',
      published: (entry.published ?? entry.updated)?.toISOString(),
      authors: entry.authors.map((a) => a.name ?? '').filter(Boolean),
    };
    accept(candidate, `item ${i + 1}`, items, problems);
  }
  return {
    format,
    ...(parsed.title ? { title: plainText(parsed.title) } : {}),
    items,
    problems,
    listed: all.length,
  };
}

/** The `max` newest entries (feed order among equal dates), with their positions in the feed. */
function newest<T>(list: T[], max: number, time: (t: T) => number): { value: T; index: number }[] {
  const indexed = list.map((value, index) => ({ value, index }));
  if (list.length <= max) return indexed;
  const times = indexed.map((e) => time(e.value));
  return indexed
    .sort((a, b) => times[b.index]! - times[a.index]! || a.index - b.index)
    .slice(0, max)
    .sort((a, b) => a.index - b.index);
}

function overLimit(listed: number, kept: number): ItemProblem {
  return {
    item: `${listed - kept} items`,
    reason: `the feed listed ${listed} items; the newest ${kept} were read (raise maxItemsPerFeed in the desk file to read more)`,
  };
}

function parseJsonFeed(text: string, feed: string, maxItems: number): ParsedFeed {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new FeedError(feed, `not valid JSON (${(error as Error).message}).`);
  }
  const top = jsonFeed.safeParse(raw);
  if (!top.success) {
    const issue = top.error.issues[0]!;
    throw new FeedError(
      feed,
      `not a JSON Feed: field "${issue.path.join('.') || '(root)'}": ${issue.message}.`,
      'A JSON Feed needs "version": "https://jsonfeed.org/version/1.1" and an "items" array.',
    );
  }
  const items: ParsedItem[] = [];
  const problems: ItemProblem[] = [];
  const all = top.data.items;
  const kept = newest(all, maxItems, (raw) => {
    const r = raw as { date_published?: unknown; date_modified?: unknown };
    const d = Date.parse(String(r?.date_published ?? r?.date_modified ?? ''));
    return Number.isNaN(d) ? 0 : d;
  });
  if (kept.length < all.length) problems.push(overLimit(all.length, kept.length));
  for (const { value: rawItem, index: i } of kept) {
    const parsed = jsonFeedItem.safeParse(rawItem);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      problems.push({ item: `item ${i + 1}`, reason: `field "${issue.path.join('.')}": ${issue.message}` });
      continue;
    }
    const e = parsed.data;
    const authors = [...(e.authors ?? []), ...(e.author ? [e.author] : [])];
    const date = e.date_published ?? e.date_modified;
    const published = date && !Number.isNaN(Date.parse(date)) ? new Date(date).toISOString() : undefined;
    accept(
      {
        guid: e.id,
        link: e.url ?? e.external_url,
        title: e.title ?? '',
        html: e.content_html ?? e.content_text ?? e.summary ?? '',
        isHtml: e.content_html !== undefined,
        published,
        authors: authors.map((a) => a.name ?? '').filter(Boolean),
      },
      `item ${i + 1} (id ${e.id})`,
      items,
      problems,
    );
  }
  return {
    format: 'json-feed',
    ...(top.data.title ? { title: top.data.title } : {}),
    items,
    problems,
    listed: all.length,
  };
}

function accept(
  c: {
    guid: string | undefined;
    link: string | undefined;
    title: string;
    html: string;
    isHtml?: boolean;
    published: string | undefined;
    authors: string[];
  },
  where: string,
  items: ParsedItem[],
  problems: ItemProblem[],
): void {
  const text = c.isHtml === false ? c.html.replace(/\s+/g, ' ').trim() : plainText(c.html);
  const name = c.title ? `${where} "${c.title.slice(0, 60)}"` : where;
  if (text === '') {
    problems.push({ item: name, reason: 'no text (no description or content); left out' });
    return;
  }
  items.push({
    ...(c.guid ? { guid: c.guid } : {}),
    ...(c.link ? { link: c.link } : {}),
    title: c.title || text.slice(0, 80),
    text,
    ...(c.published ? { published: c.published } : {}),
    authors: c.authors,
  });
}

/** The text of an HTML fragment (or of plain text, which parses as itself), paragraphs kept apart. */
function plainText(html: string): string {
  if (!/[<&]/.test(html)) return html.replace(/\s+/g, ' ').trim();
  const root = parseHtml(`<div>${html}</div>`, { blockTextElements: { script: false, style: false } });
  return root.structuredText
    .split('\n')
    .map((l) => l.replace(/\s+/g, ' ').trim())
    .filter(Boolean)
    .join('\n');
}
