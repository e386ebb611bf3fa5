/**
 * Lexical evidence measures shared by groundedness, citation attribution and abstention. Words are
 * lower-cased alphanumeric runs; function words and words about the answer itself carry no evidence.
 */

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
