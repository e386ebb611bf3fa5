import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { EmbeddingModel, Models } from '../models/index.ts';
import { testModels } from '../models/testing.ts';
import type { Article } from './draft-record.ts';
import { type CheckSource, factCheckArticle, factKind, missingQuotes } from './fact-check.ts';
import { fixtureItems } from './fixtures/build-feeds.ts';

const byLink = (suffix: string) => fixtureItems().find((i) => i.l.endsWith(suffix))!;

describe('fact-check against the cited items (real embedding model)', () => {
  let models: Models;
  let embedder: EmbeddingModel;
  const tram = byLink('/transport/tram-line-4-opening');
  const cost = byLink('/2026/11/19/line-4-date');
  const tariff = byLink('/energy/tariff-rise-2027');
  const sources: CheckSource[] = [
    { n: 1, itemId: 'news/tram', text: tram.x, link: tram.l },
    { n: 2, itemId: 'news/cost', text: cost.x },
  ];
  before(async () => {
    models = await testModels();
    embedder = await models.embedding();
  });
  after(() => models.dispose());

  it('a faithful article has no flags', async () => {
    const article: Article = {
      headline: 'Tram line 4 opens on 9 March 2027',
      lead: { text: "Port Aldren's new tram line 4 will open to passengers on 9 March 2027.", sources: [1] },
      paragraphs: [
        {
          text: 'The 14-kilometre line has 11 stops and links Northgate with the university campus.',
          sources: [1],
        },
        { text: 'The line cost 412 million euros, 60 million more than planned.', sources: [2] },
      ],
      insights: [{ text: 'Trams will run every six minutes at peak times.', sources: [1] }],
    };
    const flags = await factCheckArticle(article, sources, { embedder });
    assert.deepEqual(flags, []);
  });

  it('changed numbers, dates, names and quotes are flagged with the evidence', async () => {
    const article: Article = {
      headline: 'Tram line 4 opens on 19 March 2027',
      lead: { text: "Port Aldren's new tram line 4 will open to passengers on 9 May 2027.", sources: [1] },
      paragraphs: [
        {
          text: 'The 14-kilometre line has 13 stops and links Northgate with the university campus.',
          sources: [1],
        },
        { text: 'Transport councillor Idris Fenwick welcomed the line.', sources: [1] },
        {
          text: 'Transport councillor Idris Banerjee said: "Line 4 will take 19,000 car journeys off our roads every day."',
          sources: [1],
        },
        // True, but of source 2, not of the cited source 1.
        { text: 'The line cost 412 million euros, 60 million more than planned.', sources: [1] },
      ],
      insights: [{ text: 'Trams will run every six minutes at peak times.', sources: [1] }],
    };
    const flags = await factCheckArticle(article, sources, {
      embedder,
      lookup: async () => [{ n: 100, itemId: 'news/cost', text: cost.x }],
    });
    const of = (part: string) => flags.filter((f) => f.part === part);
    assert.equal(of('headline')[0]?.kind, 'date');
    assert.deepEqual(of('headline')[0]?.missing, ['19 march']);
    assert.equal(of('lead')[0]?.kind, 'date');
    assert.ok(of('lead')[0]!.missing.includes('9 may'), of('lead')[0]!.missing.join());
    assert.equal(of('paragraphs[0]')[0]?.kind, 'number');
    assert.deepEqual(of('paragraphs[0]')[0]?.missing, ['13']);
    assert.match(of('paragraphs[0]')[0]!.evidence!.sentence, /11 stops/);
    assert.equal(of('paragraphs[1]')[0]?.kind, 'name');
    assert.deepEqual(of('paragraphs[1]')[0]?.missing, ['fenwick']);
    assert.equal(of('paragraphs[2]')[0]?.kind, 'quote');
    assert.equal(of('paragraphs[3]')[0]?.kind, 'citation');
    assert.equal(of('paragraphs[3]')[0]?.evidence?.itemId, 'news/cost');
    assert.equal(of('insights[0]').length, 0);
  });

  it('a quote must be word for word; a scare-quoted word is not a quote', () => {
    assert.deepEqual(
      missingQuotes('Quillon said: "The rise covers the cost of upgrading the grid."', [tariff.x]),
      [],
    );
    assert.deepEqual(missingQuotes('Quillon said: "The rise covers higher profits."', [tariff.x]), [
      'The rise covers higher profits.',
    ]);
    assert.deepEqual(missingQuotes('A so-called "smart" meter.', ['nothing']), []);
    assert.equal(factKind('2027'), 'date');
    assert.equal(factKind('march'), 'date');
    assert.equal(factKind('7.5'), 'number');
    assert.equal(factKind('quillon'), 'name');
  });
});
