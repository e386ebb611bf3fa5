import {
  claimTerms,
  isDateFact,
  missingDates,
  missingFacts,
  scoreGroundedness,
  sourceSentences,
  splitSentences,
} from '../answer/index.ts';
import type { EmbeddingModel } from '../models/index.ts';
import type { Article, FactFlag, FlagKind } from './draft-record.ts';

/** A cited source as the checker reads it: its whole text, not the condensed prompt copy. */
export type CheckSource = { n: number; itemId: string; text: string; link?: string };

export type FactCheckOptions = {
  embedder: EmbeddingModel;
  /**
   * Other items of the knowledge base that may say what a sentence claims, for a sentence its
   * cited sources do not support: found there, the flag says the citation is wrong, not the fact.
   */
  lookup?: (sentence: string) => Promise<CheckSource[]>;
  abortSignal?: AbortSignal;
};

const MONTHS =
  /^(january|february|march|april|may|june|july|august|september|october|november|december|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec|monday|tuesday|wednesday|thursday|friday|saturday|sunday)$/;

/**
 * Which kind of fact a missing key fact is: a whole date ("9 may", "may 2027"), a year or a month
 * is a date, other digits a number.
 */
export function factKind(fact: string): Exclude<FlagKind, 'quote' | 'claim' | 'citation'> {
  if (isDateFact(fact) || /^(1[89]|20)\d\d$/.test(fact) || MONTHS.test(fact)) return 'date';
  return /^\d/.test(fact) ? 'number' : 'name';
}

