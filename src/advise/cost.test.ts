import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { projectCosts } from './cost.ts';
import { parsePriceTable } from './prices.ts';
import { measured } from './testing.ts';

const prices = parsePriceTable(
  {
    models: {
      'vm-model': { hardwarePerHour: 0.36 },
      gpu: { hardwarePerHour: 2 },
      hosted: { inputPerMillion: 0.15, outputPerMillion: 0.6 },
    },
    embeddingPerMillion: 0.02,
    storagePerGbMonth: 0.1,
  },
  'test-prices.json',
);

const close = (actual: number, expected: number) =>
  assert.ok(Math.abs(actual - expected) < 1e-9, `${actual} is not ${expected}`);

describe('cost projection', () => {
  it('matches a hand-computed case to the cent', () => {
    const p = projectCosts({
      strategies: [measured({ approach: 'ft' }), measured({ approach: 'rag' })],
      queriesPerMonth: 10_000,
      changeFrequency: 'weekly',
      prices,
      training: { secondsPerRun: 1800, hardware: 'gpu' },
      embedding: { tokensInKb: 1_000_000 },
      storageGb: 2,
    });
    const [ft, rag] = p.approaches;
    // 10,000 × 0.5 s = 5,000 s = 1.3889 h × $0.36 = $0.50.
    close(ft!.monthly.inference, 0.5);
    // 1800 s at $2/h = $1 per run; weekly = 4.3 runs a month; one more in month 0.
    close(ft!.setup.training, 1);
    close(ft!.monthly.retraining, 4.3);
    close(ft!.monthly.reindexing, 0);
    close(ft!.cumulative[0]!, 1);
    close(ft!.total, 1 + 12 * 4.8);
    // 1M tokens × $0.02/M = $0.02 per full index, 4.3 a month; 2 GB × $0.10 = $0.20 a month.
    close(rag!.setup.indexing, 0.02);
    close(rag!.monthly.reindexing, 0.086);
    close(rag!.monthly.storage, 0.2);
    close(rag!.monthly.retraining, 0);
    close(rag!.total, 0.02 + 12 * (0.5 + 0.086 + 0.2));
    assert.equal(ft!.cumulative.length, 13);
    for (const a of p.approaches)
      for (let m = 1; m < a.cumulative.length; m++) assert.ok(a.cumulative[m]! >= a.cumulative[m - 1]!);
    const ratio = p.ratios.find((r) => r.more === 'ft' && r.less === 'rag')!;
    close(ratio.ratio, 58.6 / 9.452);
    assert.match(ratio.text, /^ft costs 6\.2× rag over 12 months/);
    assert.deepEqual(p.breakEvens, [], 'ft starts dearer and grows faster: no crossing');
    assert.deepEqual(p.notes, []);
  });
  it('prices hosted models per token', () => {
    const p = projectCosts({
      strategies: [
        measured({
          approach: 'base',
          model: 'hosted',
          inputTokensPerQuestion: 1000,
          outputTokensPerQuestion: 200,
        }),
      ],
      queriesPerMonth: 1000,
      changeFrequency: 'rarely',
      prices,
    });
    // 1000 × (1000 × 0.15 + 200 × 0.6) / 1e6 = $0.27.
    close(p.approaches[0]!.monthly.inference, 0.27);
    close(p.approaches[0]!.total, 12 * 0.27);
  });
  it('finds the month where two cumulative lines cross, and which is cheaper after', () => {
    // ft: $10 to train once (5 h at $2/h), never retrained; 1000 × 10 s = 2.78 h × $0.36 = $1/month.
    // rag: hosted, 1000 × 20,000 tokens × $0.15/M = $3/month.
    const p = projectCosts({
      strategies: [
        measured({ approach: 'ft', secondsPerQuestion: 10 }),
        measured({
          approach: 'rag',
          model: 'hosted',
          inputTokensPerQuestion: 20_000,
          outputTokensPerQuestion: 0,
        }),
      ],
      queriesPerMonth: 1000,
      changeFrequency: 'monthly',
      prices,
      training: { secondsPerRun: 18_000, hardware: 'gpu', runsPerMonth: 0 },
    });
    const [ft, rag] = p.approaches;
    close(ft!.setup.training, 10);
    close(ft!.monthlyTotal, 1);
    close(rag!.monthlyTotal, 3);
    // 10 + m = 3m at m = 5.
    assert.equal(p.breakEvens.length, 1);
    close(p.breakEvens[0]!.month, 5);
    assert.equal(p.breakEvens[0]!.cheaperAfter, 'ft');
    assert.match(p.notes.join('\n'), /rag: indexing is not priced/);
  });
  it('more queries raise every total; a dearer training run raises only what trains', () => {
    const base = {
      strategies: [
        measured({ approach: 'rag' }),
        measured({ approach: 'ft' }),
        measured({ approach: 'hybrid' }),
      ],
      changeFrequency: 'weekly' as const,
      prices,
      embedding: { tokensInKb: 500_000 },
    };
    const totals = (p: ReturnType<typeof projectCosts>) => p.approaches.map((a) => a.total);
    const low = totals(
      projectCosts({ ...base, queriesPerMonth: 1000, training: { secondsPerRun: 600, hardware: 'gpu' } }),
    );
    const high = totals(
      projectCosts({ ...base, queriesPerMonth: 5000, training: { secondsPerRun: 600, hardware: 'gpu' } }),
    );
    const dear = totals(
      projectCosts({ ...base, queriesPerMonth: 1000, training: { secondsPerRun: 6000, hardware: 'gpu' } }),
    );
    for (const [i, t] of low.entries()) assert.ok(high[i]! > t);
    assert.equal(dear[0], low[0], 'rag does not train');
    assert.ok(dear[1]! > low[1]! && dear[2]! > low[2]!);
  });
  it('ft without a training measurement is flagged as a lower bound; an unpriced model is an error', () => {
    const p = projectCosts({
      strategies: [measured({ approach: 'ft' })],
      queriesPerMonth: 1,
      changeFrequency: 'daily',
      prices,
    });
    assert.match(p.notes[0]!, /ft: training is not priced/);
    assert.throws(
      () =>
        projectCosts({
          strategies: [measured({ approach: 'rag', model: 'nope' })],
          queriesPerMonth: 1,
          changeFrequency: 'daily',
          prices,
        }),
      /No price for model "nope" in test-prices\.json/,
    );
  });
  it('labels by strategy when two share an approach', () => {
    const p = projectCosts({
      strategies: [
        measured({ approach: 'rag', strategy: 'rag-k5' }),
        measured({ approach: 'rag', strategy: 'rag-k10' }),
      ],
      queriesPerMonth: 1,
      changeFrequency: 'daily',
      prices,
    });
    assert.deepEqual(
      p.approaches.map((a) => a.label),
      ['rag-k5', 'rag-k10'],
    );
  });
});
