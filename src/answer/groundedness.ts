import type { AuditSentence } from '../audit/audit-record.ts';
import type { ChatModel, EmbeddingModel } from '../models/model-spec.ts';
import { cosineSimilarity } from '../models/vector-math.ts';
import { citationsIn, stripCitations } from './citations.ts';
import { datesIn, isDateFact } from './dates.ts';
import {
  claimTerms,
  contentWords,
  isNegated,
  keyFacts,
  missingFacts,
  sourceSentences,
  splitSentences,
} from './text-support.ts';

/** Support for one answer sentence: the shape the audit record keeps. */
export type SentenceSupport = AuditSentence;

export type GroundednessResult = {
  /** Share of substantive sentences supported by their cited evidence (0 for an empty answer). */
  score: number;
  sentences: SentenceSupport[];
  judgeModel?: string;
};

export type GroundednessOptions = {
  /** Sources as numbered in the prompt: sources[0] is [1]. */
  sources: string[];
  embedder: EmbeddingModel;
  /**
   * The question answered. Words the answer repeats from it prove nothing, so support is measured
   * on what the answer adds; a bare "No" is checked against the source's own polarity.
   */
  question?: string;
  /**
   * Also require the question's premise in the source: all its numbers and most of its names. This
   * judges whether the source is about the question rather than whether the answer is in it, so it
   * is off for judging answers alone (HaluEval's questions name things its condensed knowledge
   * leaves out) and on in the answerer, where it catches questions about 1570 answered from 1750.
   */
  checkPremise?: boolean;
  /** A sentence is supported when this share of what it adds occurs in one source. Default 0.75. */
  lexicalThreshold?: number;
  /**
   * ... or when at least half of it does and its embedding is this close to one sentence of that
   * source (a paraphrase). Default 0.8.
   */
  semanticThreshold?: number;
  /** Optional second opinion: asked per sentence whether the sources support it. */
  judge?: ChatModel;
  abortSignal?: AbortSignal;
};

const WH_QUESTION = /^\s*(who|whom|whose|what|which|where|when|why|how)\b/i;
const YES_NO = /^(?:the answer is\s+)?(yes|no)\b/i;

/**
 * Scores each answer sentence against one source at a time, never against the union of sources:
 * a claim stitched from two documents is supported by neither. A sentence is supported by a source
 * when (1) every number and name in it occurs in that source, and (2) most of what it adds to the
 * question occurs there too (lexically, or as a close paraphrase of one of its sentences). A
 * sentence that adds nothing is a yes/no claim, checked against the polarity of the source's best
 * matching sentence, or, for a what/who/where question, an echo that answers nothing.
 *
 * A cited source that does not support its sentence loses the citation; when another source
 * supports the sentence alone, the sentence is attributed to it instead, so every shown claim
 * points at a source that says it.
 */
