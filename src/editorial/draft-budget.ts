import { splitSentences } from '../answer/index.ts';
import { AttuneError, type Tokenizer } from '../models/index.ts';
import type { NewsItem } from './news-item.ts';

/** One item as the draft prompt shows it, measured in the chat model's own tokens. */
export type BudgetedSource = {
  item: NewsItem;
  text: string;
  tokens: number;
  condensed?: { keptSentences: number; ofSentences: number };
};

export type DraftPlan = {
  /** Each part becomes one draft; more than one means the cluster was split. */
  parts: BudgetedSource[][];
  /** Tokens the sources of one part may take. */
  available: number;
  /** What was done to fit, in words (empty when everything fitted as it was). */
  notes: string[];
};

export type PlanOptions = {
  tokenizer: Tokenizer;
  contextSize: number;
  /** Kept free for the article. */
  reservedTokens: number;
  /** The instructions around the sources. */
  fixedPrompt: string;
  overflow: 'split' | 'condense';
  maxItems: number;
  /** Chat-template tokens the plain count does not see. Default 64. */
  templateTokens?: number;
};

/** The source block of the prompt; `n` is the number it is cited by. */
export function sourceBlock(item: NewsItem, n: number, text = item.text): string {
  const meta = [item.feedTitle, item.published?.slice(0, 10)].filter(Boolean).join(', ');
  return `[${n}] ${item.title}${meta ? ` (${meta})` : ''}\n${text}`;
}

/**
 * Fits a cluster into the chat model's context, measured with its tokenizer: sources that fit go in
 * whole; when together they do not, the cluster is split into parts that do (or, with `condense`,
 * each item keeps its leading sentences, news being written most important first). An item too long
 * even alone is condensed. Nothing is cut without a note and a `condensed` mark on the source.
 */
export function planDraft(items: NewsItem[], options: PlanOptions): DraftPlan {
  const fixed = options.tokenizer.countTokens(options.fixedPrompt) + (options.templateTokens ?? 64);
  const available = options.contextSize - options.reservedTokens - fixed;
  if (available < 64)
    throw new AttuneError(
      `The draft instructions take ${fixed} tokens; the context (${options.contextSize}) minus ${options.reservedTokens} reserved for the article leaves no room for sources.`,
      { hint: 'Lower draftTokens in the desk file, or use a chat model with a larger context.' },
    );
  const notes: string[] = [];
  // [99] stands for any source number: a two-digit label costs at least as much as a one-digit one.
  const measure = (item: NewsItem, text = item.text) =>
    options.tokenizer.countTokens(sourceBlock(item, 99, text));
  let sources: BudgetedSource[] = items.map((item) => {
    const tokens = measure(item);
    if (tokens <= available) return { item, text: item.text, tokens };
    notes.push(
      `"${item.title}" alone takes ${tokens} tokens of ${available}: condensed to its leading sentences.`,
    );
    return condense(item, available, measure);
  });
  const total = sources.reduce((n, s) => n + s.tokens, 0);
  if (options.overflow === 'condense' && (total > available || sources.length > options.maxItems)) {
    sources = sources.slice(0, options.maxItems);
    if (items.length > options.maxItems)
      notes.push(
        `The cluster has ${items.length} items; the first ${options.maxItems} were used (maxItemsPerDraft).`,
      );
    // Share the room evenly; short items give what they do not use to the long ones.
    const byLength = [...sources].sort((a, b) => a.tokens - b.tokens);
    let room = available;
    const fitted = new Map<BudgetedSource, BudgetedSource>();
    for (const [i, s] of byLength.entries()) {
      const share = Math.floor(room / (byLength.length - i));
      const f = s.tokens <= share ? s : condense(s.item, share, measure);
      fitted.set(s, f);
      room -= f.tokens;
    }
    sources = sources.map((s) => fitted.get(s)!);
    const condensed = sources.filter((s) => s.condensed).length;
    if (condensed)
      notes.push(`${condensed} of ${sources.length} items condensed to fit ${available} tokens together.`);
    return { parts: [sources], available, notes };
  }
  const parts: BudgetedSource[][] = [];
  let current: BudgetedSource[] = [];
  let used = 0;
  for (const s of sources) {
    if (current.length > 0 && (used + s.tokens > available || current.length >= options.maxItems)) {
      parts.push(current);
      current = [];
      used = 0;
    }
    current.push(s);
    used += s.tokens;
  }
  if (current.length) parts.push(current);
  if (parts.length > 1)
    notes.push(
      `The cluster's ${sources.length} items take ${total} tokens (${available} fit, at most ${options.maxItems} items): split into ${parts.length} drafts.`,
    );
  return { parts, available, notes };
}

/** The item's leading sentences that fit `budget` tokens; at least its first sentence's start. */
function condense(
  item: NewsItem,
  budget: number,
  measure: (item: NewsItem, text?: string) => number,
): BudgetedSource {
  const sentences = splitSentences(item.text);
  let kept = 0;
  let text = '';
  for (const sentence of sentences) {
    const next = text ? `${text} ${sentence}` : sentence;
    if (measure(item, next) > budget) break;
    text = next;
    kept++;
  }
  if (kept === 0) {
    // One sentence longer than the budget: keep as many of its words as fit, still marked.
    const words = (sentences[0] ?? item.text).split(/\s+/);
    let lo = 1;
    let hi = words.length;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (measure(item, `${words.slice(0, mid).join(' ')} …`) <= budget) lo = mid;
      else hi = mid - 1;
    }
    text = `${words.slice(0, lo).join(' ')} …`;
  }
  return {
    item,
    text,
    tokens: measure(item, text),
    condensed: { keptSentences: kept, ofSentences: sentences.length },
  };
}
