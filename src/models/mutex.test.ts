import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Mutex } from './mutex.ts';

describe('Mutex', () => {
  it('runs holders one at a time, in the order they asked', async () => {
    const mutex = new Mutex();
    const log: string[] = [];
    const task = (name: string, ms: number) =>
      mutex.run(async () => {
        log.push(`${name} start`);
        await new Promise((r) => setTimeout(r, ms));
        log.push(`${name} end`);
        return name;
      });
    // The first sleeps longest: without the lock the others would finish inside it.
    const results = await Promise.all([task('a', 30), task('b', 1), task('c', 10)]);
    assert.deepEqual(results, ['a', 'b', 'c']);
    assert.deepEqual(log, ['a start', 'a end', 'b start', 'b end', 'c start', 'c end']);
  });

  it('releases the lock when a holder throws, and passes the error on', async () => {
    const mutex = new Mutex();
    await assert.rejects(
      mutex.run(async () => {
        throw new Error('boom');
      }),
      /boom/,
    );
    assert.equal(await mutex.run(async () => 'next'), 'next');
  });
});
