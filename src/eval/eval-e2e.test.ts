import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium } from 'playwright-core';
import { Attune } from '../attune.ts';
import { runAttune } from '../cli/testing.ts';
import type { EvalReport } from './eval-run.ts';
import type { FreshnessResult } from './freshness.ts';

// A small real evaluation: the sample handbook, four questions (one the handbook cannot answer),
// base against rag with the default local models, the freshness probe on a copy, and the HTML
// report opened in a real headless Chromium.
const CHROMIUM = process.env.ATTUNE_CHROMIUM ?? '/usr/bin/chromium';
const work = mkdtempSync(join(tmpdir(), 'attune-eval-e2e-'));
const env = { ...process.env, ATTUNE_DIR: join(work, 'kb') };
const questions = [
  {
    id: 'refund',
    question: 'Within how many days can an annual plan be refunded in full?',
    answers: ['30 days', '30'],
    answerable: true,
    gold_doc_ids: ['customer-policies.md'],
  },
  {
    id: 'password',
    question: 'How many characters must passwords outside single sign-on have?',
    answers: ['at least 14 characters', '14 characters', '14'],
    answerable: true,
    gold_doc_ids: ['security-policy.md'],
  },
  {
    id: 'breach',
    question: 'Within how many hours are customers informed of a personal-data breach?',
    answers: ['72 hours', '72'],
    answerable: true,
    gold_doc_ids: ['security-policy.md'],
  },
  {
    id: 'cafeteria',
    question: 'What is the company cafeteria called?',
    answers: [],
    answerable: false,
    gold_doc_ids: [],
  },
];
let attune: Attune;
let report: EvalReport;
let html: string;

before(async () => {
  attune = await Attune.open({ env, cwd: work });
  await attune.sync([join(import.meta.dirname, '..', '..', 'examples', 'handbook')]);
  const file = join(work, 'questions.jsonl');
  writeFileSync(file, `${questions.map((q) => JSON.stringify(q)).join('\n')}\n`);
  await attune.importTestSet(file, { name: 'handbook' });
  const result = await attune.evaluate({ testSet: 'handbook', strategies: 'base,rag', freshness: 2 });
  report = result.report;
  html = result.paths.html!;
});
after(async () => {
  await attune?.close();
  rmSync(work, { recursive: true, force: true });
});

