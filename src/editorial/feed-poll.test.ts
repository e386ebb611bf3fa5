import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FeedError, parseFeedText } from './feed-parse.ts';
import { pollFeeds } from './feed-poll.ts';
import { atomFeed, fixtureItems, jsonFeed, rssFeed } from './fixtures/build-feeds.ts';
import { type NewsItem, normalizeLink } from './news-item.ts';
import { FIXTURES, type FixtureServer, serveFixtures } from './testing.ts';

const FEEDS = ['tidewater.rss.xml', 'harbourpost.atom.xml', 'harbourpost.feed.json'];

describe('feeds: parse, poll over HTTP and from files, deduplicate', () => {
  let server: FixtureServer;
  before(async () => {
    server = await serveFixtures();
  });
  after(() => server.close());

  it('reads RSS 2.0, Atom and JSON Feed, HTML reduced to text, an item without text reported', () => {
    const [rss, atom, json] = FEEDS.map((f) => parseFeedText(readFileSync(join(FIXTURES, f), 'utf8'), f));
    assert.deepEqual([rss!.format, atom!.format, json!.format], ['rss', 'atom', 'json-feed']);
    assert.equal(rss!.items.length, 28);
    assert.equal(atom!.items.length, 20);
    assert.equal(atom!.problems.length, 1);
    assert.match(atom!.problems[0]!.item, /Live: council meeting/);
    assert.match(atom!.problems[0]!.reason, /no text/);
    const html = json!.items.find((i) => i.title.startsWith('Ferry timetable'))!;
    assert.doesNotMatch(html.text, /<|>/);
    assert.match(html.text, /every 30 minutes instead of every 15/);
    assert.equal(rss!.items[0]!.published, '2026-11-20T09:00:00.000Z');
  });

  it('deduplicates across feeds (link with tracking parameters, syndicated copy) and across polls', async () => {
    const items = new Map<string, NewsItem>();
    const feeds = FEEDS.map((f) => `${server.url}/${f}`);
    const first = await pollFeeds(feeds, items, { maxItemsPerFeed: 500 });
    assert.equal(first.fetched, 67);
    // The Atom copy of the Greyshoal story (same link + utm_*) and the wire copy of the tariff story
    // (other id and link, same text) are duplicates.
    assert.equal(first.duplicates, 2);
    assert.equal(first.added.length, 65);
    const greyshoal = [...items.values()].find(
      (i) => i.link === 'https://tidewater.example/energy/greyshoal-approved',
    )!;
    assert.deepEqual(greyshoal.seenIn.length, 2);
    const again = await pollFeeds(feeds, items, { maxItemsPerFeed: 500 });
    assert.equal(again.added.length, 0);
    assert.equal(again.duplicates, 67);
    assert.equal(items.size, 65);
    // From a file the same items are the same stories (ids come from the feed id or link).
    const fromFiles = await pollFeeds([join(FIXTURES, FEEDS[0]!)], items, { maxItemsPerFeed: 500 });
    assert.equal(fromFiles.added.length, 0);
  });

  it('a corrected item (same id and link, new text) is updated in place, not added', async () => {
    const items = new Map<string, NewsItem>();
    const base = fixtureItems()
      .filter((i) => i.f === 'rss')
      .slice(0, 3);
    server.routes.set('/corr.xml', rssFeed(base));
    await pollFeeds([`${server.url}/corr.xml`], items, { maxItemsPerFeed: 500 });
    const changed = base.map((i, n) =>
      n === 0 ? { ...i, x: `${i.x} Correction: the board met on Wednesday.` } : i,
    );
    server.routes.set('/corr.xml', rssFeed(changed));
    const result = await pollFeeds([`${server.url}/corr.xml`], items, { maxItemsPerFeed: 500 });
    assert.equal(result.updated.length, 1);
    assert.equal(result.added.length, 0);
    assert.equal(items.size, 3);
    assert.match(result.updated[0]!.text, /Correction/);
  });

  it('bad feeds fail one by one with a message; the other feeds are read', async () => {
    server.routes.set('/broken.xml', '<html><body>Not a feed <p>at all</body></html>');
    server.routes.set(
      '/bad.json',
      JSON.stringify({
        version: 'https://jsonfeed.org/version/1.1',
        items: [{ title: 'no id' }, { id: 7, content_text: 'Trams run late.' }],
      }),
    );
    server.routes.set('/notfeed.json', JSON.stringify({ hello: 'world' }));
    const items = new Map<string, NewsItem>();
    const result = await pollFeeds(
      [
        `${server.url}/broken.xml`,
        `${server.url}/missing.xml`,
        'http://127.0.0.1:9/closed.xml',
        `${server.url}/slow`,
        '/nonexistent/feed.xml',
        `${server.url}/notfeed.json`,
        `${server.url}/bad.json`,
        `${server.url}/tidewater.rss.xml`,
      ],
      items,
      { maxItemsPerFeed: 500, timeoutMs: 500 },
    );
    const byFeed = (suffix: string) => result.feeds.find((f) => f.feed.endsWith(suffix))!;
    assert.match(byFeed('/broken.xml').error!, /broken\.xml: not an RSS, Atom or JSON feed/);
    assert.match(byFeed('/missing.xml').error!, /HTTP 404/);
    assert.match(byFeed('/closed.xml').error!, /unreachable/);
    assert.match(byFeed('/slow').error!, /no answer within 500 ms/);
    assert.match(byFeed('/nonexistent/feed.xml').error!, /no such file/);
    assert.match(byFeed('/notfeed.json').error!, /not a JSON Feed: field "version"/);
    const bad = byFeed('/bad.json');
    assert.equal(bad.ok, true);
    assert.equal(bad.new, 1);
    assert.match(bad.problems[0]!.reason, /field "id"/);
    assert.equal(byFeed('/tidewater.rss.xml').new, 28);
    assert.equal(result.feeds.filter((f) => !f.ok).length, 6);
  });

  it('a feed of 10,000 items: the newest maxItemsPerFeed are read and the rest reported', async () => {
    const many = Array.from({ length: 10_000 }, (_v, i) => ({
      f: 'atom' as const,
      g: `urn:bulk:${i}`,
      l: `https://bulk.example/${i}`,
      t: `Bulk item ${i}`,
      d: new Date(Date.UTC(2026, 0, 1) + i * 60_000).toISOString(),
      y: 'irrelevant',
      x: `Body of bulk item number ${i}.`,
    }));
    server.routes.set('/bulk.xml', atomFeed(many));
    server.routes.set('/bulk.json', jsonFeed(many.slice(0, 50)));
    const items = new Map<string, NewsItem>();
    const result = await pollFeeds([`${server.url}/bulk.xml`], items, { maxItemsPerFeed: 300 });
    const report = result.feeds[0]!;
    assert.equal(report.listed, 10_000);
    assert.equal(report.new, 300);
    assert.match(report.problems[0]!.reason, /listed 10000 items; the newest 300 were read/);
    assert.ok([...items.values()].every((i) => Number(i.title.split(' ').pop()) >= 9_700));
    // The JSON copy of 50 of them (same links) adds nothing new for the ones already read.
    const json = await pollFeeds([`${server.url}/bulk.json`], items, { maxItemsPerFeed: 300 });
    assert.equal(json.added.length, 50, JSON.stringify(json.feeds[0]).slice(0, 500));
  });

  it('normalises links for deduplication', () => {
    assert.equal(
      normalizeLink('https://www.Example.com/a/b/?utm_source=x&b=2&a=1#top'),
      normalizeLink('http://example.com/a/b?a=1&b=2'),
    );
    assert.notEqual(normalizeLink('https://example.com/a?id=1'), normalizeLink('https://example.com/a?id=2'));
  });

  it('FeedError names the feed', () => {
    assert.throws(
      () => parseFeedText('{"version": 1}', 'feeds/x.json'),
      (e: unknown) => e instanceof FeedError && /feeds\/x\.json/.test((e as Error).message),
    );
  });
});
