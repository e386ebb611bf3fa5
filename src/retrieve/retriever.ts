import type { EmbeddingModel, RerankingModel } from '../models/model-spec.ts';
import type {
  KnowledgeStore,
  MetadataFilter,
  Principal,
  SearchHit,
  StoredChunk,
  StoredDocument,
} from '../store/index.ts';

/** Scores a query against candidate texts; higher is more relevant. Any cross-encoder fits. */
export type Reranker = Pick<RerankingModel, 'modelId' | 'rerank'>;

/** Which searches run: both fused (the default), or one alone (for comparison and debugging). */
export type RetrievalMode = 'hybrid' | 'dense' | 'text';

export type RetrieveOptions = {
  principal: Principal;
  /** Default `hybrid`. `text` skips the query embedding altogether. */
  mode?: RetrievalMode;
  /** Evidence returned. Default 5. */
  k?: number;
  /** Candidates fetched from each search before fusion. Default max(4k, 20). */
  candidates?: number;
  filter?: MetadataFilter;
  /** Use the reranker when one is configured. Default true. */
  rerank?: boolean;
  /**
   * Fused candidates the reranker reads, best first; the rest keep their fused order behind them.
   * Default max(2k, 10): a cross-encoder reads every pair in full, so the pool sets its cost.
   */
  rerankCandidates?: number;
  /** Reciprocal rank fusion constant: larger flattens the advantage of top ranks. Default 60. */
  rrfK?: number;
  weights?: { dense?: number; text?: number };
  /** Drop a chunk whose word set overlaps a better one's by at least this Jaccard. Default 0.9. */
  duplicateThreshold?: number;
  abortSignal?: AbortSignal;
};

export type StageScore = { score: number; rank: number };

export type Evidence = {
  chunk: StoredChunk;
  document: Pick<StoredDocument, 'id' | 'source' | 'title' | 'metadata' | 'version'>;
  /** Final score: the reranker's when it ran, else the fused one. */
  score: number;
  /** 1-based. */
  rank: number;
  stages: { dense?: StageScore; text?: StageScore; fused: StageScore; rerank?: StageScore };
};

export type RetrievalResult = {
  query: string;
  evidence: Evidence[];
  timings: { embedMs: number; searchMs: number; rerankMs: number; totalMs: number };
};

/**
 * Hybrid retrieval: dense and BM25 search run in parallel inside the store (ACL and filters in
 * the query), fused by reciprocal rank, optionally reranked, near-duplicates removed.
 */
export class Retriever {
  readonly #store: KnowledgeStore;
  readonly #embedder: EmbeddingModel;
  readonly #reranker: Reranker | undefined;
  readonly #queryCache = new Map<string, number[]>();
  readonly #cacheSize: number;

  constructor(options: {
    store: KnowledgeStore;
    embedder: EmbeddingModel;
    reranker?: Reranker;
    queryCacheSize?: number;
  }) {
    this.#store = options.store;
    this.#embedder = options.embedder;
    this.#reranker = options.reranker;
    this.#cacheSize = options.queryCacheSize ?? 1000;
  }

