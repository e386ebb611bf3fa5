import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChatExample } from '../finetune/index.ts';
import { buildDocument, type Document } from '../ingest/index.ts';
import type { KnowledgeBase } from '../knowledge/index.ts';
import {
  AttuneError,
  type ChatModel,
  type EmbeddingModel,
  embedMany,
  type Tokenizer,
} from '../models/index.ts';
import { Retriever } from '../retrieve/index.ts';
import { articleDocx, articleMarkdown } from './article-render.ts';
import { type DeskDefinition, IRRELEVANT } from './desk-definition.ts';
import { planDraft } from './draft-budget.ts';
import type { Article, Draft, DraftSource, EditorialAction, PublishTarget } from './draft-record.ts';
import { draftFixedPrompt, draftSystemPrompt, draftUserPrompt, writeArticle } from './draft-writer.ts';
import type { EditorialStore } from './editorial-store.ts';
import { type CheckSource, factCheckArticle } from './fact-check.ts';
import { type FeedReport, pollFeeds } from './feed-poll.ts';
import type { NewsItem } from './news-item.ts';
import {
  classificationText,
  embeddingRelevanceClassifier,
  type Relevance,
  type RelevanceClassifier,
  relevanceCacheKey,
} from './relevance.ts';
import {
  approveDraft,
  editDraft,
  needsPublishing,
  recordPublication,
  rejectDraft,
  settlePublication,
} from './review.ts';

export type EditorialStage = 'poll' | 'store' | 'classify' | 'cluster' | 'draft' | 'fact-check';
export const EDITORIAL_STAGES: EditorialStage[] = [
  'poll',
  'store',
  'classify',
  'cluster',
  'draft',
  'fact-check',
];

export type EditorialProgress = { stage: EditorialStage; done: number; total: number };

export type LoadedChat = { name: string; model: ChatModel; tokenizer: Tokenizer };

export type EditorialDeskOptions = {
  definition: DeskDefinition;
  store: EditorialStore;
  knowledgeBase: KnowledgeBase;
  embedder: EmbeddingModel;
  /** Loaded on first draft: review and publish never load a chat model. */
  chat: () => Promise<LoadedChat>;
  /** Default: from the desk's `classifier` (the embedding one, or the chat model's). */
  classifier?: RelevanceClassifier | ((chat: LoadedChat) => RelevanceClassifier);
  /** For the webhook target; default the global fetch. */
  fetch?: typeof fetch;
  now?: () => Date;
};

export type ClassifyResult = {
  relevance: Map<string, Relevance>;
  /** Items the classifier was asked about now, and items answered from the cache. */
  computed: number;
  cached: number;
  classifier: string;
};

export type RunOptions = {
  /** Draft at most this many articles this run (the rest wait for the next). */
  maxDrafts?: number;
  /** Draft clusters again even when their items are already in a draft (benchmarks). */
  redraft?: boolean;
  /** Skip polling: classify and draft what is stored. */
  skipPoll?: boolean;
  onProgress?: (p: EditorialProgress) => void;
  signal?: AbortSignal;
};

export type RunSummary = {
  desk: string;
  feeds: FeedReport[];
  fetched: number;
  new: number;
  updated: number;
  duplicates: number;
  failedFeeds: number;
  /** Items left out, per feed, with the reason. */
  itemProblems: number;
  classified: { computed: number; cached: number; classifier: string };
  relevant: number;
  clusters: number;
  drafts: { id: string; headline: string; sources: number; flags: number; ms: number; notes: string[] }[];
  draftFailures: { cluster: string[]; reason: string }[];
  flags: number;
  /** Clusters split to fit the context, and items condensed. */
  split: number;
  condensed: number;
  stageMs: Record<EditorialStage, number>;
  /** Whole run divided by drafts written (undefined without drafts). */
  msPerArticle: number | undefined;
  totalMs: number;
};

/**
 * One editorial desk: feeds in, relevance classified once, drafts within the context budget,
 * fact-checked, queued for an editor, published only after approval.
 */
export class EditorialDesk {
  readonly definition: DeskDefinition;
  readonly store: EditorialStore;
  readonly #o: EditorialDeskOptions;
  #chat: Promise<LoadedChat> | undefined;
  #classifier: Promise<RelevanceClassifier> | undefined;

  constructor(options: EditorialDeskOptions) {
    this.#o = options;
    this.definition = options.definition;
    this.store = options.store;
  }

