/** A push-based async iterable: bridges callback producers to `for await` consumers. */
export class AsyncQueue<T> implements AsyncIterable<T> {
  #items: T[] = [];
  #waiters: ((r: IteratorResult<T>) => void)[] = [];
  #rejecters: ((e: unknown) => void)[] = [];
  #closed = false;
  #error: unknown;
  #failed = false;

  push(item: T): void {
    const waiter = this.#waiters.shift();
    this.#rejecters.shift();
    if (waiter) waiter({ value: item, done: false });
    else this.#items.push(item);
  }

  close(): void {
    this.#closed = true;
    for (const w of this.#waiters.splice(0)) w({ value: undefined, done: true });
    this.#rejecters = [];
  }

  fail(error: unknown): void {
    this.#failed = true;
    this.#error = error;
    for (const r of this.#rejecters.splice(0)) r(error);
    this.#waiters = [];
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    while (true) {
      if (this.#items.length) {
        yield this.#items.shift()!;
        continue;
      }
      if (this.#failed) throw this.#error;
      if (this.#closed) return;
      const result = await new Promise<IteratorResult<T>>((resolve, reject) => {
        this.#waiters.push(resolve);
        this.#rejecters.push(reject);
      });
      if (result.done) return;
      yield result.value;
    }
  }
}
