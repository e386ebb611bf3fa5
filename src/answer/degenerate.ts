import { stripCitations } from './citations.ts';
import { claimTerms } from './text-support.ts';

export type DegenerateReason = 'empty' | 'repetition' | 'echo' | 'title';

/**
 * Drafts that are never an answer, however well their words match the sources: a repetition loop
 * ("The Blacklist The Blacklist The Blacklist"), the question said back, or a bare source title.
 * Small models produce all three, and each passes a word-overlap check because every word in it
 * does occur in the sources.
 */
export function degenerateDraft(
  draft: string,
  question: string,
  sourceTitles: readonly string[] = [],
): DegenerateReason | undefined {
  const plain = stripCitations(draft).trim();
  const words = plain.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
  if (words.length === 0) return 'empty';
  if (isLoop(words)) return 'repetition';
  const bare = plain
    .toLowerCase()
    .replace(/[\s.!?:;,"'()]+/g, ' ')
    .trim();
  if (
    sourceTitles.some(
      (t) =>
        t.trim() &&
        t
          .toLowerCase()
          .replace(/[\s.!?:;,"'()]+/g, ' ')
          .trim() === bare,
    )
  )
    return 'title';
  const asked = new Set(claimTerms(question));
  const said = claimTerms(plain);
  if (
    /^\s*(who|whom|whose|what|which|where|when|why|how)\b/i.test(question) &&
    said.length > 0 &&
    said.every((t) => asked.has(t)) &&
    asked.size > 0
  )
    return 'echo';
  return undefined;
}

/**
 * A run of words said again: a three-word phrase three times, or one answer in which more than a
 * fifth of the three-word phrases are repeats. Real one- or two-sentence answers almost never do
 * either, even when they name the same thing twice ("the European Central Bank ... the European
 * Council").
 */
function isLoop(words: string[]): boolean {
  const counts = new Map<string, number>();
  let total = 0;
  for (let i = 0; i + 3 <= words.length; i++) {
    const key = words.slice(i, i + 3).join(' ');
    const count = (counts.get(key) ?? 0) + 1;
    counts.set(key, count);
    total++;
    if (count >= 3) return true;
  }
  return total >= 6 && counts.size / total < 0.8;
}
