import { Problem } from './problem.ts';

/** Requests per key per minute, as a token bucket refilled continuously (a burst of `perMinute`). */
export class RateLimiter {
  readonly perMinute: number;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(perMinute: number) {
    this.perMinute = perMinute;
  }

  /** Throws a 429 problem with Retry-After when `key` has no request left. */
  take(key: string, now = Date.now()): void {
    const bucket = this.#buckets.get(key) ?? { tokens: this.perMinute, at: now };
    bucket.tokens = Math.min(this.perMinute, bucket.tokens + ((now - bucket.at) / 60_000) * this.perMinute);
    bucket.at = now;
    this.#buckets.set(key, bucket);
    if (bucket.tokens < 1) {
      const seconds = Math.ceil(((1 - bucket.tokens) / this.perMinute) * 60);
      throw new Problem(429, 'Too Many Requests', `This key may make ${this.perMinute} requests a minute.`, {
        headers: { 'retry-after': String(seconds) },
      });
    }
    bucket.tokens -= 1;
  }
}

export type QueueStats = {
  running: number;
  waiting: number;
  served: number;
  rejected: number;
  maxWaitMs: number;
};

/**
 * Generation on a CPU runs one at a time (two llama.cpp decodes on 2 cores slow each other many
 * times over). Requests wait in order; beyond `maxWaiting` they are refused at once with 503 and
 * Retry-After instead of timing out unseen, and a waiter whose client left gives up its place.
 */
export class GenerationQueue {
  readonly concurrency: number;
  readonly maxWaiting: number;
  #running = 0;
  readonly #waiting: { start: () => void; reject: (e: unknown) => void }[] = [];
  #served = 0;
  #rejected = 0;
  #maxWaitMs = 0;
  #recentMs: number[] = [];

  constructor(options: { concurrency?: number; maxWaiting?: number } = {}) {
    this.concurrency = options.concurrency ?? 1;
    this.maxWaiting = options.maxWaiting ?? 16;
  }

  stats(): QueueStats {
    return {
      running: this.#running,
      waiting: this.#waiting.length,
      served: this.#served,
      rejected: this.#rejected,
      maxWaitMs: this.#maxWaitMs,
    };
  }

  async run<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<{ value: T; waitedMs: number }> {
    const queued = performance.now();
    if (this.#running >= this.concurrency) {
      if (this.#waiting.length >= this.maxWaiting) {
        this.#rejected++;
        throw new Problem(
          503,
          'Service Unavailable',
          `${this.#waiting.length} answers are already waiting.`,
          {
            headers: { 'retry-after': String(this.#retryAfterSeconds()) },
            extra: { queue: this.stats() },
          },
        );
      }
      await new Promise<void>((resolve, reject) => {
        const entry = { start: resolve, reject };
        this.#waiting.push(entry);
        signal?.addEventListener(
          'abort',
          () => {
            const i = this.#waiting.indexOf(entry);
            if (i >= 0) this.#waiting.splice(i, 1);
            reject(signal.reason);
          },
          { once: true },
        );
      });
    } else this.#running++;
    const waitedMs = performance.now() - queued;
    this.#maxWaitMs = Math.max(this.#maxWaitMs, waitedMs);
    const started = performance.now();
    try {
      return { value: await task(), waitedMs };
    } finally {
      this.#served++;
      this.#recentMs = [...this.#recentMs.slice(-19), performance.now() - started];
      const next = this.#waiting.shift();
      if (next) next.start();
      else this.#running--;
    }
  }

  /** How long the current queue would take to drain, from recent answer times. */
  #retryAfterSeconds(): number {
    const mean = this.#recentMs.length
      ? this.#recentMs.reduce((a, b) => a + b, 0) / this.#recentMs.length
      : 5000;
    return Math.max(1, Math.ceil(((this.#waiting.length + this.#running) * mean) / 1000 / this.concurrency));
  }
}
