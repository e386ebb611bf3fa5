// Run: node --import tsx --test bench/retrieval-metrics.test.ts (npm test runs it too).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { documentRanking, goldRank, percentile, rankingMetrics } from './retrieval-metrics.ts';

describe('retrieval metrics', () => {
  it('ranks documents by their first chunk', () => {
    const ranking = documentRanking(['a', 'a', 'b', 'a', 'c']);
    assert.deepEqual(ranking, ['a', 'b', 'c']);
    assert.equal(goldRank(ranking, 'c'), 3);
    assert.equal(goldRank(ranking, 'z'), undefined);
  });

  it('computes recall, MRR and nDCG from gold ranks', () => {
    const m = rankingMetrics([1, 2, 6, undefined, 11]);
    assert.equal(m.recallAt1, 1 / 5);
    assert.equal(m.recallAt5, 2 / 5);
    assert.equal(m.recallAt10, 3 / 5);
    assert.ok(Math.abs(m.mrr - (1 + 1 / 2 + 1 / 6) / 5) < 1e-12);
    assert.ok(Math.abs(m.ndcgAt10 - (1 + 1 / Math.log2(3) + 1 / Math.log2(7)) / 5) < 1e-12);
    assert.deepEqual(rankingMetrics([]), { recallAt1: 0, recallAt5: 0, recallAt10: 0, mrr: 0, ndcgAt10: 0 });
  });

  it('takes nearest-rank percentiles', () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    assert.equal(percentile(values, 50), 50);
    assert.equal(percentile(values, 95), 95);
    assert.equal(percentile([3], 95), 3);
  });
});
