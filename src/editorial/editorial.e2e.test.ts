import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Attune } from '../attune.ts';
import { runAttune } from '../cli/testing.ts';
import { fixtureItems, rssFeed } from './fixtures/build-feeds.ts';
import { type FixtureServer, serveFixtures } from './testing.ts';

// Real default models (chat qwen2.5-coder-1.5b-instruct, embedding all-minilm-l6-v2), five items
// and one draft. One llama.cpp thread: on two cores shared with other jobs (load 13) two spinning
// threads made a draft take over 15 minutes; one thread generated 40 times faster.
describe('editorial pipeline end to end (real models, local HTTP feed)', () => {
  let server: FixtureServer;
  let attune: Attune;
  const work = mkdtempSync(join(tmpdir(), 'attune-editorial-'));
  const env = { ATTUNE_DIR: join(work, '.attune'), ATTUNE_THREADS: '1' };
  const deskFile = join(work, 'desk.json');
  const links = [
    '/transport/tram-line-4-opening',
    '/2026/11/19/line-4-date',
    '/2026/11/19/line-4-test-runs',
    '/2026/11/24/fish-stew-recipe',
    '/sport/aldren-fc-cup',
  ];
  let draftId = '';

  before(async () => {
    server = await serveFixtures();
    const items = links.map((l) => fixtureItems().find((i) => i.l.endsWith(l))!);
    server.routes.set('/small.xml', rssFeed(items));
    const desk = JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures', 'desk.json'), 'utf8'));
    writeFileSync(
      deskFile,
      JSON.stringify({
        ...desk,
        feeds: [`${server.url}/small.xml`],
        publish: { dir: join(work, 'out') },
      }),
    );
    attune = await Attune.open({ env: { ...process.env, ...env }, cwd: work });
  });
  after(async () => {
    await attune.close();
    await server.close();
    rmSync(work, { recursive: true, force: true });
  });

  it('polls, classifies, drafts one structured article within the budget, and fact-checks it', async () => {
    const desk = await attune.editorial(deskFile);
    const stages = new Set<string>();
    const summary = await desk.run({ maxDrafts: 1, onProgress: (p) => stages.add(p.stage) });
    assert.equal(summary.fetched, 5);
    assert.equal(summary.new, 5);
    assert.equal(summary.classified.computed, 5);
    assert.equal(summary.failedFeeds, 0);
    assert.ok(summary.relevant >= 1, `relevant: ${summary.relevant}`);
    assert.deepEqual(summary.draftFailures, []);
    assert.equal(summary.drafts.length, 1);
    for (const s of ['poll', 'store', 'classify', 'cluster', 'draft', 'fact-check'])
      assert.ok(stages.has(s), s);
    assert.ok(summary.msPerArticle! > 0);

    const draft = desk.draft(summary.drafts[0]!.id);
    draftId = draft.id;
    const a = draft.article;
    assert.ok(a.headline.length >= 10);
    assert.ok(a.lead.text.length >= 20);
    assert.ok(a.paragraphs.length >= 2 && a.insights.length >= 1);
    const ns = draft.sources.map((s) => s.n);
    for (const part of [a.lead, ...a.paragraphs, ...a.insights])
      assert.ok(part.sources.length > 0 && part.sources.every((n) => ns.includes(n)));
    // The tram story's items, not the recipe or the football.
    const tramIds = desk
      .items()
      .filter((i) => /line 4|Tram line 4/i.test(i.title))
      .map((i) => i.id);
    assert.ok(
      draft.sources.every((s) => tramIds.includes(s.itemId)),
      JSON.stringify(draft.sources),
    );
    assert.ok(draft.budget.promptTokens + draft.budget.reservedTokens <= draft.budget.contextSize);
    for (const f of draft.flags) assert.ok(f.message.length > 0 && f.sentence.length > 0);
    assert.equal(draft.state, 'in-review');

    // Each item is a knowledge-base document with its link and date.
    const kb = await attune.knowledgeBase();
    const doc = await kb.store.getDocument(draft.sources[0]!.itemId, { user: 'x', groups: [], admin: true });
    assert.equal(doc?.metadata.kind, 'news');
    assert.match(String(doc?.metadata.link), /^https:\/\//);
    assert.match(String(doc?.metadata.published), /^2026-11-19/);
  });

  it('a second run classifies nothing again and stores nothing twice', async () => {
    const desk = await attune.editorial(deskFile);
    const summary = await desk.run({ maxDrafts: 0 });
    assert.equal(summary.new, 0);
    assert.equal(summary.duplicates, 5);
    assert.equal(summary.classified.computed, 0);
    assert.equal(summary.classified.cached, 5);
  });

  it('the CLI reviews, approves and publishes the draft once', async () => {
    const review = await runAttune(['editorial', 'review', '--desk', deskFile, '--json'], env, work);
    assert.equal(review.code, 0, review.stderr);
    assert.deepEqual(
      (JSON.parse(review.stdout) as { id: string }[]).map((d) => d.id),
      [draftId],
    );
    const early = await runAttune(
      ['editorial', 'publish', draftId, '--desk', deskFile, '--editor', 'ann'],
      env,
      work,
    );
    assert.equal(early.code, 1);
    assert.match(early.stderr, /not approved; nothing is published without an editor's approval/);
    const approve = await runAttune(
      ['editorial', 'approve', draftId, '--desk', deskFile, '--editor', 'ann'],
      env,
      work,
    );
    assert.equal(approve.code, 0, approve.stderr);
    const publish = await runAttune(
      ['editorial', 'publish', draftId, '--desk', deskFile, '--editor', 'ann', '--to', 'markdown', '--json'],
      env,
      work,
    );
    assert.equal(publish.code, 0, publish.stderr);
    const { results } = JSON.parse(publish.stdout) as { results: { status: string; location: string }[] };
    assert.equal(results[0]!.status, 'published');
    assert.match(readFileSync(results[0]!.location, 'utf8'), /^# /);
    const log = await runAttune(['editorial', 'log', draftId, '--desk', deskFile, '--json'], env, work);
    assert.deepEqual(
      (JSON.parse(log.stdout) as { action: string; actor: string }[]).map((x) => `${x.action}:${x.actor}`),
      ['draft:model:qwen2.5-coder-1.5b-instruct', 'approve:ann', 'publish:ann'],
    );
  });
});