  async retrieve(query: string, options: RetrieveOptions): Promise<RetrievalResult> {
    const started = performance.now();
    const k = options.k ?? 5;
    const candidates = options.candidates ?? Math.max(4 * k, 20);
    const search = {
      k: candidates,
      principal: options.principal,
      ...(options.filter ? { filter: options.filter } : {}),
    };
    const mode = options.mode ?? 'hybrid';
    const vector = mode === 'text' ? undefined : await this.embedQuery(query, options.abortSignal);
    const embedded = performance.now();
    const [dense, text] = await Promise.all([
      vector === undefined ? [] : this.#store.denseSearch(vector, search),
      mode === 'dense' ? [] : this.#store.textSearch(query, search),
    ]);
    const searched = performance.now();
    const reranking = this.#reranker !== undefined && options.rerank !== false;
    let fused = fuse(dense, text, options.rrfK ?? 60, options.weights ?? {});
    // Only as many distinct chunks as are used: the reranker's pool, or the k returned. Comparing
    // every fused candidate with every other cost ~100 ms a query at 120 candidates per search.
    const pool = Math.min(candidates, options.rerankCandidates ?? Math.max(2 * k, 10));
    fused = removeNearDuplicates(fused, options.duplicateThreshold ?? 0.9, reranking ? Math.max(pool, k) : k);
    let rerankMs = 0;
    if (this.#reranker && reranking && fused.length > 1) {
      const reranked = fused.slice(0, pool);
      const t0 = performance.now();
      const scores = await this.#reranker.rerank(
        query,
        reranked.map((e) => e.chunk.text),
        options.abortSignal,
      );
      rerankMs = performance.now() - t0;
      const order = reranked
        .map((e, i) => ({ e, s: scores[i] ?? Number.NEGATIVE_INFINITY }))
        .sort((a, b) => b.s - a.s);
      fused = [
        ...order.map(({ e, s }, i) => ({
          ...e,
          score: s,
          stages: { ...e.stages, rerank: { score: s, rank: i + 1 } },
        })),
        ...fused.slice(pool),
      ];
    }
    const evidence = fused.slice(0, k).map((e, i) => ({ ...e, rank: i + 1 }));
    return {
      query,
      evidence,
      timings: {
        embedMs: embedded - started,
        searchMs: searched - embedded,
        rerankMs,
        totalMs: performance.now() - started,
      },
    };
  }

  /** Query embeddings are cached: the same question asked again costs no model call. */
  async embedQuery(query: string, abortSignal?: AbortSignal): Promise<number[]> {
    const key = `${this.#embedder.modelId}\n${query}`;
    const hit = this.#queryCache.get(key);
    if (hit) {
      this.#queryCache.delete(key);
      this.#queryCache.set(key, hit);
      return hit;
    }
    const { embeddings } = await this.#embedder.doEmbed({
      values: [query],
      ...(abortSignal ? { abortSignal } : {}),
    });
    const vector = embeddings[0]!;
    this.#queryCache.set(key, vector);
    if (this.#queryCache.size > this.#cacheSize)
      this.#queryCache.delete(this.#queryCache.keys().next().value!);
    return vector;
  }
}

/** Reciprocal rank fusion: score = Σ weight / (rrfK + rank) over the lists a chunk appears in. */
export function fuse(
  dense: SearchHit[],
  text: SearchHit[],
  rrfK: number,
  weights: { dense?: number; text?: number },
): Evidence[] {
  const byId = new Map<string, Evidence>();
  const add = (hits: SearchHit[], stage: 'dense' | 'text', weight: number) => {
    for (const hit of hits) {
      let e = byId.get(hit.chunk.id);
      if (!e) {
        e = {
          chunk: hit.chunk,
          document: hit.document,
          score: 0,
          rank: 0,
          stages: { fused: { score: 0, rank: 0 } },
        };
        byId.set(hit.chunk.id, e);
      }
      e.stages[stage] = { score: hit.score, rank: hit.rank };
      e.score += weight / (rrfK + hit.rank);
    }
  };
  add(dense, 'dense', weights.dense ?? 1);
  add(text, 'text', weights.text ?? 1);
  return [...byId.values()]
    .sort((a, b) => b.score - a.score || (a.stages.dense?.rank ?? 1e9) - (b.stages.dense?.rank ?? 1e9))
    .map((e, i) => ({ ...e, rank: i + 1, stages: { ...e.stages, fused: { score: e.score, rank: i + 1 } } }));
}

/**
 * Keeps the better-ranked of two chunks whose word sets are nearly the same (overlap windows,
 * copies), up to `limit` kept: whether a chunk stays depends only on those kept before it, so
 * stopping early returns exactly the first `limit` of the full result.
 */
export function removeNearDuplicates(
  evidence: Evidence[],
  threshold: number,
  limit = Number.POSITIVE_INFINITY,
): Evidence[] {
  const kept: { e: Evidence; words: Set<string> }[] = [];
  for (const e of evidence) {
    if (kept.length >= limit) break;
    const words = new Set(e.chunk.text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []);
    const duplicate = kept.some((k) => jaccard(k.words, words) >= threshold);
    if (!duplicate) kept.push({ e, words });
  }
  return kept.map((k) => k.e);
}

function jaccard(a: Set<string>, b: Set<string>): number {
  if (a.size === 0 && b.size === 0) return 1;
  let common = 0;
  for (const w of a) if (b.has(w)) common++;
  return common / (a.size + b.size - common);
}