describe('eval, end to end with real models', () => {
  it('answers every question with both strategies and measures rag above the model alone', () => {
    assert.equal(report.outcomes.length, 8);
    const [base, rag] = report.summaries;
    assert.equal(base!.strategy, 'base');
    assert.equal(rag!.failed, 0);
    // The handbook's facts are its own (a fictional company): the model alone cannot know them.
    assert.ok(rag!.accuracy.value >= 0.75, `rag accuracy ${rag!.accuracy.value}`);
    assert.ok(rag!.accuracy.value > base!.accuracy.value);
    assert.ok(rag!.recallAtK.value >= 0.99, 'every gold document retrieved');
    assert.ok(base!.hallucinationRate.value > rag!.hallucinationRate.value);
    assert.ok(report.config.strategies[1]!.model.sha256, 'the model checksum is recorded');
    const f1 = report.comparisons.find((c) => c.metric === 'f1')!;
    assert.equal(f1.matched, 4);
    assert.ok(f1.meanDelta > 0);
  });

  it('shows rag fresh and the model alone stale after a fact changes, on a copy', async () => {
    const freshness = report.freshness as FreshnessResult;
    assert.equal(freshness.documents, 2);
    const rag = freshness.strategies.find((s) => s.strategy === 'rag')!;
    const base = freshness.strategies.find((s) => s.strategy === 'base')!;
    assert.ok(rag.fresh >= 1, JSON.stringify(freshness.answers));
    assert.equal(base.fresh, 0);
    assert.ok(rag.firstFreshMs !== undefined && rag.firstFreshMs >= freshness.syncMs);
    // The user's knowledge base did not change.
    const kb = await attune.knowledgeBase();
    assert.equal((await kb.store.currentVersion())?.number, report.config.kbVersion);
    const probe = freshness.probes[0]!;
    const text = (await kb.store.getChunks(probe.docId, { user: 'x', groups: [], admin: true }))
      .map((c) => c.text)
      .join(' ');
    assert.ok(text.includes(probe.oldValue) && !text.includes(probe.newValue));
  });

  it('writes a self-contained HTML report whose charts render in Chromium', async () => {
    assert.ok(
      existsSync(CHROMIUM),
      `Chromium is needed at ${CHROMIUM} (apt-get install chromium, or set ATTUNE_CHROMIUM)`,
    );
    const text = readFileSync(html, 'utf8');
    assert.doesNotMatch(
      text,
      /<script[^>]+src=|<link[^>]+href=|https?:\/\/(?!www\.w3\.org)/,
      'no network needed',
    );
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    try {
      const page = await browser.newPage();
      const requests: string[] = [];
      page.on('request', (r) => {
        if (!r.url().startsWith('file:')) requests.push(r.url());
      });
      await page.goto(`file://${html}`);
      const bar = page.locator('#metric-bars rect.bar[data-strategy="rag"][data-metric="accuracy"]');
      const width = Number(await bar.getAttribute('width'));
      const rag = report.summaries[1]!;
      assert.ok(Math.abs(width - rag.accuracy.value * 520) < 1, `bar width ${width}`);
      const box = await bar.boundingBox();
      assert.ok(box && box.width > 100, 'the bar is drawn');
      assert.equal(await page.locator('#latency circle').count(), 8);
      assert.equal(await page.locator('#questions tbody tr:visible').count(), 4);
      await page.fill('#filter', 'refunded');
      assert.equal(await page.locator('#questions tbody tr:visible').count(), 1);
      assert.match((await page.locator('#shown').textContent()) ?? '', /1 of 4/);
      assert.deepEqual(requests, []);
    } finally {
      await browser.close();
    }
  });

  it('compares runs and advises from the latest one on the command line', async () => {
    const cli = { ATTUNE_DIR: env.ATTUNE_DIR };
    const compare = await runAttune(
      ['eval', 'compare', `${report.config.id}:base`, `${report.config.id}:rag`, '--json'],
      cli,
    );
    assert.equal(compare.code, 0, compare.stderr);
    const c = JSON.parse(compare.stdout);
    assert.equal(c.matched, 4);
    assert.ok(c.meanDelta > 0);
    // The same comparison is a library call; the command only renders it.
    const library = attune.evalRuns().compare(`${report.config.id}:base`, `${report.config.id}:rag`);
    assert.deepEqual(library.comparison, c);
    assert.equal(library.sameTestSet, true);
    assert.throws(
      () => attune.evalRuns().compare(report.config.id, `${report.config.id}:nope`),
      /no strategy "nope"/,
    );
    const flags = [
      '--change-frequency',
      'daily',
      '--citations-required',
      '--latency-budget-ms',
      '20000',
      '--labelled-examples',
      '50',
      '--ml-skills',
      'none',
      '--wrong-answer-cost',
      'high',
      '--data-sensitivity',
      'internal',
      '--queries-per-month',
      '10000',
    ];
    const advice = await runAttune(['advise', ...flags, '--json'], cli);
    assert.equal(advice.code, 0, advice.stderr);
    const a = JSON.parse(advice.stdout);
    assert.equal(a.recommendation, 'rag');
    assert.ok(
      a.reasons.some((r: { basis: string }) => r.basis === 'measurement'),
      'reasons cite the eval run',
    );
    assert.match(readFileSync(html, 'utf8'), /<h2>Cost<\/h2>/);
    const missing = await runAttune(['advise', '--change-frequency', 'daily'], cli);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /--ml-skills/);
    const bad = join(work, 'bad.jsonl');
    writeFileSync(bad, '{"id":"1","question":"Who?","answers":["x"]}\n{"id":"2","answers":["y"]}\n');
    const imported = await runAttune(['testset', 'import', bad, '--name', 'bad'], cli);
    assert.equal(imported.code, 1);
    assert.match(imported.stderr, /bad\.jsonl:2: field "question"/);
  });
});
