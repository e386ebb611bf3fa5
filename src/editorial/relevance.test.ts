import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Models } from '../models/index.ts';
import { testModels } from '../models/testing.ts';
import { defineDesk, readDeskFile } from './desk-definition.ts';
import { EditorialDesk } from './editorial-desk.ts';
import { EditorialStore } from './editorial-store.ts';
import { pollFeeds } from './feed-poll.ts';
import { itemContentHash, type NewsItem } from './news-item.ts';
import { embeddingRelevanceClassifier, type RelevanceClassifier } from './relevance.ts';
import { FIXTURES } from './testing.ts';

describe('relevance, classified once (real embedding model)', () => {
  let models: Models;
  const work = mkdtempSync(join(tmpdir(), 'attune-relevance-'));
  const definition = readDeskFile(join(FIXTURES, 'desk.json'));
  let items: NewsItem[];
  const asked: string[] = [];
  let classifier: RelevanceClassifier;

  before(async () => {
    models = await testModels();
    const real = embeddingRelevanceClassifier({
      embedder: await models.embedding(),
      threshold: definition.threshold,
    });
    // The real classifier, counting every item it is asked about.
    classifier = {
      ...real,
      doClassify: (o) => {
        asked.push(...o.items.map((i) => i.id));
        return real.doClassify(o);
      },
    };
    const map = new Map<string, NewsItem>();
    await pollFeeds(definition.feeds, map, { maxItemsPerFeed: 500 });
    items = [...map.values()];
  });
  after(async () => {
    await models.dispose();
    rmSync(work, { recursive: true, force: true });
  });

  const deskWith = (c: RelevanceClassifier, topics = definition.topics) =>
    new EditorialDesk({
      definition: defineDesk({ ...definition, topics }),
      store: new EditorialStore(join(work, 'state')),
      knowledgeBase: undefined as never,
      embedder: undefined as never,
      chat: () => Promise.reject(new Error('no chat model here')),
      classifier: c,
    });

  it('labels the fixture items and never classifies an unchanged item again', async () => {
    const first = await deskWith(classifier).classify(items);
    assert.equal(first.computed, items.length);
    assert.equal(first.cached, 0);
    assert.equal(asked.length, items.length);
    const tram = items.find((i) => i.title === 'Tram line 4 to open on 9 March')!;
    const recipe = items.find((i) => i.title === 'Recipe: harbour fish stew')!;
    assert.equal(first.relevance.get(tram.id)!.label, 'transport');
    assert.equal(first.relevance.get(recipe.id)!.label, 'irrelevant');
    assert.ok(
      first.relevance.get(tram.id)!.scores.transport! > first.relevance.get(tram.id)!.scores.housing!,
    );

    // A new desk object over the same state (another process, a later run): all from the cache.
    asked.length = 0;
    const second = await deskWith(classifier).classify(items);
    assert.equal(second.computed, 0);
    assert.equal(second.cached, items.length);
    assert.equal(asked.length, 0);
    assert.deepEqual(second.relevance.get(tram.id), first.relevance.get(tram.id));

    // One changed item is classified again, alone.
    const changed = { ...tram, text: `${tram.text} Trams will also run at night.` };
    changed.contentHash = itemContentHash(changed);
    const third = await deskWith(classifier).classify([...items.filter((i) => i !== tram), changed]);
    assert.equal(third.computed, 1);
    assert.deepEqual(asked, [tram.id]);
  });

  it('another classifier version, or other topics, is a cache miss', async () => {
    asked.length = 0;
    const retuned = { ...classifier, version: 'threshold=0.5' };
    const r = await deskWith(retuned).classify(items.slice(0, 5));
    assert.equal(r.computed, 5);
    const t = await deskWith(classifier, definition.topics.slice(0, 2)).classify(items.slice(0, 5));
    assert.equal(t.computed, 5);
    assert.equal(asked.length, 10);
  });
});
