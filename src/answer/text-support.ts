/**
 * Lexical evidence measures shared by groundedness, citation attribution and abstention. Words are
 * lower-cased alphanumeric runs; function words and words about the answer itself carry no evidence.
 */
import { datesIn, isDateFact } from './dates.ts';

const STOPWORDS = new Set(
  `a an the and or but if of to in on at by for with from as is are was were be been being do does did
  has have had it its this that these those there here what which who whom whose when where why how
  not no yes can could will would should may might must shall i you he she we they me him her us them
  my your his our their than then so such too very also just only into about over under after before
  between during through up down out off again further once all any both each few more most other some
  own same s t don answer answers question questions source sources according knowledge base says say`
    .split(/\s+/)
    .filter(Boolean),
);

export function contentWords(text: string): string[] {
  const words =
    text
      .toLowerCase()
      .normalize('NFKC')
      .match(/[\p{L}\p{N}]+/gu) ?? [];
  return words.filter((w) => !STOPWORDS.has(w) && (w.length > 1 || /\d/.test(w)));
}

/** Share of the claim's content words that occur in the evidence; 1 for a claim with none. */
export function lexicalSupport(claim: string, evidence: string): number {
  const words = contentWords(claim);
  if (words.length === 0) return 1;
  const available = new Set(contentWords(evidence));
  return words.filter((w) => available.has(w)).length / words.length;
}

/** Sentences of an answer, split after . ! ? (and after a citation that follows them). */
export function splitSentences(text: string): string[] {
  return text
    .replace(/\s+/g, ' ')
    .split(/(?<=[.!?](?:\s*\[\d+(?:\s*,\s*\d+)*\])*)\s+(?=[\p{Lu}\p{N}"'(])/u)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/**
 * A word's stem for matching a claim against evidence: "refunded", "refunds" and "refundable" all
 * meet "refund". Deliberately crude (suffix stripping): it only has to make inflections meet.
 */
export function stem(word: string): string {
  if (/\d/.test(word) || word.length <= 4) return word;
  for (const suffix of ['able', 'ible', 'ing', 'ies', 'ied', 'ed', 'es', 'ly', 's']) {
    if (word.endsWith(suffix) && word.length - suffix.length >= 3) {
      const base = word.slice(0, -suffix.length);
      return suffix === 'ies' || suffix === 'ied' ? `${base}y` : base;
    }
  }
  return word;
}

const NUMBER_WORDS: Record<string, string> = {
  one: '1',
  two: '2',
  three: '3',
  four: '4',
  five: '5',
  six: '6',
  seven: '7',
  eight: '8',
  nine: '9',
  ten: '10',
  eleven: '11',
  twelve: '12',
  thirteen: '13',
  fourteen: '14',
  fifteen: '15',
  sixteen: '16',
  seventeen: '17',
  eighteen: '18',
  nineteen: '19',
  twenty: '20',
  thirty: '30',
  forty: '40',
  fifty: '50',
  hundred: '100',
};

/** Content words as stems, number words as digits: the unit claims and evidence are matched in. */
export function claimTerms(text: string): string[] {
  return contentWords(text).map((w) => NUMBER_WORDS[w] ?? stem(w));
}

/**
 * The facts in a claim that must appear in the very source it rests on: numbers (amounts, dates,
 * counts), names (capitalised words that do not start the sentence) and whole dates ("9 may",
 * "may 2021": see dates.ts; "May" is a stopword, so without them "in May 2021" passed against
 * "in March 2021"). A claim stitched from two sources, or one with an altered figure or month,
 * fails here even when most of its words are found.
 */
export function keyFacts(claim: string): string[] {
  const facts = new Set<string>(datesIn(claim, { capitalised: true }));
  for (const n of claim.match(/\d+(?:[.,]\d+)*/g) ?? []) facts.add(n.replace(/,(?=\d{3}\b)/g, ''));
  const words = claim.match(/[\p{L}\p{N}][\p{L}\p{N}'’]*/gu) ?? [];
  words.forEach((word, i) => {
    if (i === 0 || word.length < 2 || !/^\p{Lu}/u.test(word)) return;
    const lower = word.toLowerCase().replace(/['’]s$/, '');
    if (STOPWORDS.has(lower)) return;
    facts.add(lower);
  });
  for (const w of contentWords(claim)) if (NUMBER_WORDS[w]) facts.add(NUMBER_WORDS[w]);
  return [...facts];
}

/**
 * The key facts of the claim that the evidence lacks (numbers as numbers, names as words, dates
 * as dates in any of the forms `datesIn` reads).
 */
export function missingFacts(claim: string, evidence: string): string[] {
  const dates = new Set(datesIn(evidence));
  const numbers = new Set(
    (evidence.match(/\d+(?:[.,]\d+)*/g) ?? []).map((n) => n.replace(/,(?=\d{3}\b)/g, '')),
  );
  const words = new Set(contentWords(evidence));
  for (const w of [...words]) if (NUMBER_WORDS[w]) numbers.add(NUMBER_WORDS[w]);
  const stems = new Set([...words].map(stem));
  return keyFacts(claim).filter((fact) => {
    if (isDateFact(fact)) return !dates.has(fact);
    return /^\d/.test(fact) ? !numbers.has(fact) : !words.has(fact) && !stems.has(stem(fact));
  });
}

const NEGATION =
  /\b(no|not|never|none|nothing|cannot|can't|won't|isn't|aren't|wasn't|weren't|doesn't|don't|didn't|without|neither|nor|non)\b|n't\b|\bnon-|\bun\w+able\b/i;

/** Whether a sentence says that something is not so. */
export function isNegated(text: string): boolean {
  return NEGATION.test(text);
}

/** Sentences of a source; also splits "end.Start" joins, which scraped text is full of. */
export function sourceSentences(text: string): string[] {
  return splitSentences(text.replace(/([.!?])(?=\p{Lu})/gu, '$1 '));
}
