import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cosineSimilarity } from './vector-math.ts';

describe('cosineSimilarity', () => {
  it('is 1 for the same direction and -1 for the opposite, whatever the lengths', () => {
    assert.ok(Math.abs(cosineSimilarity([1, 2, 3], [2, 4, 6]) - 1) < 1e-12);
    assert.ok(Math.abs(cosineSimilarity([1, 0], [-3, 0]) + 1) < 1e-12);
    assert.equal(cosineSimilarity([1, 0], [0, 5]), 0);
  });

  it('is 0, not NaN, when either vector is zero', () => {
    assert.equal(cosineSimilarity([0, 0, 0], [1, 2, 3]), 0);
    assert.equal(cosineSimilarity([1, 2, 3], [0, 0, 0]), 0);
    assert.equal(cosineSimilarity([0, 0], [0, 0]), 0);
    assert.equal(cosineSimilarity([], []), 0);
  });
});
