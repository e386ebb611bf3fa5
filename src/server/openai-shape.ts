import type { AnswerResult } from '../answer/index.ts';
import { Problem } from './problem.ts';

/** The models `/v1/models` lists: grounded answers over the knowledge base, generated or extractive. */
export const OPENAI_MODELS = {
  attune: { mode: 'generate' as const, description: 'grounded answer from the knowledge base, cited' },
  'attune-extractive': {
    mode: 'extractive' as const,
    description: 'the best source sentence, no generation',
  },
};

type Message = { role: string; content?: string | { type: string; text?: string }[] | null | undefined };

/** The question is the last user message; earlier turns are not evidence and are not used. */
export function questionOf(messages: Message[]): string {
  const last = [...messages].reverse().find((m) => m.role === 'user');
  const content = last?.content;
  const text =
    typeof content === 'string'
      ? content
      : Array.isArray(content)
        ? content.map((p) => (p.type === 'text' ? (p.text ?? '') : '')).join('\n')
        : '';
  if (!text.trim())
    throw new Problem(400, 'Bad Request', 'messages: no user message with text content.', {
      extra: { errors: [{ path: 'messages', message: 'needs a user message with text' }] },
    });
  return text.trim();
}

export type UrlCitation = {
  type: 'url_citation';
  url_citation: { url: string; title: string; start_index: number; end_index: number };
};

/**
 * Each `[n]` in the answer becomes a `url_citation` over the sentence it ends (the text it is the
 * source for), pointing at the cited passage in the web app.
 */
export function annotationsFor(result: AnswerResult, passageUrl: (docId: string, chunkId: string) => string) {
  const annotations: UrlCitation[] = [];
  const text = result.answer;
  for (const match of text.matchAll(/\[(\d+)\]/g)) {
    const source = result.sources.find((s) => s.n === Number(match[1]));
    if (!source || match.index === undefined) continue;
    const before = text.slice(0, match.index);
    const sentenceStart = Math.max(before.lastIndexOf('. '), before.lastIndexOf('\n'));
    annotations.push({
      type: 'url_citation',
      url_citation: {
        url: passageUrl(source.docId, source.chunkId),
        title: source.title,
        start_index: sentenceStart < 0 ? 0 : sentenceStart + 2,
        end_index: match.index + match[0].length,
      },
    });
  }
  return annotations;
}

/** Attune's own extension object: everything needed to trace the answer to its sources. */
export function attuneExtension(result: AnswerResult) {
  return {
    sources: result.sources.map((s) => ({
      n: s.n,
      docId: s.docId,
      chunkId: s.chunkId,
      title: s.title,
      source: s.source,
      location: s.location,
      text: s.text,
      version: s.version,
      score: s.score,
    })),
    citations: result.citations,
    abstained: result.abstained,
    ...(result.abstainReason ? { abstainReason: result.abstainReason } : {}),
    ...(result.closest ? { closest: result.closest } : {}),
    groundedness: result.groundedness.score,
    auditId: result.auditId,
    kbVersion: result.kbVersion,
    cached: result.cached,
  };
}

export function completionId(auditId: string): string {
  return `chatcmpl-${auditId}`;
}

export function usageOf(result: AnswerResult) {
  return {
    prompt_tokens: result.usage.inputTokens,
    completion_tokens: result.usage.outputTokens,
    total_tokens: result.usage.inputTokens + result.usage.outputTokens,
  };
}
