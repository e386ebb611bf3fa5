import { link, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { type LockHolder, StoreLockedError } from './store-error.ts';

export type WriteLockOptions = {
  /** How long a second writer waits for the holder before giving up. */
  timeoutMs: number;
  pollMs?: number;
};

/**
 * One writer per store directory, across processes: a lock file created with O_EXCL holding the
 * owner's pid. A lock whose process is gone (killed, crashed) is stale and is taken over.
 */
export class WriteLock {
  readonly path: string;
  #held = false;

  constructor(path: string) {
    this.path = path;
  }

  get held(): boolean {
    return this.#held;
  }

  async acquire(options: WriteLockOptions): Promise<void> {
    if (this.#held) return;
    const started = Date.now();
    const pollMs = options.pollMs ?? 100;
    const me: LockHolder = { pid: process.pid, hostname: hostname(), acquiredAt: new Date().toISOString() };
    // Written aside and hard-linked into place, so the lock file never exists half-written:
    // link() fails with EEXIST exactly like O_EXCL does.
    const draft = `${this.path}.${process.pid}-${Date.now()}.draft`;
    await writeFile(draft, JSON.stringify(me));
    try {
      for (;;) {
        try {
          await link(draft, this.path);
          this.#held = true;
          return;
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        }
        const holder = await readHolder(this.path);
        if (holder !== 'missing' && isStale(holder)) {
          await this.#breakStale(holder);
          continue;
        }
        const waited = Date.now() - started;
        if (waited >= options.timeoutMs) {
          throw new StoreLockedError(this.path, holder === 'missing' ? undefined : holder, waited);
        }
        await sleep(Math.min(pollMs, options.timeoutMs - waited));
      }
    } finally {
      await unlink(draft).catch(() => {});
    }
  }

  async release(): Promise<void> {
    if (!this.#held) return;
    this.#held = false;
    await unlink(this.path).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
  }

  // Renaming first makes taking the stale file an atomic claim: of two processes breaking the
  // same stale lock, only one rename succeeds. If the renamed file turns out to be a live lock
  // (someone re-created it in between), it is put back.
  async #breakStale(stale: LockHolder | undefined): Promise<void> {
    const aside = `${this.path}.stale-${process.pid}-${Date.now()}`;
    try {
      await rename(this.path, aside);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    const taken = await readHolder(aside);
    const sameAsStale =
      taken === undefined ||
      taken === 'missing' ||
      (stale !== undefined && taken.pid === stale.pid && taken.acquiredAt === stale.acquiredAt) ||
      isStale(taken);
    if (sameAsStale) await unlink(aside).catch(() => {});
    else await rename(aside, this.path).catch(() => unlink(aside).catch(() => {}));
  }
}

/** `undefined`: the file exists but cannot be parsed (edited by hand, or corrupt). */
async function readHolder(path: string): Promise<LockHolder | undefined | 'missing'> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw error;
  }
  try {
    const parsed = JSON.parse(text) as Partial<LockHolder>;
    if (typeof parsed.pid !== 'number' || typeof parsed.hostname !== 'string') return undefined;
    return { pid: parsed.pid, hostname: parsed.hostname, acquiredAt: String(parsed.acquiredAt ?? '') };
  } catch {
    return undefined;
  }
}

// A holder on another host cannot be checked and counts as live. So does an unparsable file: the
// error then tells the user to remove it.
function isStale(holder: LockHolder | undefined): boolean {
  if (holder === undefined || holder.hostname !== hostname()) return false;
  if (holder.pid === process.pid) return false;
  try {
    process.kill(holder.pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
