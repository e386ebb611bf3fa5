import { AttuneError } from '../models/model-error.ts';
import {
  anonymous,
  type KnowledgeStore,
  type Principal,
  type StoredChunk,
  type StoredDocument,
} from '../store/index.ts';
import { shuffle } from './dataset-split.ts';

/** A knowledge-base chunk a training example is generated from, with its document. */
export type SourceChunk = {
  chunk: StoredChunk;
  document: Pick<StoredDocument, 'id' | 'title' | 'source' | 'version'>;
};

export type SampleChunksOptions = {
  /**
   * Whose documents may become training data. Default: anonymous, i.e. public documents only —
   * a fine-tuned model repeats what it was trained on to anyone who can query it, so restricted
   * documents must be opted into explicitly.
   */
  principal?: Principal;
  seed?: number;
  /** Chunks with fewer words carry too little to ask about (headings, link lists). Default 30. */
  minWords?: number;
};

const PAGE = 1000;

/**
 * Every readable chunk in a seeded random order, fetched lazily: positions are shuffled from the
 * documents' chunk counts, and a document's chunks are read only when one of them comes up.
 */
export async function* sampleChunks(
  store: KnowledgeStore,
  options: SampleChunksOptions = {},
): AsyncGenerator<SourceChunk> {
  const principal = options.principal ?? anonymous;
  const minWords = options.minWords ?? 30;
  const documents: StoredDocument[] = [];
  for (let offset = 0; ; offset += PAGE) {
    const page = await store.listDocuments(principal, { limit: PAGE, offset });
    documents.push(...page);
    if (page.length < PAGE) break;
  }
  if (documents.length === 0) {
    throw new AttuneError(
      `The knowledge base has no documents ${principal === anonymous ? 'that are public' : `that ${principal.user} may read`}.`,
      {
        hint:
          principal === anonymous
            ? 'Ingest documents first (attune ingest <path>), or pass --principal to generate from restricted ones.'
            : 'Ingest documents first: attune ingest <path>',
      },
    );
  }
  const slots: [number, number][] = [];
  for (const [d, doc] of documents.entries()) for (let o = 0; o < doc.chunkCount; o++) slots.push([d, o]);
  const cache = new Map<number, StoredChunk[]>();
  for (const [d, ordinal] of shuffle(slots, options.seed ?? 0)) {
    const doc = documents[d]!;
    let chunks = cache.get(d);
    if (!chunks) {
      chunks = await store.getChunks(doc.id, principal);
      cache.set(d, chunks);
    }
    const chunk = chunks[ordinal];
    if (!chunk || wordCount(chunk.text) < minWords) continue;
    yield {
      chunk,
      document: { id: doc.id, title: doc.title, source: doc.source, version: doc.version },
    };
  }
}

function wordCount(text: string): number {
  return text.match(/[\p{L}\p{N}]+/gu)?.length ?? 0;
}
