import { createHash } from 'node:crypto';
import {
  type ChatModel,
  cosineSimilarity,
  type EmbeddingModel,
  embedMany,
  generateObject,
} from '../models/index.ts';
import { IRRELEVANT, type Topic } from './desk-definition.ts';
import type { NewsItem } from './news-item.ts';

/** An item's relevance: its label (a topic id or "irrelevant") and a score per topic. */
export type Relevance = { label: string; score: number; scores: Record<string, number> };

/**
 * Decides which of a desk's topics an item is about. `version` names everything that changes the
 * answer (model, threshold, prompt): a cached label is reused only for the same id and version.
 */
export interface RelevanceClassifier {
  readonly specificationVersion: 'v1';
  readonly id: string;
  readonly version: string;
  doClassify(options: {
    items: NewsItem[];
    topics: Topic[];
    abortSignal?: AbortSignal;
  }): Promise<Relevance[]>;
}

/** What an item is about, for classifiers: title and the start of the text. */
export function classificationText(item: Pick<NewsItem, 'title' | 'text'>, maxChars = 1200): string {
  return `${item.title}\n${item.text}`.slice(0, maxChars);
}

function hash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

/** Cosine of the item to each topic description; relevant when the best reaches the threshold. */
export function embeddingRelevanceClassifier(options: {
  embedder: EmbeddingModel;
  threshold: number;
}): RelevanceClassifier {
  const { embedder, threshold } = options;
  const topicVectors = new Map<string, number[]>();
  return {
    specificationVersion: 'v1',
    id: `embedding:${embedder.modelId}`,
    version: `threshold=${threshold}`,
    async doClassify({ items, topics, abortSignal }) {
      const missing = topics.filter((t) => !topicVectors.has(t.description));
      if (missing.length) {
        const { embeddings } = await embedMany({
          model: embedder,
          values: missing.map((t) => t.description),
          ...(abortSignal ? { abortSignal } : {}),
        });
        for (const [i, t] of missing.entries()) topicVectors.set(t.description, embeddings[i]!);
      }
      const { embeddings } = await embedMany({
        model: embedder,
        values: items.map((i) => classificationText(i)),
        ...(abortSignal ? { abortSignal } : {}),
      });
      return embeddings.map((v) => {
        const scores: Record<string, number> = {};
        for (const t of topics) scores[t.id] = cosineSimilarity(v, topicVectors.get(t.description)!);
        const best = topics.reduce((a, b) => (scores[b.id]! > scores[a.id]! ? b : a));
        const score = scores[best.id]!;
        return { label: score >= threshold ? best.id : IRRELEVANT, score, scores };
      });
    },
  };
}

const CHAT_SYSTEM =
  'You are the news editor of a desk. Decide which one of the desk topics a news item is about, or "irrelevant" if it is about none of them. Answer with JSON.';

/** The chat model picks one label, constrained by a JSON schema to the topic ids and "irrelevant". */
export function chatRelevanceClassifier(options: { chat: ChatModel }): RelevanceClassifier {
  const { chat } = options;
  return {
    specificationVersion: 'v1',
    id: `chat:${chat.modelId}`,
    version: `prompt=${hash(CHAT_SYSTEM)}`,
    async doClassify({ items, topics, abortSignal }) {
      const labels = [...topics.map((t) => t.id), IRRELEVANT];
      const topicList = topics.map((t) => `- ${t.id}: ${t.description}`).join('\n');
      const out: Relevance[] = [];
      for (const item of items) {
        const { object } = await generateObject<{ label: string }>({
          model: chat,
          system: CHAT_SYSTEM,
          prompt: `Desk topics:\n${topicList}\n- ${IRRELEVANT}: about none of the topics above\n\nNews item:\n${classificationText(item, 800)}\n\nWhich label fits?`,
          schema: {
            type: 'object',
            properties: { label: { type: 'string', enum: labels } },
            required: ['label'],
            additionalProperties: false,
          },
          maxTokens: 24,
          temperature: 0,
          ...(abortSignal ? { abortSignal } : {}),
        });
        const scores = Object.fromEntries(topics.map((t) => [t.id, t.id === object.label ? 1 : 0]));
        out.push({ label: object.label, score: object.label === IRRELEVANT ? 0 : 1, scores });
      }
      return out;
    },
  };
}

/** The cache key: the item's content, the classifier and its version, and the desk's topics. */
export function relevanceCacheKey(item: NewsItem, classifier: RelevanceClassifier, topics: Topic[]): string {
  return `${item.contentHash}|${classifier.id}@${classifier.version}|${hash(JSON.stringify(topics))}`;
}
