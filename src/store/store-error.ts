// The same marker as models' AttuneError, so `AttuneError.isInstance` recognises store errors
// without the store depending on the models module.
const marker = Symbol.for('attune.error');
const storeMarker = Symbol.for('attune.store-error');

export class StoreError extends Error {
  readonly [marker] = true;
  readonly [storeMarker] = true;
  /** What the user can do about it, shown under the message by the CLI. */
  readonly hint: string | undefined;
  constructor(message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'StoreError';
    this.hint = options.hint;
  }
  static isInstance(error: unknown): error is StoreError {
    return (
      typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[storeMarker] === true
    );
  }
}

export type LockHolder = { pid: number; hostname: string; acquiredAt: string };

export class StoreLockedError extends StoreError {
  readonly holder: LockHolder | undefined;
  constructor(lockPath: string, holder: LockHolder | undefined, waitedMs: number) {
    const who = holder
      ? `process ${holder.pid} on ${holder.hostname} (since ${holder.acquiredAt})`
      : 'another process (lock file unreadable)';
    super(
      `The knowledge store is being written by ${who}; waited ${(waitedMs / 1000).toFixed(1)} s for it.`,
      {
        hint: `Wait for that process to finish, or stop it. If it no longer runs, delete ${lockPath}.`,
      },
    );
    this.name = 'StoreLockedError';
    this.holder = holder;
  }
}

/** Opening a store that was never created, without the embedding model needed to create it. */
export class StoreNotFoundError extends StoreError {
  constructor(where: string) {
    super(`There is no knowledge store at ${where}.`, {
      hint: 'Ingest something first; creating a store needs the embedding model.',
    });
    this.name = 'StoreNotFoundError';
  }
}

export class EmbeddingMismatchError extends StoreError {
  constructor(dir: string, stored: string, requested: string) {
    super(`The knowledge store at ${dir} holds vectors of ${stored}, not ${requested}.`, {
      hint: `Use ${stored} for this store, or ingest into a new store directory to switch models.`,
    });
    this.name = 'EmbeddingMismatchError';
  }
}

export class InvalidWriteError extends StoreError {
  constructor(message: string, hint?: string) {
    super(message, hint === undefined ? {} : { hint });
    this.name = 'InvalidWriteError';
  }
}

export class VersionPrunedError extends StoreError {
  constructor(version: number, historyFrom: number) {
    super(`Version ${version} is older than the retained history, which starts at version ${historyFrom}.`, {
      hint: 'Raise the retention setting to keep more history; pruned states cannot be restored.',
    });
    this.name = 'VersionPrunedError';
  }
}

export class StoreClosedError extends StoreError {
  constructor() {
    super('The knowledge store was closed.');
    this.name = 'StoreClosedError';
  }
}