  #now(): Date {
    return this.#o.now?.() ?? new Date();
  }

  chat(): Promise<LoadedChat> {
    this.#chat ??= this.#o.chat();
    this.#chat.catch(() => {
      this.#chat = undefined;
    });
    return this.#chat;
  }

  classifier(): Promise<RelevanceClassifier> {
    this.#classifier ??= (async () => {
      const c = this.#o.classifier;
      if (c && typeof c !== 'function') return c;
      if (c) return c(await this.chat());
      if (this.definition.classifier === 'chat') {
        const { chatRelevanceClassifier } = await import('./relevance.ts');
        return chatRelevanceClassifier({ chat: (await this.chat()).model });
      }
      return embeddingRelevanceClassifier({
        embedder: this.#o.embedder,
        threshold: this.definition.threshold,
      });
    })();
    return this.#classifier;
  }

  items(): NewsItem[] {
    return [...this.store.items().values()];
  }

  /** Reads every feed, deduplicates, and stores new and changed items as knowledge-base documents. */
  async poll(options: { onProgress?: (p: EditorialProgress) => void; signal?: AbortSignal } = {}) {
    const items = this.store.items();
    const result = await pollFeeds(this.definition.feeds, items, {
      maxItemsPerFeed: this.definition.maxItemsPerFeed,
      ...(options.signal ? { signal: options.signal } : {}),
      now: () => this.#now(),
      onFeed: (done, total) => options.onProgress?.({ stage: 'poll', done, total }),
    });
    const started = performance.now();
    const changed = [...result.added, ...result.updated];
    if (changed.length) {
      const documents = changed.map((item) => this.#document(item));
      const total = documents.length;
      await this.#o.knowledgeBase.update(documents, {
        note: `editorial ${this.definition.name}: ${result.added.length} new, ${result.updated.length} updated items`,
        onProgress: (p) => {
          if (p.phase === 'write') options.onProgress?.({ stage: 'store', done: p.done, total });
        },
        ...(options.signal ? { signal: options.signal } : {}),
      });
    }
    // Saved after the documents are written: an item on record is always in the knowledge base.
    this.store.saveItems();
    options.onProgress?.({ stage: 'store', done: changed.length, total: changed.length });
    return { ...result, storeMs: performance.now() - started };
  }

  #document(item: NewsItem): Document {
    return buildDocument({
      id: item.id,
      source: item.link ?? item.feed,
      title: item.title,
      sections: [{ headingPath: [item.title], text: item.text }],
      metadata: {
        kind: 'news',
        desk: this.definition.name,
        feed: item.feed,
        ...(item.link ? { link: item.link } : {}),
        ...(item.published ? { published: item.published } : {}),
      },
      acl: { public: true, users: [], groups: [] },
    });
  }

  /**
   * Relevance for each item, computed once: an item whose content, classifier, classifier version
   * and desk topics are unchanged is answered from the cache and never sent to the classifier.
   */
  async classify(
    items: NewsItem[] = this.items(),
    options: { onProgress?: (p: EditorialProgress) => void; signal?: AbortSignal; batch?: number } = {},
  ): Promise<ClassifyResult> {
    const classifier = await this.classifier();
    const topics = this.definition.topics;
    const relevance = new Map<string, Relevance>();
    const todo: { item: NewsItem; key: string }[] = [];
    for (const item of items) {
      const key = relevanceCacheKey(item, classifier, topics);
      const hit = this.store.cachedRelevance(key);
      if (hit) relevance.set(item.id, { label: hit.label, score: hit.score, scores: hit.scores });
      else todo.push({ item, key });
    }
    const cached = relevance.size;
    const batch = options.batch ?? 32;
    options.onProgress?.({ stage: 'classify', done: cached, total: items.length });
    for (let i = 0; i < todo.length; i += batch) {
      options.signal?.throwIfAborted();
      const slice = todo.slice(i, i + batch);
      const results = await classifier.doClassify({
        items: slice.map((t) => t.item),
        topics,
        ...(options.signal ? { abortSignal: options.signal } : {}),
      });
      const at = this.#now().toISOString();
      this.store.cacheRelevance(
        slice.map((t, j) => ({
          key: t.key,
          value: { ...results[j]!, classifier: `${classifier.id}@${classifier.version}`, at },
        })),
      );
      for (const [j, t] of slice.entries()) relevance.set(t.item.id, results[j]!);
      options.onProgress?.({ stage: 'classify', done: cached + i + slice.length, total: items.length });
    }
    return { relevance, computed: todo.length, cached, classifier: `${classifier.id}@${classifier.version}` };
  }

  /**
   * Groups relevant items into stories: same topic, and an embedding at least `clusterSimilarity`
   * close to the average of the story's items. The largest stories come first.
   */
  async cluster(
    items: NewsItem[],
    relevance: Map<string, Relevance>,
    signal?: AbortSignal,
  ): Promise<NewsItem[][]> {
    const relevant = items.filter((i) => (relevance.get(i.id)?.label ?? IRRELEVANT) !== IRRELEVANT);
    if (relevant.length === 0) return [];
    const { embeddings } = await embedMany({
      model: this.#o.embedder,
      values: relevant.map((i) => classificationText(i)),
      ...(signal ? { abortSignal: signal } : {}),
    });
    const vectors = new Map(relevant.map((item, i) => [item.id, normalise(embeddings[i]!)]));
    const clusters: { topic: string; items: NewsItem[]; sum: number[] }[] = [];
    const byDate = [...relevant].sort((a, b) => (a.published ?? '').localeCompare(b.published ?? ''));
    for (const item of byDate) {
      const v = vectors.get(item.id)!;
      const topic = relevance.get(item.id)!.label;
      let best: (typeof clusters)[number] | undefined;
      let bestSim = this.definition.clusterSimilarity;
      for (const c of clusters) {
        if (c.topic !== topic) continue;
        const sim = dot(v, c.sum) / c.items.length;
        if (sim >= bestSim) {
          best = c;
          bestSim = sim;
        }
      }
      if (best) {
        best.items.push(item);
        best.sum = best.sum.map((x, i) => x + v[i]!);
      } else clusters.push({ topic, items: [item], sum: [...v] });
    }
    return clusters.sort((a, b) => b.items.length - a.items.length).map((c) => c.items);
  }

  /** The whole pipeline once: poll, store, classify, cluster, draft, fact-check, queue for review. */
  async run(options: RunOptions = {}): Promise<RunSummary> {
    const started = performance.now();
    const stageMs = Object.fromEntries(EDITORIAL_STAGES.map((s) => [s, 0])) as Record<EditorialStage, number>;
    const timed = async <T>(stage: EditorialStage, fn: () => Promise<T>): Promise<T> => {
      const t0 = performance.now();
      try {
        return await fn();
      } finally {
        stageMs[stage] += performance.now() - t0;
      }
    };
    const progress = options.onProgress;
    const signal = options.signal;
    const summary: RunSummary = {
      desk: this.definition.name,
      feeds: [],
      fetched: 0,
      new: 0,
      updated: 0,
      duplicates: 0,
      failedFeeds: 0,
      itemProblems: 0,
      classified: { computed: 0, cached: 0, classifier: '' },
      relevant: 0,
      clusters: 0,
      drafts: [],
      draftFailures: [],
      flags: 0,
      split: 0,
      condensed: 0,
      stageMs,
      msPerArticle: undefined,
      totalMs: 0,
    };
    if (!options.skipPoll) {
      const t0 = performance.now();
      const polled = await this.poll({
        ...(progress ? { onProgress: progress } : {}),
        ...(signal ? { signal } : {}),
      });
      stageMs.store += polled.storeMs;
      stageMs.poll += performance.now() - t0 - polled.storeMs;
      Object.assign(summary, {
        feeds: polled.feeds,
        fetched: polled.fetched,
        new: polled.added.length,
        updated: polled.updated.length,
        duplicates: polled.duplicates,
        failedFeeds: polled.feeds.filter((f) => !f.ok).length,
        itemProblems: polled.feeds.reduce((n, f) => n + f.problems.length, 0),
      });
    }
    const items = this.items();
    const classified = await timed('classify', () =>
      this.classify(items, { ...(progress ? { onProgress: progress } : {}), ...(signal ? { signal } : {}) }),
    );
    summary.classified = {
      computed: classified.computed,
      cached: classified.cached,
      classifier: classified.classifier,
    };
    summary.relevant = [...classified.relevance.values()].filter((r) => r.label !== IRRELEVANT).length;

    const drafted = new Set(
      options.redraft ? [] : this.store.drafts().flatMap((d) => d.sources.map((s) => s.itemId)),
    );
    const candidates = items.filter((i) => !drafted.has(i.id));
    const clusters = await timed('cluster', () => this.cluster(candidates, classified.relevance, signal));
    summary.clusters = clusters.length;
    progress?.({ stage: 'cluster', done: clusters.length, total: clusters.length });

    const maxDrafts = options.maxDrafts ?? Number.POSITIVE_INFINITY;
    const planned = Math.min(maxDrafts, clusters.length);
    for (const cluster of clusters) {
      if (summary.drafts.length >= maxDrafts) break;
      signal?.throwIfAborted();
      progress?.({ stage: 'draft', done: summary.drafts.length, total: planned });
      try {
        const written = await this.#draftCluster(cluster, classified.relevance, {
          remaining: maxDrafts - summary.drafts.length,
          stageMs,
          ...(signal ? { signal } : {}),
          onFactCheck: (done, total) => progress?.({ stage: 'fact-check', done, total }),
        });
        if (written.length > 1) summary.split++;
        for (const d of written) {
          summary.condensed += d.sources.filter((s) => s.condensed).length;
          summary.flags += d.flags.length;
          summary.drafts.push({
            id: d.id,
            headline: d.article.headline,
            sources: d.sources.length,
            flags: d.flags.length,
            ms: d.timings.draftMs + d.timings.factCheckMs,
            notes: d.notes,
          });
        }
      } catch (error) {
        if (signal?.aborted) throw error;
        summary.draftFailures.push({ cluster: cluster.map((i) => i.id), reason: (error as Error).message });
      }
      progress?.({ stage: 'draft', done: Math.min(summary.drafts.length, planned), total: planned });
    }
    summary.totalMs = performance.now() - started;
    summary.msPerArticle = summary.drafts.length ? summary.totalMs / summary.drafts.length : undefined;
    return summary;
  }

  async #draftCluster(
    cluster: NewsItem[],
    relevance: Map<string, Relevance>,
    o: {
      remaining: number;
      stageMs: Record<EditorialStage, number>;
      signal?: AbortSignal;
      onFactCheck: (done: number, total: number) => void;
    },
  ): Promise<(Draft & { notes: string[] })[]> {
    const chat = await this.chat();
    const d = this.definition;
    const plan = planDraft(cluster, {
      tokenizer: chat.tokenizer,
      contextSize: chat.model.contextSize,
      reservedTokens: d.draftTokens,
      fixedPrompt: draftFixedPrompt(d),
      overflow: d.overflow,
      maxItems: d.maxItemsPerDraft,
    });
    const clusterKey = createHash('sha256')
      .update(
        cluster
          .map((i) => i.id)
          .sort()
          .join('\n'),
      )
      .digest('hex');
    const topic = relevance.get(cluster[0]!.id)?.label ?? IRRELEVANT;
    const out: (Draft & { notes: string[] })[] = [];
    for (const [p, part] of plan.parts.entries()) {
      if (out.length >= o.remaining) break;
      const t0 = performance.now();
      const { article, promptTokens } = await writeArticle({
        chat: chat.model,
        desk: d,
        sources: part,
        ...(o.signal ? { abortSignal: o.signal } : {}),
      });
      const draftMs = performance.now() - t0;
      o.stageMs.draft += draftMs;
      const sources: DraftSource[] = part.map((s, i) => ({
        n: i + 1,
        itemId: s.item.id,
        title: s.item.title,
        feed: s.item.feed,
        ...(s.item.link ? { link: s.item.link } : {}),
        ...(s.item.published ? { published: s.item.published } : {}),
        ...(s.condensed ? { condensed: s.condensed } : {}),
      }));
      const t1 = performance.now();
      o.onFactCheck(0, 1);
      const flags = await this.#factCheck(article, sources, o.signal);
      o.onFactCheck(1, 1);
      const factCheckMs = performance.now() - t1;
      o.stageMs['fact-check'] += factCheckMs;
      const createdAt = this.#now().toISOString();
      const draft: Draft & { notes: string[] } = {
        id: `d${createdAt.slice(0, 10).replace(/-/g, '')}-${clusterKey.slice(0, 10)}-${p + 1}`,
        desk: d.name,
        clusterKey,
        topic,
        part: { index: p + 1, of: plan.parts.length },
        createdAt,
        model: chat.name,
        state: 'in-review',
        revision: 1,
        article,
        revisions: [{ revision: 1, article, by: `model:${chat.name}`, at: createdAt }],
        sources,
        flags,
        budget: { promptTokens, contextSize: chat.model.contextSize, reservedTokens: d.draftTokens },
        publications: [],
        timings: { draftMs, factCheckMs },
        notes: plan.notes,
      };
      const { notes: _notes, ...record } = draft;
      this.store.saveDraft(record);
      this.store.log({
        time: createdAt,
        actor: `model:${chat.name}`,
        action: 'draft',
        draftId: draft.id,
        revision: 1,
        ...(plan.notes.length ? { reason: plan.notes.join(' ') } : {}),
      });
      out.push(draft);
    }
    return out;
  }

  async #factCheck(article: Article, sources: DraftSource[], signal?: AbortSignal) {
    const items = this.store.items();
    const checkSources: CheckSource[] = sources.map((s) => ({
      n: s.n,
      itemId: s.itemId,
      text: items.get(s.itemId)?.text ?? '',
      ...(s.link ? { link: s.link } : {}),
    }));
    const retriever = new Retriever({ store: this.#o.knowledgeBase.store, embedder: this.#o.embedder });
    const lookup = async (sentence: string): Promise<CheckSource[]> => {
      const { evidence } = await retriever.retrieve(sentence, {
        principal: { user: 'editorial', groups: [], admin: true },
        k: 3,
      });
      return evidence
        .map((e) => items.get(e.document.id))
        .filter((i): i is NewsItem => i !== undefined)
        .map((i, j) => ({ n: 100 + j, itemId: i.id, text: i.text, ...(i.link ? { link: i.link } : {}) }));
    };
    return factCheckArticle(article, checkSources, {
      embedder: this.#o.embedder,
      lookup,
      ...(signal ? { abortSignal: signal } : {}),
    });
  }

  /** Re-checks the current revision (after an edit) and stores the new flags. */
  async recheck(id: string): Promise<Draft> {
    const draft = this.draft(id);
    draft.flags = await this.#factCheck(draft.article, draft.sources);
    this.store.saveDraft(draft);
    return draft;
  }

  /** Drafts waiting for an editor (in review) or for publishing (approved), oldest first. */
  queue(): Draft[] {
    return this.store.drafts().filter((d) => d.state === 'in-review' || d.state === 'approved');
  }

  drafts(): Draft[] {
    return this.store.drafts();
  }

  draft(id: string): Draft {
    const draft = this.store.draft(id);
    if (!draft)
      throw new AttuneError(`No draft "${id}" on desk ${this.definition.name}.`, {
        hint: 'List drafts with: attune editorial review',
      });
    return draft;
  }

  /** The editorial log: every draft, edit, approval, rejection and publication, oldest first. */
  log(draftId?: string): EditorialAction[] {
    return this.store.actions(draftId);
  }

  #apply(draft: Draft, action: EditorialAction): Draft {
    this.store.saveDraft(draft);
    this.store.log(action);
    return draft;
  }

  approve(id: string, editor: string): Draft {
    const draft = this.draft(id);
    return this.#apply(
      draft,
      approveDraft(draft, editor, () => this.#now()),
    );
  }

  reject(id: string, editor: string, reason: string): Draft {
    const draft = this.draft(id);
    return this.#apply(
      draft,
      rejectDraft(draft, editor, reason, () => this.#now()),
    );
  }

  /** An editor's changes as a new revision (diff in the log), fact-checked again. */
  async edit(id: string, editor: string, changes: Partial<Article>): Promise<Draft> {
    const draft = this.draft(id);
    const action = editDraft(draft, editor, changes, () => this.#now());
    draft.flags = await this.#factCheck(draft.article, draft.sources);
    return this.#apply(draft, action);
  }

  /**
   * Publishes an approved draft to each target not yet published for its current revision. A
   * failed target is recorded and may be retried; one that succeeded is never published again.
   */
  async publish(
    id: string,
    options: { editor: string; targets?: PublishTarget[] },
  ): Promise<{
    draft: Draft;
    results: {
      target: PublishTarget;
      status: 'published' | 'skipped' | 'failed';
      location?: string;
      error?: string;
    }[];
  }> {
    const draft = this.draft(id);
    const targets =
      options.targets ??
      ([
        'markdown',
        'docx',
        ...(this.definition.publish.webhook ? ['webhook' as const] : []),
      ] as PublishTarget[]);
    const results: Awaited<ReturnType<EditorialDesk['publish']>>['results'] = [];
    for (const target of targets) {
      if (!needsPublishing(draft, target)) {
        results.push({
          target,
          status: 'skipped',
          location:
            draft.publications.find((p) => p.target === target && p.status === 'published')?.location ?? '',
        });
        continue;
      }
      let outcome: { ok: true; location: string } | { ok: false; error: string };
      try {
        outcome = { ok: true, location: await this.#publishTo(draft, target) };
      } catch (error) {
        outcome = { ok: false, error: (error as Error).message };
      }
      this.#apply(
        draft,
        recordPublication(draft, target, outcome, options.editor, () => this.#now()),
      );
      results.push(
        outcome.ok
          ? { target, status: 'published', location: outcome.location }
          : { target, status: 'failed', error: outcome.error },
      );
    }
    settlePublication(draft);
    this.store.saveDraft(draft);
    return { draft, results };
  }

  async #publishTo(draft: Draft, target: PublishTarget): Promise<string> {
    const dir = this.definition.publish.dir ?? join(this.store.dir, 'published');
    const base = `${slug(draft.article.headline)}-${draft.id}`;
    if (target === 'markdown' || target === 'docx') {
      mkdirSync(dir, { recursive: true });
      const path = join(dir, `${base}.${target === 'markdown' ? 'md' : 'docx'}`);
      writeFileSync(
        path,
        target === 'markdown'
          ? articleMarkdown(draft.article, draft.sources)
          : await articleDocx(draft.article, draft.sources),
      );
      return path;
    }
    const url = this.definition.publish.webhook;
    if (!url) throw new AttuneError('The desk has no publish.webhook URL.');
    const response = await (this.#o.fetch ?? fetch)(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        // A receiver that saw this key already can drop the repeat (a crash after its 2xx, before our record).
        'idempotency-key': `${draft.id}:${draft.revision}`,
      },
      body: JSON.stringify({
        id: draft.id,
        revision: draft.revision,
        desk: draft.desk,
        article: draft.article,
        markdown: articleMarkdown(draft.article, draft.sources),
        sources: draft.sources,
        approved: draft.approved,
      }),
      signal: AbortSignal.timeout(15_000),
    });
    await response.body?.cancel();
    if (!response.ok) throw new AttuneError(`webhook ${url} answered HTTP ${response.status}.`);
    return url;
  }

  /**
   * The desk's example articles as chat fine-tuning examples: the same system prompt and source
   * layout the drafts use, the article JSON as the answer, so a trained adapter learns the structure.
   */
  fineTuningExamples(): ChatExample[] {
    return this.definition.examples.map((e, i) => ({
      messages: [
        { role: 'system', content: draftSystemPrompt(this.definition) },
        { role: 'user', content: draftUserPrompt(e.sources.map((s, j) => `[${j + 1}] ${s}`)) },
        {
          role: 'assistant',
          content: JSON.stringify({
            headline: e.article.headline,
            lead: { text: e.article.lead, sources: [1] },
            paragraphs: e.article.paragraphs.map((text) => ({ text, sources: [1] })),
            insights: e.article.insights.map((text) => ({ text, sources: [1] })),
          }),
        },
      ],
      meta: { desk: this.definition.name, example: i },
    }));
  }

  /** Polls on a schedule until the signal aborts; each run's summary goes to `onRun`. */
  async watch(options: {
    everyMs: number;
    signal: AbortSignal;
    onRun: (s: RunSummary | Error) => void;
    run?: RunOptions;
  }): Promise<void> {
    while (!options.signal.aborted) {
      try {
        options.onRun(await this.run({ ...options.run, signal: options.signal }));
      } catch (error) {
        if (options.signal.aborted) return;
        options.onRun(error as Error);
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, options.everyMs);
        options.signal.addEventListener(
          'abort',
          () => {
            clearTimeout(t);
            resolve();
          },
          { once: true },
        );
      });
    }
  }
}

function normalise(v: number[]): number[] {
  const n = Math.sqrt(v.reduce((s, x) => s + x * x, 0)) || 1;
  return v.map((x) => x / n);
}

function dot(a: number[], b: number[]): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

function slug(text: string): string {
  return (
    text
      .toLowerCase()
      .normalize('NFKD')
      .replace(/[^\p{L}\p{N}]+/gu, '-')
      .replace(/^-|-$/g, '')
      .slice(0, 60) || 'article'
  );
}
