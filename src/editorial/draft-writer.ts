import {
  AttuneError,
  type ChatModel,
  generateObject,
  type JsonSchema,
  NoObjectGeneratedError,
} from '../models/index.ts';
import type { DeskDefinition } from './desk-definition.ts';
import type { BudgetedSource } from './draft-budget.ts';
import { sourceBlock } from './draft-budget.ts';
import type { Article } from './draft-record.ts';

/** The article's schema: every part present, citations only to the sources given. */
export function articleSchema(sourceCount: number): JsonSchema {
  const part = {
    type: 'object',
    properties: {
      // No length bounds: llama.cpp expands a bounded string into one grammar rule per character,
      // which slowed sampling badly; the prompt asks for short parts and maxTokens bounds the whole.
      text: { type: 'string' },
      sources: {
        type: 'array',
        items: { type: 'integer', enum: Array.from({ length: sourceCount }, (_v, i) => i + 1) },
        minItems: 1,
        maxItems: sourceCount,
      },
    },
    required: ['text', 'sources'],
    additionalProperties: false,
  };
  return {
    type: 'object',
    properties: {
      headline: { type: 'string' },
      lead: part,
      paragraphs: { type: 'array', items: part, minItems: 2, maxItems: 3 },
      insights: { type: 'array', items: part, minItems: 1, maxItems: 2 },
    },
    required: ['headline', 'lead', 'paragraphs', 'insights'],
    additionalProperties: false,
  };
}

export function draftSystemPrompt(desk: Pick<DeskDefinition, 'title' | 'styleGuide'>): string {
  return [
    `You are a reporter for ${desk.title}. Write one news article from the numbered sources only.`,
    'Never add a number, date, name or quote that is not in the sources. Every part lists the numbers of the sources it uses.',
    'Structure: a headline of under 12 words; a lead of one or two sentences; two or three body paragraphs of one to three sentences each; one or two insights (what it means for readers), one sentence each.',
    desk.styleGuide,
  ]
    .filter(Boolean)
    .join('\n');
}

export function draftUserPrompt(blocks: string[]): string {
  return `Sources:\n\n${blocks.join('\n\n')}\n\nWrite the article as JSON.`;
}

/** The prompt without its sources: what the budget must leave room around. */
export function draftFixedPrompt(desk: Pick<DeskDefinition, 'title' | 'styleGuide'>): string {
  return `${draftSystemPrompt(desk)}\n${draftUserPrompt([])}`;
}

/**
 * One article from sources that already fit the context (see planDraft), constrained to the
 * article schema. An output that still breaks the schema is asked for once more; a second failure
 * is an error naming the cluster, and the run goes on with the next one.
 */
export async function writeArticle(options: {
  chat: ChatModel;
  desk: Pick<DeskDefinition, 'title' | 'styleGuide' | 'draftTokens'>;
  sources: BudgetedSource[];
  abortSignal?: AbortSignal;
  seed?: number;
}): Promise<{ article: Article; promptTokens: number; attempts: number }> {
  const blocks = options.sources.map((s, i) => sourceBlock(s.item, i + 1, s.text));
  const schema = articleSchema(options.sources.length);
  let last: unknown;
  for (let attempt = 1; attempt <= 2; attempt++) {
    try {
      const result = await generateObject<Article>({
        model: options.chat,
        system: draftSystemPrompt(options.desk),
        prompt: draftUserPrompt(blocks),
        schema,
        maxTokens: options.desk.draftTokens,
        temperature: attempt === 1 ? 0.2 : 0,
        seed: (options.seed ?? 1) + attempt,
        ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}),
      });
      return { article: tidy(result.object), promptTokens: result.usage.inputTokens, attempts: attempt };
    } catch (error) {
      if (!(error instanceof NoObjectGeneratedError)) throw error;
      last = error;
    }
  }
  throw new AttuneError(
    `The model did not write an article that fits the schema in 2 attempts: ${(last as Error).message}`,
    { hint: 'Raise draftTokens in the desk file, or use a larger chat model.', cause: last },
  );
}

function tidy(article: Article): Article {
  const part = (p: Article['lead']) => ({
    text: p.text.trim(),
    sources: [...new Set(p.sources)].sort((a, b) => a - b),
  });
  return {
    headline: article.headline.trim(),
    lead: part(article.lead),
    paragraphs: article.paragraphs.map(part),
    insights: article.insights.map(part),
  };
}
