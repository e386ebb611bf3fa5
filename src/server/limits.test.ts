import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GenerationQueue, RateLimiter } from './limits.ts';
import { Problem } from './problem.ts';

describe('RateLimiter', () => {
  it('allows a burst of perMinute per key, then 429 with Retry-After, refilling over time', () => {
    const limiter = new RateLimiter(3);
    const t = 1_000_000;
    for (let i = 0; i < 3; i++) limiter.take('a', t);
    assert.throws(
      () => limiter.take('a', t),
      (e: unknown) => e instanceof Problem && e.status === 429 && Number(e.headers['retry-after']) >= 1,
    );
    limiter.take('b', t); // keys are separate
    limiter.take('a', t + 20_000); // one token back after a third of a minute
    assert.throws(() => limiter.take('a', t + 20_000));
  });
});

describe('GenerationQueue', () => {
  const gate = () => {
    let open!: () => void;
    const opened = new Promise<void>((r) => {
      open = r;
    });
    return { opened, open };
  };

  it('runs one task at a time in arrival order and refuses beyond maxWaiting with 503', async () => {
    const queue = new GenerationQueue({ concurrency: 1, maxWaiting: 1 });
    const order: string[] = [];
    const first = gate();
    const a = queue.run(async () => {
      order.push('a start');
      await first.opened;
      order.push('a end');
    });
    const b = queue.run(async () => {
      order.push('b');
    });
    assert.equal(queue.stats().waiting, 1);
    await assert.rejects(
      queue.run(async () => {}),
      (e: unknown) => e instanceof Problem && e.status === 503 && Number(e.headers['retry-after']) >= 1,
    );
    first.open();
    await Promise.all([a, b]);
    assert.deepEqual(order, ['a start', 'a end', 'b']);
    assert.deepEqual(
      { ...queue.stats(), maxWaitMs: 0 },
      { running: 0, waiting: 0, served: 2, rejected: 1, maxWaitMs: 0 },
    );
  });

  it('a waiter whose client leaves gives up its place and never runs', async () => {
    const queue = new GenerationQueue({ concurrency: 1, maxWaiting: 4 });
    const first = gate();
    const a = queue.run(() => first.opened);
    const controller = new AbortController();
    let ran = false;
    const b = queue.run(async () => {
      ran = true;
    }, controller.signal);
    controller.abort(new Error('client left'));
    await assert.rejects(b, /client left/);
    assert.equal(queue.stats().waiting, 0);
    first.open();
    await a;
    assert.equal(ran, false);
    assert.equal(queue.stats().running, 0);
  });
});