const QUOTE = /["“”„]([^"“”„]{3,}?)["“”„]/g;

function normalizeQuote(text: string): string {
  return text
    .toLowerCase()
    .replace(/[’‘]/g, "'")
    .replace(/[^\p{L}\p{N}' ]+/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

/** Quotations in the sentence that no source contains word for word. */
export function missingQuotes(sentence: string, sources: string[]): string[] {
  const haystacks = sources.map(normalizeQuote);
  const out: string[] = [];
  for (const match of sentence.matchAll(QUOTE)) {
    const quote = normalizeQuote(match[1]!);
    if (quote.split(' ').length < 2) continue; // a scare-quoted word is not a quotation
    if (!haystacks.some((h) => h.includes(quote))) out.push(match[1]!);
  }
  return out;
}

/** The source sentence that shares the most claim terms with the sentence. */
function closestEvidence(sentence: string, sources: CheckSource[]): FactFlag['evidence'] | undefined {
  const wanted = new Set(claimTerms(sentence));
  let best: { s: CheckSource; sentence: string; overlap: number } | undefined;
  for (const s of sources)
    for (const candidate of sourceSentences(s.text)) {
      const overlap = claimTerms(candidate).filter((t) => wanted.has(t)).length;
      if (!best || overlap > best.overlap) best = { s, sentence: candidate, overlap };
    }
  if (!best || best.overlap === 0) return undefined;
  return {
    n: best.s.n,
    itemId: best.s.itemId,
    sentence: best.sentence,
    ...(best.s.link ? { link: best.s.link } : {}),
  };
}

const SEVERITY: FlagKind[] = ['quote', 'date', 'number', 'name', 'claim', 'citation'];

/**
 * Checks every sentence of the article against the sources its part cites, with the answer path's
 * support checker (numbers and names must be in one source, most of what the sentence says too, or
 * a close paraphrase). Quotations must appear word for word. The headline is held to its facts only
 * (a headline rephrases). An unsupported sentence found in another item is a citation flag.
 */
export async function factCheckArticle(
  article: Article,
  sources: CheckSource[],
  options: FactCheckOptions,
): Promise<FactFlag[]> {
  const byN = new Map(sources.map((s) => [s.n, s]));
  const flags: FactFlag[] = [];
  // Headlines are title-cased, so every word looks like a name: only their numbers and dates count.
  const headlineMissing: { fact: string; kind: FlagKind }[] = [
    ...missingFacts(article.headline, sources.map((s) => s.text).join('\n'))
      .filter((f) => factKind(f) !== 'name')
      .map((f) => ({ fact: f, kind: factKind(f) })),
    ...missingDates(
      article.headline,
      sources.map((s) => s.text),
    ).map((d) => ({ fact: d, kind: 'date' as const })),
  ];
  if (headlineMissing.length) flags.push(flagFor('headline', article.headline, headlineMissing, sources));

  const parts: [string, Article['lead']][] = [
    ['lead', article.lead],
    ...article.paragraphs.map((p, i): [string, Article['lead']] => [`paragraphs[${i}]`, p]),
    ...article.insights.map((p, i): [string, Article['lead']] => [`insights[${i}]`, p]),
  ];
  for (const [name, part] of parts) {
    const cited = part.sources.map((n) => byN.get(n)).filter((s): s is CheckSource => s !== undefined);
    const against = cited.length ? cited : sources;
    const result = await scoreGroundedness(part.text, {
      sources: against.map((s) => s.text),
      embedder: options.embedder,
      ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}),
    });
    const sentences = result.sentences.length
      ? result.sentences
      : splitSentences(part.text).map((text) => ({ text, supported: false, missing: [] as string[] }));
    for (const s of sentences) {
      const problems: { fact: string; kind: FlagKind }[] = [
        ...missingQuotes(
          s.text,
          against.map((a) => a.text),
        ).map((q) => ({ fact: q, kind: 'quote' as const })),
        ...missingDates(
          s.text,
          against.map((a) => a.text),
        ).map((d) => ({ fact: d, kind: 'date' as const })),
        ...(s.missing ?? []).map((f) => ({ fact: f, kind: factKind(f) })),
      ];
      if (s.supported && problems.length === 0) {
        if (!cited.length)
          flags.push({
            part: name,
            sentence: s.text,
            kind: 'citation',
            missing: [],
            message: 'This part cites no source.',
          });
        continue;
      }
      if (problems.length === 0) problems.push({ fact: '', kind: 'claim' });
      const flag = flagFor(name, s.text, problems, against);
      if (options.lookup && problems.every((p) => p.kind !== 'quote')) {
        const others = (await options.lookup(s.text)).filter(
          (o) => !against.some((a) => a.itemId === o.itemId),
        );
        if (others.length) {
          const elsewhere = await scoreGroundedness(s.text, {
            sources: others.map((o) => o.text),
            embedder: options.embedder,
          });
          const supporting = elsewhere.sentences[0]?.supported ? elsewhere.sentences[0].cited[0] : undefined;
          if (supporting !== undefined) {
            const other = others[supporting - 1]!;
            flags.push({
              ...flag,
              kind: 'citation',
              evidence: closestEvidence(s.text, [other]) ?? {
                itemId: other.itemId,
                sentence: other.text.slice(0, 200),
              },
              message: `Not in the cited source(s) ${cited.map((c) => `[${c.n}]`).join(' ') || '(none)'}, but item ${other.itemId} says it: cite that item.`,
            });
            continue;
          }
        }
      }
      flags.push(flag);
    }
  }
  return flags;
}

function flagFor(
  part: string,
  sentence: string,
  problems: { fact: string; kind: FlagKind }[],
  sources: CheckSource[],
): FactFlag {
  // A day that is wrong as part of a date is one wrong date, not also a wrong number.
  const dateWords = new Set(problems.filter((p) => p.kind === 'date').flatMap((p) => p.fact.split(' ')));
  // The support checker reports whole dates too: the same date found twice is one problem.
  const seen = new Set<string>();
  problems = problems.filter((p) => {
    const key = `${p.kind}\n${p.fact}`;
    if (seen.has(key) || (p.kind === 'number' && dateWords.has(p.fact))) return false;
    seen.add(key);
    return true;
  });
  const kind = SEVERITY.find((k) => problems.some((p) => p.kind === k)) ?? 'claim';
  const missing = problems.map((p) => p.fact).filter(Boolean);
  const evidence = closestEvidence(sentence, sources);
  const where = sources.map((s) => `[${s.n}]`).join(' ');
  const what =
    kind === 'claim'
      ? `The cited source(s) ${where} do not say this.`
      : `${missing.map((m) => `"${m}"`).join(', ')} ${missing.length > 1 ? 'are' : 'is'} not in the cited source(s) ${where}.`;
  return {
    part,
    sentence,
    kind,
    missing,
    ...(evidence ? { evidence } : {}),
    message: evidence ? `${what} Closest: "${evidence.sentence}"` : what,
  };
}
