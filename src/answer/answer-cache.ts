import { createHash } from 'node:crypto';
import { checkPrincipal, type Principal } from '../store/principal.ts';

export type AnswerCacheKeyParts = {
  question: string;
  principal: Principal;
  kbVersion: number | undefined;
  modelId: string;
  adapterId: string | undefined;
  /** Everything else that changes the answer: k, rerank, filters, mode, answer length. */
  settings: Record<string, unknown>;
};

/** Case, spacing and trailing punctuation do not make a different question. */
export function normalizeQuestion(question: string): string {
  return question
    .normalize('NFKC')
    .toLowerCase()
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/[\s?.!]+$/, '');
}

/**
 * The principal's ACL set, not their name alone: two readers with the same user id and groups
 * may share an answer; anyone else, or the same user after a group change, may not.
 */
export function aclSet(principal: Principal): string[] {
  if (checkPrincipal(principal).admin === true) return ['admin'];
  return [`u:${principal.user}`, ...[...new Set(principal.groups)].sort().map((g) => `g:${g}`)];
}

export function answerCacheKey(parts: AnswerCacheKeyParts): string {
  const material = JSON.stringify([
    normalizeQuestion(parts.question),
    aclSet(parts.principal),
    parts.kbVersion ?? null,
    parts.modelId,
    parts.adapterId ?? null,
    Object.keys(parts.settings)
      .sort()
      .map((k) => [k, parts.settings[k]]),
  ]);
  return createHash('sha256').update(material).digest('hex');
}

/** A small in-process LRU in front of the persistent cache (the audit log). */
export class LruCache<V> {
  readonly #entries = new Map<string, V>();
  readonly #size: number;
  constructor(size: number) {
    this.#size = size;
  }
  get(key: string): V | undefined {
    const value = this.#entries.get(key);
    if (value !== undefined) {
      this.#entries.delete(key);
      this.#entries.set(key, value);
    }
    return value;
  }
  set(key: string, value: V): void {
    this.#entries.delete(key);
    this.#entries.set(key, value);
    if (this.#entries.size > this.#size) this.#entries.delete(this.#entries.keys().next().value!);
  }
}
