const marker = Symbol.for('attune.ingest.error');

/**
 * A source that cannot be turned into a document: the message is the reason shown to the user
 * next to the file name. Loaders throw it; `loadPath` and friends turn it into a failed result so
 * one bad file never stops the others.
 */
export class IngestError extends Error {
  override readonly name = 'IngestError';
  readonly [marker] = true;

  /** Works across duplicated copies of this package, where `instanceof` does not. */
  static isInstance(error: unknown): error is IngestError {
    return typeof error === 'object' && error !== null && marker in error;
  }
}

/** The reason to report for anything a loader threw. */
export function failureReason(error: unknown): string {
  if (IngestError.isInstance(error)) return error.message;
  const message = error instanceof Error ? error.message : String(error);
  return `unexpected error while loading: ${message}`;
}
