import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Hono } from 'hono';
import { type Browser, type BrowserContext, chromium, type Locator, type Page } from 'playwright-core';
import { Attune } from '../attune.ts';
import { defaultHyperparameters, type FineTuningBackend } from '../finetune/index.ts';
import { type RunningServer, startServer } from './index.ts';
import { serveWebApp, WEB_DIST } from './web-app.ts';

// The built app (npm run build:web; scripts/run-tests.mjs builds it when stale) in Debian's Chromium,
// against the real server with the default local models. Screenshots go to test-artifacts/web-app/.
const CHROMIUM = process.env.ATTUNE_CHROMIUM ?? '/usr/bin/chromium';
const ARTIFACTS = join(process.cwd(), 'test-artifacts', 'web-app');
const BUILT = existsSync(join(WEB_DIST, 'index.html'));
/** The text as rendered: Playwright's innerText, which leaves out hidden tooltips (textContent would not). */
// biome-ignore lint/performance/useDomNodeTextContent: a Playwright locator, not a DOM node
const shown = (locator: Locator) => locator.innerText();
const RETURNS =
  '# Returns policy\n\nCustomers may return unworn shoes within 45 days of delivery for a full refund.\n\n' +
  '## Exchanges\n\nExchanges for another size are free and ship within 3 business days.\n';

