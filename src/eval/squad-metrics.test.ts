import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { exactMatch, normalizeAnswer, tokenF1 } from './squad-metrics.ts';

describe('SQuAD metrics', () => {
  it('normalises like the official scorer', () => {
    assert.equal(normalizeAnswer('The  Denver Broncos!'), 'denver broncos');
    assert.equal(normalizeAnswer('an apple, a pear'), 'apple pear');
  });
  it('exact match takes the best gold answer', () => {
    assert.equal(exactMatch('October 1973.', ['October 1973', '1973']), 1);
    assert.equal(exactMatch('in October', ['October 1973']), 0);
  });
  it('token F1 rewards partial overlap', () => {
    assert.equal(tokenF1('October', ['October 1973']), 2 / 3);
    assert.equal(tokenF1('nothing here', ['October 1973']), 0);
    assert.equal(tokenF1('', ['']), 1);
  });
});