export async function scoreGroundedness(
  answer: string,
  options: GroundednessOptions,
): Promise<GroundednessResult> {
  const lexicalThreshold = options.lexicalThreshold ?? 0.75;
  const semanticThreshold = options.semanticThreshold ?? 0.8;
  const sentences = splitSentences(answer);
  if (sentences.length === 0 || options.sources.length === 0) return { score: 0, sentences: [] };
  const questionTerms = new Set(options.question ? claimTerms(options.question) : []);
  // A date the answer repeats from the question is exempt like the question's numbers and names.
  const questionDates = new Set(options.question ? datesIn(options.question) : []);
  const premise = (n: number, claim: string) =>
    options.question && options.checkPremise
      ? premiseGaps(options.question, options.sources[n - 1]!, claim)
      : [];
  const sourceTerms = options.sources.map((s) => new Set(claimTerms(s)));
  const embed = embedOnce(options.embedder, options.abortSignal);

  const scored: SentenceSupport[] = [];
  for (const sentence of sentences) {
    const text = stripCitations(sentence);
    const own = citationsIn(sentence, options.sources.length);
    const allTerms = [...new Set(claimTerms(text))];
    const terms = allTerms.filter((t) => !questionTerms.has(t));
    const candidates = own.length ? own : options.sources.map((_s, j) => j + 1);

    if (!isSubstantive(text)) {
      scored.push({
        text,
        cited: [],
        origin: 'none',
        lexicalSupport: 0,
        semanticSupport: 0,
        supported: false,
      });
      continue;
    }
    if (terms.length === 0) {
      scored.push(polarityClaim(text, own, options, questionTerms));
      continue;
    }

    type Measured = { n: number; lexical: number; semantic: number; missing: string[]; ok: boolean };
    const measure = async (n: number): Promise<Measured> => {
      const source = options.sources[n - 1]!;
      const has = (t: string) => sourceTerms[n - 1]!.has(t);
      const lexical = terms.filter(has).length / terms.length;
      // What the sentence takes from the question must be about this source too: "annual plans are
      // refunded at the Leeds warehouse" adds only words of the shipping page, yet is not on it.
      const onTopic = allTerms.filter(has).length / allTerms.length >= 0.5;
      const missing = [
        ...missingFacts(text, source).filter((f) => !questionTerms.has(f) && !questionDates.has(f)),
        ...premise(n, text),
      ];
      let semantic = 0;
      if (missing.length === 0 && lexical >= 0.5 && lexical < lexicalThreshold) {
        const [claimVector] = await embed([text]);
        const vectors = await embed(sourceSentences(source));
        semantic = Math.max(0, ...vectors.map((v) => cosineSimilarity(claimVector!, v)));
      }
      const ok =
        onTopic && missing.length === 0 && (lexical >= lexicalThreshold || semantic >= semanticThreshold);
      return { n, lexical, semantic, missing, ok };
    };
    const best = (list: Measured[]) =>
      list.reduce((a, b) =>
        Number(b.ok) * 2 + b.lexical + b.semantic > Number(a.ok) * 2 + a.lexical + a.semantic ? b : a,
      );

    const measured: Measured[] = [];
    for (const n of candidates) measured.push(await measure(n));
    let supporting = measured.filter((m) => m.ok);
    let origin: SentenceSupport['origin'] = own.length ? 'model' : 'attributed';
    if (supporting.length === 0 && own.length) {
      // The model cited the wrong source: look for one that says it alone.
      const others: Measured[] = [];
      for (let n = 1; n <= options.sources.length; n++) if (!own.includes(n)) others.push(await measure(n));
      const found = others.filter((m) => m.ok);
      if (found.length) {
        supporting = [best(found)];
        origin = 'attributed';
      }
      measured.push(...others);
    } else if (!own.length && supporting.length) supporting = [best(supporting)];
    const top = best(supporting.length ? supporting : measured);
    scored.push({
      text,
      cited: supporting.map((m) => m.n),
      origin: supporting.length ? origin : 'none',
      lexicalSupport: top.lexical,
      semanticSupport: top.semantic,
      supported: supporting.length > 0,
      ...(top.missing.length ? { missing: top.missing } : {}),
    });
  }

  if (options.judge) await askJudge(options.judge, scored, options);
  // Sentences with nothing checkable (a list number) neither add nor remove support; an answer
  // made only of them has nothing grounded in it.
  const substantive = scored.filter((s) => isSubstantive(s.text));
  const score = substantive.length ? substantive.filter((s) => s.supported).length / substantive.length : 0;
  return { score, sentences: scored, ...(options.judge ? { judgeModel: options.judge.modelId } : {}) };
}

/**
 * A sentence that adds no word to the question: a yes/no answer ("No.", "Monthly plans are not
 * refundable."), supported when the source sentence closest to the question has the same polarity.
 * For a what/who/where question it answers nothing and is never supported.
 */
function polarityClaim(
  text: string,
  own: number[],
  options: GroundednessOptions,
  questionTerms: Set<string>,
): SentenceSupport {
  const none = {
    text,
    cited: [],
    origin: 'none' as const,
    lexicalSupport: 0,
    semanticSupport: 0,
    supported: false,
  };
  if (!options.question || (WH_QUESTION.test(options.question) && !YES_NO.test(text))) return none;
  const wanted = [...questionTerms];
  if (wanted.length === 0) return none;
  const candidates = own.length ? own : options.sources.map((_s, j) => j + 1);
  let best = { n: 0, overlap: 0, sentence: '' };
  for (const n of candidates) {
    for (const s of sourceSentences(options.sources[n - 1]!)) {
      const terms = new Set(claimTerms(s));
      const overlap = wanted.filter((t) => terms.has(t)).length / wanted.length;
      if (overlap > best.overlap) best = { n, overlap, sentence: s };
    }
  }
  // A yes/no rests on one sentence, which must be about most of the question. (0.75 instead cost
  // HaluEval 20 right yes/no answers for 6 more caught: bench/results/support-checker.json.)
  if (best.overlap < 0.5) return { ...none, lexicalSupport: best.overlap };
  if (options.checkPremise && premiseGaps(options.question, options.sources[best.n - 1]!, text).length > 0)
    return { ...none, lexicalSupport: best.overlap };
  const supported = isNegated(text) === isNegated(best.sentence);
  return {
    text,
    cited: supported ? [best.n] : [],
    origin: supported ? (own.includes(best.n) ? 'model' : 'attributed') : 'none',
    lexicalSupport: best.overlap,
    semanticSupport: 0,
    supported,
  };
}

