import { createHash } from 'node:crypto';
import type { Document } from '../../ingest/document.ts';
import type { EmbeddedChunk } from '../knowledge-store.ts';

export const crashEmbedding = { modelId: 'crash-test-vectors', dimensions: 8 };

/**
 * Document `i` as written in `round`: its chunk count varies with the round, and every chunk's
 * text names the round, so a reader can tell a whole state from a mixture of two.
 */
export function crashDocument(i: number, round: number): { document: Document; chunks: EmbeddedChunk[] } {
  const id = `doc-${i}`;
  const title = `${id} round ${round}`;
  const texts = Array.from({ length: 1 + ((round + i) % 5) }, (_, n) => `${title} chunk ${n} payload`);
  const text = texts.join('\n');
  const document: Document = {
    id,
    source: `/crash/${id}`,
    title,
    text,
    sections: [{ headingPath: [title], text }],
    metadata: { round },
    acl: { public: true, users: [], groups: [] },
    contentHash: createHash('sha256').update(text).digest('hex'),
  };
  const chunks = texts.map((chunkText, ordinal) => ({
    id: `${id}#${round}#${ordinal}`,
    docId: id,
    ordinal,
    text: chunkText,
    headingPath: [title],
    tokenCount: 6,
    vector: Array.from({ length: crashEmbedding.dimensions }, (_, d) => (d === (i + ordinal) % 8 ? 1 : 0.1)),
  }));
  return { document, chunks };
}

export function crashRound(title: string): number {
  return Number(/round (\d+)$/.exec(title)?.[1] ?? 0);
}
