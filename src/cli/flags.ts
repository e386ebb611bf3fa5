import { AttuneError } from '../models/model-error.ts';

/** A flag that must be a whole number of at least 1 ("--limit abc" and "--limit -1" are errors, not 0 or all). */
export function positiveInt(value: string | undefined, flag: string): number {
  const n = Number(value);
  if (value === undefined || value.trim() === '' || !Number.isInteger(n) || n < 1)
    throw new AttuneError(`${flag} must be a positive whole number; got "${value}".`);
  return n;
}

/** Control characters in a name would forge lines or move the cursor on the reader's terminal. */
export function printable(text: string): string {
  return text.replace(
    /[\p{Cc}\u2028\u2029]/gu,
    (c) => `\\u${c.codePointAt(0)!.toString(16).padStart(4, '0')}`,
  );
}

/**
 * Text that may run over lines (an answer, a passage): line breaks and tabs stay, every other
 * control character (a terminal escape, a carriage return that overwrites a line) is shown escaped.
 */
export function printableText(text: string): string {
  return text.replace(/[\p{Cc}\u2028\u2029]/gu, (c) =>
    c === '\n' || c === '\t' ? c : `\\u${c.codePointAt(0)!.toString(16).padStart(4, '0')}`,
  );
}