/**
 * What of the question's premise the source lacks: any of its numbers (a source about 1750 does not
 * answer a question about 1570), or most of its names. Names are held to a majority only: a
 * question often names things its passage calls otherwise or leaves implicit (HaluEval's
 * multi-hop questions do; requiring every name withheld half of its right answers).
 */
function premiseGaps(question: string, source: string, claim: string): string[] {
  const missing = missingFacts(question, source);
  // A date is held like a number: a source about March does not answer a question about May.
  const numbers = missing.filter((f) => /^\d/.test(f) || isDateFact(f));
  if (numbers.length) return numbers;
  // A negated question ("which courts is EU law *not* applied in") is not answered by the sentence
  // that says the positive: its polarity must be in the sentence the answer comes from.
  if (isNegated(question) && !isNegated(claim)) {
    const wanted = new Set([...claimTerms(question), ...claimTerms(claim)]);
    let best = { overlap: -1, sentence: '' };
    for (const sentence of sourceSentences(source)) {
      const overlap = claimTerms(sentence).filter((t) => wanted.has(t)).length;
      if (overlap > best.overlap) best = { overlap, sentence };
    }
    if (!isNegated(best.sentence)) return ['(the question says "not"; its source does not)'];
  }
  const names = keyFacts(question).filter((f) => !/^\d/.test(f) && !isDateFact(f));
  const absent = missing.filter((f) => !/^\d/.test(f));
  return names.length >= 2 && absent.length * 2 > names.length ? absent : [];
}

async function askJudge(judge: ChatModel, scored: SentenceSupport[], options: GroundednessOptions) {
  for (const sentence of scored) {
    const evidence = (sentence.cited.length ? sentence.cited : options.sources.map((_s, j) => j + 1))
      .map((n) => `[${n}] ${options.sources[n - 1]}`)
      .join('\n');
    const result = await judge.doGenerate({
      messages: [
        {
          role: 'system',
          content:
            'You check facts. Reply with JSON {"supported": true} if the evidence states the claim, otherwise {"supported": false}.',
        },
        { role: 'user', content: `Evidence:\n${evidence}\n\nClaim: ${sentence.text}` },
      ],
      jsonSchema: {
        type: 'object',
        properties: { supported: { type: 'boolean' } },
        required: ['supported'],
      },
      maxTokens: 16,
      temperature: 0,
      ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}),
    });
    try {
      sentence.judge = (JSON.parse(result.text) as { supported: boolean }).supported === true;
    } catch {
      sentence.judge = false;
    }
    // The judge can only withdraw support: a weak judge must not vouch for a claim no measure backs.
    sentence.supported &&= sentence.judge;
  }
}

/** Embeds each text once per check: source sentences are compared with several claims. */
function embedOnce(embedder: EmbeddingModel, abortSignal: AbortSignal | undefined) {
  const known = new Map<string, number[]>();
  return async (texts: string[]): Promise<number[][]> => {
    const missing = [...new Set(texts.filter((t) => !known.has(t)))];
    if (missing.length) {
      const { embeddings } = await embedder.doEmbed({
        values: missing,
        ...(abortSignal ? { abortSignal } : {}),
      });
      for (const [i, t] of missing.entries()) known.set(t, embeddings[i]!);
    }
    return texts.map((t) => known.get(t)!);
  };
}

/** Has a word, a multi-digit number, or a yes/no to check: list markers carry no claim. */
export function isSubstantive(sentence: string): boolean {
  return YES_NO.test(sentence.trim()) || contentWords(sentence).some((w) => /\p{L}/u.test(w) || w.length > 1);
}