describe('the web app at /app/ (static serving)', () => {
  it('serves the built app without a key, index.html for any route, a 404 for a missing asset', async () => {
    assert.ok(BUILT, `${WEB_DIST}/index.html is missing: run npm run build:web`);
    const app = new Hono();
    serveWebApp(app);
    const redirect = await app.request('/app');
    assert.equal(redirect.status, 301);
    assert.equal(redirect.headers.get('location'), '/app/');
    const index = await app.request('/app/');
    assert.equal(index.status, 200);
    assert.match(index.headers.get('content-type') ?? '', /text\/html/);
    assert.match(index.headers.get('content-security-policy') ?? '', /connect-src 'self'/);
    const html = await index.text();
    assert.match(html, /<div id="root">/);
    assert.doesNotMatch(html, /https?:\/\//, 'nothing from another origin');
    const script = /src="(\/app\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    assert.ok(script, html);
    const js = await app.request(script);
    assert.equal(js.status, 200);
    assert.match(js.headers.get('content-type') ?? '', /javascript/);
    const deep = await app.request('/app/documents/whatever');
    assert.equal(deep.status, 200);
    assert.equal(await deep.text(), html);
    assert.equal((await app.request('/app/assets/missing.js')).status, 404);
    assert.equal((await app.request('/app/../package.json')).status, 404);
  });

  it('says how to build the app when web/dist is missing', async () => {
    const app = new Hono();
    serveWebApp(app, join(tmpdir(), 'attune-no-such-dist'));
    const res = await app.request('/app/');
    assert.equal(res.status, 503);
    assert.match(await res.text(), /npm run build:web/);
  });
});

describe('the web app in Chromium against the real server (real models)', () => {
  const work = mkdtempSync(join(tmpdir(), 'attune-web-'));
  let attune: Attune;
  let server: RunningServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let keys: { admin: string; bob: string };
  const offOrigin: string[] = [];
  const shots: string[] = [];
  const shot = async (p: Page, name: string) => {
    const path = join(ARTIFACTS, `${name}.png`);
    await p.screenshot({ path, fullPage: true });
    shots.push(path);
    process.stdout.write(`screenshot: ${path}\n`);
  };
  const newContext = async (viewport: { width: number; height: number }) => {
    const ctx = await browser.newContext({ viewport });
    ctx.on('request', (r) => {
      if (!r.url().startsWith(server.url) && !r.url().startsWith('about:') && !r.url().startsWith('data:'))
        offOrigin.push(r.url());
    });
    return ctx;
  };

  before(async () => {
    assert.ok(BUILT, `${WEB_DIST}/index.html is missing: run npm run build:web`);
    assert.ok(
      existsSync(CHROMIUM),
      `Chromium is needed at ${CHROMIUM} (apt-get install chromium, or set ATTUNE_CHROMIUM)`,
    );
    mkdirSync(ARTIFACTS, { recursive: true });
    const kb = join(work, 'kb');
    mkdirSync(kb, { recursive: true });
    writeFileSync(
      join(kb, 'shipping.md'),
      '# Shipping\n\nOrders ship from the Leeds warehouse within 2 business days.\n',
    );
    attune = await Attune.open({ env: { ...process.env, ATTUNE_DIR: join(work, 'store') } });
    await attune.sync([kb]);
    const store = attune.keys();
    keys = {
      admin: store.create({ principal: 'ops', admin: true }).key,
      bob: store.create({ principal: 'bob:engineering' }).key,
    };
    server = await startServer(attune, { port: 0 });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    context = await newContext({ width: 1280, height: 860 });
    page = await context.newPage();
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    await attune?.close();
    rmSync(work, { recursive: true, force: true });
    if (shots.length)
      process.stdout.write(`web app screenshots:\n${shots.map((s) => `  ${s}`).join('\n')}\n`);
  });

  it('serves /app/ without a key while the API still wants one', async () => {
    assert.equal((await fetch(`${server.url}/app/`)).status, 200);
    assert.equal((await fetch(`${server.url}/api/documents`)).status, 401);
  });

  it('signs in with a key, refusing a wrong one with the server’s reason', async () => {
    await page.goto(`${server.url}/app/`);
    await page.getByLabel('API key').fill('attune_00000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'The API key is not valid' }).waitFor();
    await page.getByLabel('API key').fill(keys.admin);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('navigation', { name: 'sections' }).waitFor();
    assert.equal(await page.evaluate(() => localStorage.getItem('attune.apiKey')), keys.admin);
    assert.equal(await page.getByRole('link', { name: 'Chat' }).getAttribute('aria-current'), 'page');
  });

  it('uploads a document with progress and an ACL, and lists each failed file with its reason', async () => {
    await page.getByRole('link', { name: 'Documents' }).click();
    await page.getByLabel('Files').setInputFiles([
      { name: 'returns.md', mimeType: 'text/markdown', buffer: Buffer.from(RETURNS) },
      { name: 'tool.exe', mimeType: 'application/octet-stream', buffer: Buffer.from([0, 1, 2]) },
    ]);
    await page.getByLabel('Groups (comma-separated)').fill('engineering');
    await page.getByRole('button', { name: 'Upload', exact: true }).click();
    const stored = page.locator('.upload-row[data-state="stored"]');
    await stored.waitFor({ timeout: 120_000 });
    assert.match((await stored.textContent()) ?? '', /returns\.md.*stored: 1 added/);
    assert.equal(await stored.locator('progress').evaluate((p) => (p as HTMLProgressElement).value), 1);
    const failed = page.locator('.upload-row[data-state="failed"]');
    await failed.waitFor({ timeout: 60_000 });
    const failure = (await failed.textContent()) ?? '';
    assert.match(failure, /tool\.exe/);
    assert.match(failure, /422/);
    assert.match(await shown(failed.getByRole('list', { name: 'tool.exe failures' })), /unsupported/i);
    const row = page.getByRole('row').filter({ hasText: 'uploads/returns.md' });
    await row.waitFor();
    assert.match(await shown(row), /group: engineering/);
    assert.match(await shown(page.getByRole('table', { name: /versions/i })), /upload returns\.md/);
    await shot(page, 'documents-laptop');
  });

  it('shows a non-admin the 403 detail instead of uploading', async () => {
    const ctx = await newContext({ width: 1280, height: 800 });
    await ctx.addInitScript((key) => localStorage.setItem('attune.apiKey', key), keys.bob);
    const bob = await ctx.newPage();
    await bob.goto(`${server.url}/app/#/documents`);
    await bob
      .getByLabel('Files')
      .setInputFiles({ name: 'x.md', mimeType: 'text/markdown', buffer: Buffer.from('# X\n\nx') });
    await bob.getByRole('button', { name: 'Upload', exact: true }).click();
    const failed = bob.locator('.upload-row[data-state="failed"]');
    await failed.waitFor();
    assert.match((await failed.textContent()) ?? '', /403 Forbidden: This needs an admin key/);
    await bob.goto(`${server.url}/app/#/eval`);
    await bob.getByRole('alert').filter({ hasText: '403' }).waitFor();
    await ctx.close();
  });

  let answerText = '';
  it('streams the draft greyed, replaces it with the checked answer, and opens a citation beside it', async () => {
    await page.getByRole('link', { name: 'Chat' }).click();
    // Every state of the draft element as it changes: the test sees the stream, not just its end.
    await page.evaluate(() => {
      const w = window as unknown as { drafts: string[]; draftOpacity: string };
      w.drafts = [];
      new MutationObserver(() => {
        const el = document.querySelector('[data-testid="draft"]');
        if (!el) return;
        w.draftOpacity = getComputedStyle(el).opacity;
        const text = el.textContent ?? '';
        if (w.drafts[w.drafts.length - 1] !== text) w.drafts.push(text);
      }).observe(document.body, { subtree: true, childList: true, characterData: true });
    });
    await page.getByLabel('Question').fill('How many days do customers have to return unworn shoes?');
    await page.getByRole('button', { name: 'Ask' }).click();
    // The draft can live for a few hundred milliseconds (a short answer on a warm model), shorter
    // than Playwright's polling: the observer above is what sees it, so the test waits for the end.
    const answer = page.locator('.turn[data-status="done"] .answer-text');
    await answer.waitFor({ timeout: 180_000 });
    answerText = (await shown(answer)).trim();
    assert.match(answerText, /45/);
    const seen = await page.evaluate(() => {
      const w = window as unknown as { drafts: string[]; draftOpacity: string };
      return { drafts: w.drafts, draftOpacity: w.draftOpacity };
    });
    const drafts = seen.drafts.filter((d) => d && d !== '…');
    assert.ok(drafts.length >= 2, `the draft grew in pieces: ${JSON.stringify(seen.drafts)}`);
    assert.ok(Number(seen.draftOpacity) < 1, `the draft is greyed (opacity ${seen.draftOpacity})`);
    assert.equal(
      await page.locator('[data-testid="draft"]').count(),
      0,
      'the checked answer replaced the draft',
    );

    const cite = page.locator('.turn .cite-button').first();
    assert.match((await cite.textContent()) ?? '', /^\[\d+\]$/);
    await cite.hover();
    const tip = page.getByRole('tooltip').filter({ visible: true });
    await tip.waitFor();
    assert.match(await shown(tip), /45 days/);
    const tipBox = await tip.boundingBox();
    assert.ok(
      tipBox && tipBox.x >= 0 && tipBox.x + tipBox.width <= 1280 && tipBox.y >= 0,
      'the passage is on screen',
    );
    await shot(page, 'chat-tooltip-laptop');
    // By keyboard: the citation is a button, Enter opens the source panel.
    await page.mouse.move(0, 0);
    await cite.focus();
    await tip.waitFor();
    await page.keyboard.press('Escape');
    await tip.waitFor({ state: 'hidden' });
    await page.keyboard.press('Enter');
    const panel = page.getByRole('complementary', { name: 'source' });
    await panel.getByRole('heading', { name: 'Returns policy' }).waitFor();
    const cited = panel.locator('.chunk.cited');
    assert.equal(await cited.count(), 1);
    assert.match(await shown(cited), /45 days/);
    const mark = panel.locator('mark.cited-text');
    assert.match(await shown(mark), /45 days/);
    const bg = await mark.evaluate((m) => getComputedStyle(m).backgroundColor);
    assert.notEqual(bg, 'rgba(0, 0, 0, 0)', 'the cited text is highlighted');
    assert.ok(
      await cited.evaluate((el) => el === document.activeElement),
      'focus moves to the cited passage',
    );
    assert.match(await shown(panel), /as it was at knowledge-base version 2/);
    const box = await panel.boundingBox();
    const conversation = await page.getByRole('region', { name: 'conversation' }).boundingBox();
    assert.ok(
      box && conversation && box.x >= conversation.x + conversation.width - 1,
      'the source is beside the answer',
    );
    await shot(page, 'chat-citation-laptop');
    await page.keyboard.press('Escape');
    await panel.waitFor({ state: 'detached' });
    assert.ok(await cite.evaluate((el) => el === document.activeElement), 'focus returns to the citation');
  });

  it('says clearly when it abstains', async () => {
    await page.getByLabel('Question').fill('What is the airspeed velocity of an unladen swallow?');
    await page.getByRole('button', { name: 'Ask' }).click();
    const abstained = page.locator('.turn[data-status="done"] .abstained');
    await abstained.waitFor({ timeout: 180_000 });
    assert.match(await shown(abstained), /Attune did not answer/);
    const closest = abstained.getByRole('figure');
    if (await closest.count()) assert.match(await shown(closest), /Closest passage, not an answer/);
    await shot(page, 'chat-abstained-laptop');
  });

  it('honours the citation links the OpenAI endpoint returns: /app/#/documents/<id>?chunk=<chunk>', async () => {
    const res = await fetch(`${server.url}/api/documents/${encodeURIComponent('uploads/returns.md')}`, {
      headers: { authorization: `Bearer ${keys.admin}` },
    });
    const { chunks } = (await res.json()) as { chunks: { id: string; text: string }[] };
    const target = chunks.find((c) => /Exchanges/.test(c.text)) ?? chunks[chunks.length - 1]!;
    await page.goto(
      `${server.url}/app/#/documents/${encodeURIComponent('uploads/returns.md')}?chunk=${encodeURIComponent(target.id)}`,
    );
    // The chat stays mounted (hidden) with its own source panel: count what is on screen.
    const cited = page.locator(`.chunk.cited[data-chunk-id="${target.id}"]`).filter({ visible: true });
    await cited.waitFor();
    assert.equal(await page.locator('.chunk.cited').filter({ visible: true }).count(), 1);
    assert.match(await shown(cited), /Exchanges/);
  });

  it('browses the audit record of the answer: retrieved passages, prompt size, timings', async () => {
    await page.goto(`${server.url}/app/#/audit`);
    await page.getByRole('link', { name: 'How many days do customers have to return unworn shoes?' }).click();
    const record = page.getByRole('article', { name: /audit record/ });
    await record.waitFor();
    const text = await shown(record);
    assert.match(text, /answered/);
    assert.match(text, /\d+ tokens of a \d+-token context/);
    assert.match(
      await shown(record.getByRole('table', { name: /retrieved/i })),
      /Returns policy[\s\S]*in the prompt/,
    );
    assert.match(await shown(record.getByRole('table', { name: 'Timings' })), /\d+ (ms|s)/);
    await page.getByRole('button', { name: 'Show the cited documents as they were when answered' }).click();
    await page.getByText('uploads/returns.md at version 2').click();
    await page
      .locator('.as-they-were')
      .getByText(/within 45 days of delivery/)
      .waitFor();
    await shot(page, 'audit-laptop');
  });

  it('lists the model catalog, eval runs and fine-tune jobs with their loss curve', async () => {
    await page.goto(`${server.url}/app/#/models`);
    assert.match(
      await shown(page.getByRole('table', { name: 'Model catalog' })),
      /qwen2\.5-coder-1\.5b-instruct/,
    );
    await page.goto(`${server.url}/app/#/eval`);
    await page.getByText('No eval runs yet').waitFor();
    // A stand-in report (the real one's charts are tested in src/eval): inline SVG and an inline
    // script, which must run in the sandboxed frame yet not reach the app's storage (the key).
    const run = join(attune.config.dir, 'eval', 'run-web-1');
    mkdirSync(run, { recursive: true });
    writeFileSync(join(run, 'run.json'), '{}');
    writeFileSync(
      join(run, 'report.html'),
      `<!doctype html><html><body><h1>Stand-in report</h1><svg width="200" height="20"><rect id="bar" width="120" height="20"/></svg>
<p id="ran">script did not run</p><p id="storage"></p><script>
document.getElementById('ran').textContent = 'script ran';
let seen; try { seen = localStorage.getItem('attune.apiKey') ?? 'nothing'; } catch { seen = 'storage refused'; }
document.getElementById('storage').textContent = seen;
</script></body></html>`,
    );
    await page.reload();
    await page.getByRole('link', { name: 'run-web-1' }).click();
    const frame = page.frameLocator('iframe[title="eval report run-web-1"]');
    await frame.getByText('script ran').waitFor();
    assert.equal(await shown(frame.locator('#storage')), 'storage refused', 'the report cannot read the key');
    assert.equal(await frame.locator('#bar').getAttribute('width'), '120');
    await shot(page, 'eval-report-laptop');
    // A finished job, made through the library with a scripted backend (training itself is tested
    // for real in src/finetune and over HTTP in server.test.ts): five steps of falling loss.
    const data = join(attune.config.dir, 'payday.jsonl');
    const line = JSON.stringify({
      messages: [
        { role: 'user', content: 'When is payday?' },
        { role: 'assistant', content: 'The last working day of the month.' },
      ],
    });
    writeFileSync(data, `${line}\n${line}\n${line}\n${line}\n`);
    const backend: FineTuningBackend = {
      specificationVersion: 'v1',
      provider: 'local',
      async *doTrain(options) {
        mkdirSync(options.outputDir, { recursive: true });
        const gguf = join(options.outputDir, 'adapter.gguf');
        const safetensors = join(options.outputDir, 'adapter_model.safetensors');
        writeFileSync(gguf, 'gguf');
        writeFileSync(safetensors, 'st');
        yield { type: 'started', totalSteps: 5, trainExamples: 4, validationExamples: 0 };
        for (let step = 1; step <= 5; step++)
          yield {
            type: 'step',
            step,
            totalSteps: 5,
            epoch: 1,
            loss: 3 - step * 0.4,
            learningRate: 1e-3,
            tokensPerSecond: 50,
            etaSeconds: 0,
          };
        yield { type: 'eval', step: 5, evalLoss: 1.5 };
        yield {
          type: 'succeeded',
          output: { kind: 'adapter', gguf, safetensors },
          metrics: { trainLoss: 1, evalLossBefore: 3, evalLossAfter: 1.5 },
        };
      },
    };
    const jobs = attune.finetuneJobs();
    const created = await jobs.create({
      backend: 'local',
      baseModel: { name: 'smollm2-135m-instruct' },
      trainFile: data,
      hyperparameters: defaultHyperparameters,
    });
    const done = await jobs.run(created.id, { backend });
    await page.goto(`${server.url}/app/#/finetune`);
    await page.getByRole('table', { name: 'Fine-tuning jobs' }).getByText(created.id).waitFor();
    const chart = page.getByRole('img', { name: 'Loss over 5 steps' });
    await chart.waitFor();
    const points = (await chart.locator('polyline').getAttribute('points'))!.trim().split(' ');
    assert.equal(points.length, 5, 'one point per step');
    assert.equal(await chart.locator('circle').count(), 1, 'the validation loss');
    await page.getByText(`adapter ${done.adapterId}`).waitFor();
    await shot(page, 'finetune-laptop');
  });

  it('names every control on every screen (accessible names, from the accessibility tree)', async () => {
    await page.goto(`${server.url}/app/#/audit`);
    const record = await page.getByRole('link', { name: /return unworn shoes/ }).getAttribute('href');
    for (const route of [
      'chat',
      'documents',
      'audit',
      record!.slice(2),
      'eval',
      'eval/run-web-1',
      'models',
      'finetune',
      `documents/${encodeURIComponent('uploads/returns.md')}`,
    ]) {
      await page.goto(`${server.url}/app/#/${route}`);
      await page.getByRole('main').getByRole('heading').first().waitFor();
      // Every loading placeholder gone: the screen's data is in. (Network idleness after a hash
      // navigation timed out here now and then with every request finished.)
      await page.waitForFunction(() => !document.querySelector('[aria-busy="true"]'));
      const tree = await page.locator('body').ariaSnapshot();
      const unnamed = tree
        .split('\n')
        .filter((line) => /^\s*- (button|link|textbox|checkbox|combobox|tooltip)\b(?! ")/.test(line));
      assert.deepEqual(unnamed, [], `${route}: controls without a name`);
    }
  });

  it('is usable at phone width: one column, nothing wider than the screen, the source below the answer', async () => {
    const ctx = await newContext({ width: 390, height: 844 });
    await ctx.addInitScript((key) => localStorage.setItem('attune.apiKey', key), keys.admin);
    const phone = await ctx.newPage();
    await phone.goto(`${server.url}/app/`);
    // The same question again: the answer cache serves it, so no second generation on shared cores.
    // By keyboard alone: Tab through the page to the question, type, Enter.
    for (let i = 0; i < 20; i++) {
      await phone.keyboard.press('Tab');
      if (await phone.getByLabel('Question').evaluate((el) => el === document.activeElement)) break;
    }
    await phone.keyboard.type('How many days do customers have to return unworn shoes?');
    await phone.keyboard.press('Enter');
    await phone.locator('.turn[data-status="done"] .answer-text').waitFor({ timeout: 180_000 });
    const phoneCite = phone.locator('.turn .cite-button').first();
    await phoneCite.focus();
    const tipBox = await phone.getByRole('tooltip').filter({ visible: true }).boundingBox();
    assert.ok(
      tipBox && tipBox.x >= 0 && tipBox.x + tipBox.width <= 390,
      `the passage fits: ${JSON.stringify(tipBox)}`,
    );
    await phoneCite.click();
    const panel = phone.getByRole('complementary', { name: 'source' });
    await panel.locator('mark.cited-text').waitFor();
    const widths = await phone.evaluate(() => ({
      scroll: document.documentElement.scrollWidth,
      inner: window.innerWidth,
    }));
    assert.ok(widths.scroll <= widths.inner, `no sideways scrolling: ${JSON.stringify(widths)}`);
    const panelBox = await panel.boundingBox();
    const answerBox = await phone.locator('.turn .answer-text').boundingBox();
    assert.ok(panelBox && answerBox && panelBox.y > answerBox.y, 'the source comes below the answer');
    const ask = await phone.getByRole('button', { name: 'Ask' }).boundingBox();
    assert.ok(ask && ask.x + ask.width <= 390, 'the Ask button is on screen');
    await shot(phone, 'chat-citation-phone');
    await ctx.close();
  });

  it('stops an answer in flight', async () => {
    const ctx = await newContext({ width: 1280, height: 800 });
    await ctx.addInitScript((key) => localStorage.setItem('attune.apiKey', key), keys.admin);
    const p = await ctx.newPage();
    await p.goto(`${server.url}/app/`);
    await p.getByLabel('Question').fill('Where do orders ship from?');
    await p.getByRole('button', { name: 'Ask' }).click();
    await p.getByRole('button', { name: 'Stop' }).click();
    await p.getByRole('alert').filter({ hasText: 'Stopped: no answer was given.' }).waitFor();
    await p.getByRole('button', { name: 'Ask' }).waitFor();
    await ctx.close();
  });

  it('opens a citation as the answer read it, after the document has changed', async () => {
    const ctx = await newContext({ width: 1280, height: 800 });
    await ctx.addInitScript((key) => localStorage.setItem('attune.apiKey', key), keys.admin);
    const p = await ctx.newPage();
    await p.goto(`${server.url}/app/`);
    // From the answer cache (the knowledge base is still at version 2): no generation.
    await p.getByLabel('Question').fill('How many days do customers have to return unworn shoes?');
    await p.getByRole('button', { name: 'Ask' }).click();
    await p.locator('.turn[data-status="done"] .answer-text').waitFor({ timeout: 180_000 });
    const form = new FormData();
    form.set(
      'file',
      new File([RETURNS.replace('45 days', '60 days')], 'returns.md', { type: 'text/markdown' }),
    );
    form.set('groups', 'engineering');
    const res = await fetch(`${server.url}/api/documents`, {
      method: 'POST',
      headers: { authorization: `Bearer ${keys.admin}` },
      body: form,
    });
    assert.equal(res.status, 201);
    const version = ((await res.json()) as { version: number }).version;
    assert.ok(version > 2, `a new version: ${version}`);
    await p.locator('.turn .cite-button').first().click();
    const panel = p.getByRole('complementary', { name: 'source' });
    assert.match(await shown(panel.locator('mark.cited-text')), /45 days/);
    assert.match(await shown(panel), /as it was at knowledge-base version 2/);
    await p.goto(`${server.url}/app/#/documents/${encodeURIComponent('uploads/returns.md')}`);
    await p.locator('.page .chunk').filter({ hasText: '60 days' }).waitFor();
    await p.getByLabel('Show at version').selectOption('2');
    await p.locator('.page .chunk').filter({ hasText: '45 days' }).waitFor();
    assert.match(p.url(), /\?version=2$/);
    await ctx.close();
  });

  it('asked nothing of any other origin', () => {
    assert.deepEqual(offOrigin, []);
    for (const s of shots) assert.ok(readFileSync(s).length > 1000, s);
  });
});
