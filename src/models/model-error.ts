const marker = Symbol.for('attune.error');

/**
 * Base of every error Attune throws on purpose. The marker survives duplicated
 * package copies, so `AttuneError.isInstance` works where `instanceof` would not.
 */
export class AttuneError extends Error {
  readonly [marker] = true;
  /** What the user can do about it, shown under the message by the CLI. */
  readonly hint: string | undefined;
  constructor(message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'AttuneError';
    this.hint = options.hint;
  }
  static isInstance(error: unknown): error is AttuneError {
    return typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[marker] === true;
  }
}

export class UnknownModelError extends AttuneError {
  constructor(name: string, known: string[]) {
    super(`Unknown model "${name}".`, {
      hint: `Known models: ${known.join(', ')}. A path to a .gguf file also works.`,
    });
    this.name = 'UnknownModelError';
  }
}

export class ModelMissingError extends AttuneError {
  constructor(name: string) {
    super(`Model "${name}" is not in the local cache.`, { hint: `Run: attune models pull ${name}` });
    this.name = 'ModelMissingError';
  }
}

export class ChecksumError extends AttuneError {
  constructor(file: string, expected: string, actual: string) {
    super(
      `Checksum mismatch for ${file}: expected sha256 ${expected}, got ${actual}. The file was discarded.`,
      {
        hint: 'Run the pull again to re-fetch it; if it fails again the source is serving a different file.',
      },
    );
    this.name = 'ChecksumError';
  }
}

export class NoSourceError extends AttuneError {
  readonly attempts: { source: string; reason: string }[];
  constructor(name: string, attempts: { source: string; reason: string }[]) {
    const lines = attempts.map((a) => `  - ${a.source}: ${a.reason}`).join('\n');
    super(`Could not fetch model "${name}"; every source failed:\n${lines}`, {
      hint: 'Check network access to one of these sources, or place the file locally and use a file: source.',
    });
    this.name = 'NoSourceError';
    this.attempts = attempts;
  }
}

export class UnsupportedFormatError extends AttuneError {
  constructor(what: string, format: string, supported: string[]) {
    super(`${what}: format "${format}" is not supported.`, { hint: `Supported: ${supported.join(', ')}.` });
    this.name = 'UnsupportedFormatError';
  }
}

export class SchemaNotSupportedError extends AttuneError {
  constructor(reason: string) {
    super(`This JSON schema cannot be turned into a generation grammar: ${reason}`, {
      hint: 'Use object/array/string/number/integer/boolean/null, enum, const, anyOf, required and properties.',
    });
    this.name = 'SchemaNotSupportedError';
  }
}
