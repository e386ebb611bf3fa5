import type { AuditSentence } from '../audit/audit-record.ts';
import type { ChatModel, EmbeddingModel } from '../models/model-spec.ts';
import { cosineSimilarity } from '../models/vector-math.ts';
import { citationsIn, stripCitations } from './citations.ts';
import { contentWords, lexicalSupport, splitSentences } from './text-support.ts';

/** Support for one answer sentence: the shape the audit record keeps. */
export type SentenceSupport = AuditSentence;

export type GroundednessResult = {
  /** Share of sentences supported by their cited evidence (0 for an empty answer). */
  score: number;
  sentences: SentenceSupport[];
  judgeModel?: string;
};

export type GroundednessOptions = {
  /** Sources as numbered in the prompt: sources[0] is [1]. */
  sources: string[];
  embedder: EmbeddingModel;
  /** A sentence is supported when this share of its content words occur in its sources. */
  lexicalThreshold?: number;
  /** ... or when its embedding is at least this close to one of its sources. */
  semanticThreshold?: number;
  /** Optional second opinion: asked per sentence whether the sources support it. */
  judge?: ChatModel;
  abortSignal?: AbortSignal;
};

/**
 * Scores each answer sentence against the evidence it cites. Two fast signals, either suffices:
 * lexical (content-word recall, catches copied facts) and semantic (embedding cosine, catches
 * paraphrase). Sentences without a citation are attributed to their best-supporting source, so
 * every claim is traceable; a sentence no source supports stays unsupported and uncited.
 */
export async function scoreGroundedness(
  answer: string,
  options: GroundednessOptions,
): Promise<GroundednessResult> {
  const lexicalThreshold = options.lexicalThreshold ?? 0.6;
  const semanticThreshold = options.semanticThreshold ?? 0.7;
  const sentences = splitSentences(answer);
  if (sentences.length === 0 || options.sources.length === 0) return { score: 0, sentences: [] };
  const plain = sentences.map(stripCitations);
  const { embeddings } = await options.embedder.doEmbed({
    values: [...plain, ...options.sources],
    ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}),
  });
  const sentenceVectors = embeddings.slice(0, plain.length);
  const sourceVectors = embeddings.slice(plain.length);

  const scored: SentenceSupport[] = plain.map((text, i) => {
    if (!isSubstantive(text)) {
      return {
        text,
        cited: [],
        origin: 'none' as const,
        lexicalSupport: 0,
        semanticSupport: 0,
        supported: false,
      };
    }
    const own = citationsIn(sentences[i]!, options.sources.length);
    const measure = (n: number) => ({
      n,
      lexical: lexicalSupport(text, options.sources[n - 1]!),
      semantic: cosineSimilarity(sentenceVectors[i]!, sourceVectors[n - 1]!),
    });
    if (own.length > 0) {
      const measured = own.map(measure);
      const lexical = Math.max(...measured.map((m) => m.lexical));
      const semantic = Math.max(...measured.map((m) => m.semantic));
      return {
        text,
        cited: own,
        origin: 'model' as const,
        lexicalSupport: lexical,
        semanticSupport: semantic,
        supported: lexical >= lexicalThreshold || semantic >= semanticThreshold,
      };
    }
    const all = options.sources.map((_s, j) => measure(j + 1));
    const best = all.reduce((a, b) => (b.lexical + b.semantic > a.lexical + a.semantic ? b : a));
    const supported = best.lexical >= lexicalThreshold || best.semantic >= semanticThreshold;
    return {
      text,
      cited: supported ? [best.n] : [],
      origin: supported ? ('attributed' as const) : ('none' as const),
      lexicalSupport: best.lexical,
      semanticSupport: best.semantic,
      supported,
    };
  });

  if (options.judge) {
    for (const sentence of scored) {
      const evidence = (sentence.cited.length ? sentence.cited : options.sources.map((_s, j) => j + 1))
        .map((n) => `[${n}] ${options.sources[n - 1]}`)
        .join('\n');
      const result = await options.judge.doGenerate({
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
  // Sentences with nothing checkable ("The answer is no.", a list number) neither add nor remove
  // support; an answer made only of them has nothing grounded in it.
  const substantive = scored.filter((s) => isSubstantive(s.text));
  const score = substantive.length ? substantive.filter((s) => s.supported).length / substantive.length : 0;
  return { score, sentences: scored, ...(options.judge ? { judgeModel: options.judge.modelId } : {}) };
}

/** Has a word or a multi-digit number to check: list markers and bare yes/no carry no claim. */
export function isSubstantive(sentence: string): boolean {
  return contentWords(sentence).some((w) => /\p{L}/u.test(w) || w.length > 1);
}
