/**
 * One holder at a time, in the order they asked. A llama.cpp context holds one sequence, and an
 * ONNX Runtime session given all the cores would share them with a second call and each would run
 * slower than in turn; both run their calls through one of these.
 */
export class Mutex {
  #tail: Promise<void> = Promise.resolve();

  /** Waits for the previous holder to release; returns this holder's release. */
  async lock(): Promise<() => void> {
    let release!: () => void;
    const next = new Promise<void>((r) => {
      release = r;
    });
    const previous = this.#tail;
    this.#tail = previous.then(() => next);
    await previous;
    return release;
  }

  /** Runs `task` while holding the lock; releases it however the task ends. */
  async run<T>(task: () => Promise<T>): Promise<T> {
    const release = await this.lock();
    try {
      return await task();
    } finally {
      release();
    }
  }
}
