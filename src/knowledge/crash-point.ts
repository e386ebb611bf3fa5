/**
 * Named write boundaries of a sync, where a crash test can have the process kill itself with
 * SIGKILL (no cleanup, no flush: what a power cut or an OOM kill leaves). Configured by
 * `crashAt` (ATTUNE_CRASH_AT), e.g. `rows:2` for the moment the second store write has appended its
 * rows but not yet made them live. Without `crashAt` every hit is a no-op.
 *
 *   loaded     every source loaded, before the writer lock is taken
 *   began      the lock taken and the pending version chosen, nothing written
 *   rows       a store write's new rows appended, still hidden (inside the store)
 *   written    a store write's rows live, before the next batch
 *   removed    vanished documents deleted, before the version is recorded
 *   committed  the version recorded, before optimize
 *   optimized  optimize done, before the lock is released
 */
export type CrashPointName = 'loaded' | 'began' | 'rows' | 'written' | 'removed' | 'committed' | 'optimized';

export class CrashPoints {
  readonly #point: string | undefined;
  readonly #occurrence: number;
  readonly #seen = new Map<string, number>();

  constructor(spec: string | undefined) {
    const [point, n] = (spec ?? '').split(':');
    this.#point = point || undefined;
    this.#occurrence = n === undefined ? 1 : Number(n);
  }

  get armed(): boolean {
    return this.#point !== undefined;
  }

  hit(point: CrashPointName): void {
    if (point !== this.#point) return;
    const count = (this.#seen.get(point) ?? 0) + 1;
    this.#seen.set(point, count);
    if (count === this.#occurrence) process.kill(process.pid, 'SIGKILL');
  }
}
