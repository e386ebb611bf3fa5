import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seededRandom } from '../finetune/index.ts';
import { bootstrapMeanInterval, wilsonInterval } from './intervals.ts';

describe('intervals', () => {
  it('Wilson matches hand-computed values, and stays inside [0, 1] at the edges', () => {
    // 8 of 10, z = 1.96: centre (0.8 + 0.19207) / 1.38415 = 0.71674, half-width 0.22658.
    const [low, high] = wilsonInterval(8, 10);
    assert.ok(Math.abs(low - 0.4902) < 5e-4, String(low));
    assert.ok(Math.abs(high - 0.9433) < 5e-4, String(high));
    const [zeroLow, zeroHigh] = wilsonInterval(0, 20);
    assert.equal(zeroLow, 0);
    assert.ok(Math.abs(zeroHigh - 0.1611) < 5e-4, String(zeroHigh));
    assert.deepEqual(wilsonInterval(0, 0), [0, 1]);
  });
  it('the bootstrap is reproducible for a seed, covers the mean, and narrows with more data', () => {
    const random = seededRandom(7);
    const small: number[] = Array.from({ length: 20 }, () => (random() < 0.6 ? 1 : 0));
    const large: number[] = Array.from({ length: 2000 }, () => (random() < 0.6 ? 1 : 0));
    assert.deepEqual(bootstrapMeanInterval(small, 3), bootstrapMeanInterval(small, 3));
    const mean = small.reduce((a, b) => a + b, 0) / small.length;
    const [low, high] = bootstrapMeanInterval(small, 3);
    assert.ok(low <= mean && mean <= high);
    const [lowL, highL] = bootstrapMeanInterval(large, 3);
    assert.ok(highL - lowL < (high - low) / 4, 'about 1/sqrt(100) as wide');
    assert.deepEqual(bootstrapMeanInterval([0.5, 0.5, 0.5]), [0.5, 0.5]);
  });
});
