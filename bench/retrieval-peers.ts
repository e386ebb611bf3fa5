// The peers of the retrieval benchmark, LlamaIndex.TS and LangChain.js, wired to Attune's embedding
// model, plus the embedding cache that lets every pipeline reuse one embedding of a text.
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { MessageContentDetail } from 'llamaindex';
import type { Tokenizer } from '../src/models/model-spec.ts';

export type CorpusRecord = { id: string; title?: string; text: string };

/** A peer's retriever: the corpus record ids of its top `k` chunks, best first (repeats kept). */
export type PeerRetriever = {
  name: 'llamaindex' | 'langchain';
  chunks: number;
  settings: string;
  search(query: string, k: number): Promise<string[]>;
};

type EmbedTexts = (texts: string[]) => Promise<number[][]>;
type EmbedQuery = (text: string) => Promise<number[]>;

/**
 * Embeddings keyed by sha256(model id, text), kept in a JSONL file between runs. The model is
 * deterministic (one llama.cpp decode per input), so a cached vector is the vector the model would
 * compute: every pipeline gets the same vectors for the same text, and the corpus is embedded once.
 */
export class EmbeddingCache {
  readonly #vectors = new Map<string, number[]>();
  readonly #path: string;
  readonly #modelId: string;
  hits = 0;
  computed = 0;

  constructor(path: string, modelId: string) {
    this.#path = path;
    this.#modelId = modelId;
    mkdirSync(dirname(path), { recursive: true });
    if (existsSync(path)) {
      for (const line of readFileSync(path, 'utf8').split('\n')) {
        if (line.trim() === '') continue;
        try {
          const { h, v } = JSON.parse(line) as { h: string; v: number[] };
          this.#vectors.set(h, v);
        } catch {
          // A line cut short by a killed run: that text is embedded again.
        }
      }
    }
  }

  get size(): number {
    return this.#vectors.size;
  }

  /** The vectors of `texts`, computing (with `compute`, in one call) only those not cached. */
  async embed(texts: string[], compute: EmbedTexts): Promise<number[][]> {
    const keys = texts.map((text) => this.#key(text));
    const missing = [...new Set(keys.filter((key) => !this.#vectors.has(key)))];
    const missingTexts = missing.map((key) => texts[keys.indexOf(key)]!);
    if (missingTexts.length > 0) {
      const vectors = await compute(missingTexts);
      const lines = missing.map((key, i) => {
        this.#vectors.set(key, vectors[i]!);
        return JSON.stringify({ h: key, v: vectors[i] });
      });
      appendFileSync(this.#path, `${lines.join('\n')}\n`);
      this.computed += missingTexts.length;
    }
    this.hits += texts.length - missingTexts.length;
    return keys.map((key) => this.#vectors.get(key)!);
  }

  #key(text: string): string {
    return createHash('sha256').update(`${this.#modelId}\n${text}`).digest('hex');
  }
}

/**
 * node-llama-cpp's 256-token context overflows at doEmbed's own truncation (254), and the peers'
 * splitters count in other units, so their texts are cut to 250 model tokens first (as in
 * bench/ingest-pipelines.ts).
 */
export const PEER_MAX_TOKENS = 250;

export function truncator(tokenizer: Tokenizer) {
  const stats = { truncated: 0 };
  const cut = (text: string) => {
    const tokens = tokenizer.encode(text);
    if (tokens.length <= PEER_MAX_TOKENS) return text;
    stats.truncated++;
    return tokenizer.decode(tokens.slice(0, PEER_MAX_TOKENS));
  };
  return { cut, stats };
}

/** LlamaIndex.TS: SentenceSplitter (200 / 32) → VectorStoreIndex (SimpleVectorStore) → its retriever. */
export async function buildLlamaIndex(
  records: CorpusRecord[],
  embedDocuments: EmbedTexts,
  embedQuery: EmbedQuery,
): Promise<PeerRetriever> {
  const { BaseEmbedding, Document, SentenceSplitter, Settings, VectorStoreIndex } = await import(
    'llamaindex'
  );
  class AttuneEmbedding extends BaseEmbedding {
    constructor() {
      super();
      this.embedBatchSize = 32;
      this.getTextEmbeddings = (texts: string[]) => embedDocuments(texts);
    }
    async getTextEmbedding(text: string): Promise<number[]> {
      return (await embedDocuments([text]))[0]!;
    }
    // The query path goes to the model every time, so its latency is real.
    override async getQueryEmbedding(query: MessageContentDetail): Promise<number[] | null> {
      return query.type === 'text' ? embedQuery(query.text) : null;
    }
  }
  Settings.embedModel = new AttuneEmbedding();
  const documents = records.map(
    (r) => new Document({ id_: r.id, text: r.text, metadata: { title: r.title ?? '' } }),
  );
  // What fromDocuments does, with the splitter passed in: llamaindex 0.12 bundles two copies of
  // its Settings, and the node parser set on the exported one never reaches VectorStoreIndex,
  // which then splits with its default (1,024 tokens; the model reads 256 of them).
  const splitter = new SentenceSplitter({ chunkSize: 200, chunkOverlap: 32 });
  const nodes = splitter.getNodesFromDocuments(documents);
  const index = await VectorStoreIndex.init({ nodes });
  const chunks = nodes.length;
  return {
    name: 'llamaindex',
    chunks,
    settings:
      'SentenceSplitter chunkSize 200 / overlap 32 (cl100k tokens), title as metadata (embedded with the text), SimpleVectorStore, VectorIndexRetriever',
    async search(query, k) {
      const retriever = index.asRetriever({ similarityTopK: k });
      const nodes = await retriever.retrieve({ query });
      return nodes.map((n) => n.node.sourceNode?.nodeId ?? '');
    },
  };
}

/** LangChain.js: RecursiveCharacterTextSplitter (900 / 128 characters) → MemoryVectorStore. */
export async function buildLangChain(
  records: CorpusRecord[],
  embedDocuments: EmbedTexts,
  embedQuery: EmbedQuery,
): Promise<PeerRetriever> {
  const { Embeddings } = await import('@langchain/core/embeddings');
  const { Document } = await import('@langchain/core/documents');
  const { RecursiveCharacterTextSplitter } = await import('@langchain/textsplitters');
  const { MemoryVectorStore } = await import('@langchain/classic/vectorstores/memory');
  class AttuneEmbeddings extends Embeddings {
    embedDocuments(texts: string[]): Promise<number[][]> {
      return embedDocuments(texts);
    }
    embedQuery(text: string): Promise<number[]> {
      return embedQuery(text);
    }
  }
  const documents = records.map(
    (r) => new Document({ pageContent: r.text, metadata: { id: r.id, title: r.title ?? '' } }),
  );
  const splitter = new RecursiveCharacterTextSplitter({ chunkSize: 900, chunkOverlap: 128 });
  const chunks = await splitter.splitDocuments(documents);
  const store = await MemoryVectorStore.fromDocuments(chunks, new AttuneEmbeddings({}));
  return {
    name: 'langchain',
    chunks: chunks.length,
    settings:
      'RecursiveCharacterTextSplitter chunkSize 900 / overlap 128 characters, page content only, MemoryVectorStore.similaritySearch',
    async search(query, k) {
      const hits = await store.similaritySearch(query, k);
      return hits.map((d) => String(d.metadata.id));
    },
  };
}
