import { useEffect, useId, useRef } from 'react';
import type { Api, StoredChunk } from '../api.ts';
import { href, useLoad } from '../hooks.ts';
import { AclLabels, Show } from '../ui.tsx';

const WORD = /[\p{L}\p{N}]+/gu;

function words(text: string): Set<string> {
  return new Set((text.toLowerCase().match(WORD) ?? []).filter((w) => w.length > 2));
}

/** Sentence spans of a chunk's text, ends included, so slices put the text back together. */
function sentences(text: string): [number, number][] {
  const spans: [number, number][] = [];
  const re = /[^.!?\n]+(?:[.!?]+|\n+|$)\s*/g;
  for (const m of text.matchAll(re)) if (m[0].length) spans.push([m.index, m.index + m[0].length]);
  return spans;
}

/**
 * Where in the chunk the cited text is: the exact quote when the chunk holds it, else the sentence
 * sharing most words with it (an answer paraphrases its source).
 */
export function citedSpan(text: string, quote: string | undefined): [number, number] | undefined {
  const q = quote?.replace(/\[\d+\]/g, '').trim();
  if (!q) return undefined;
  const exact = text.indexOf(q);
  if (exact >= 0) return [exact, exact + q.length];
  const wanted = words(q);
  let best: [number, number] | undefined;
  let bestScore = 0;
  for (const [s, e] of sentences(text)) {
    const have = words(text.slice(s, e));
    let shared = 0;
    for (const w of wanted) if (have.has(w)) shared++;
    if (shared > bestScore) {
      bestScore = shared;
      best = [s, e];
    }
  }
  return best;
}

function Chunk({ chunk, cited, quote }: { chunk: StoredChunk; cited: boolean; quote: string | undefined }) {
  const ref = useRef<HTMLElement>(null);
  useEffect(() => {
    if (cited && ref.current) {
      ref.current.scrollIntoView?.({ block: 'center' });
      ref.current.focus({ preventScroll: true });
    }
  }, [cited]);
  const where = [...chunk.headingPath, ...(chunk.page !== undefined ? [`page ${chunk.page}`] : [])].join(
    ' › ',
  );
  const span = cited ? citedSpan(chunk.text, quote) : undefined;
  const body = span ? (
    <>
      {chunk.text.slice(0, span[0])}
      <mark className="cited-text" data-testid="cited-text">
        {chunk.text.slice(span[0], span[1])}
      </mark>
      {chunk.text.slice(span[1])}
    </>
  ) : (
    chunk.text
  );
  return (
    <section
      ref={ref}
      className={cited ? 'chunk cited' : 'chunk'}
      data-chunk-id={chunk.id}
      aria-label={cited ? `cited passage${where ? `: ${where}` : ''}` : undefined}
      aria-current={cited ? 'true' : undefined}
      tabIndex={cited ? -1 : undefined}
    >
      {where && <p className="where">{where}</p>}
      <p className="chunk-text">{body}</p>
    </section>
  );
}

/** A document's text, chunk by chunk, with one chunk (and the cited text inside it) highlighted. */
export function DocumentView({
  api,
  docId,
  chunkId,
  quote,
  version,
  onClose,
}: {
  api: Api;
  docId: string;
  chunkId?: string | undefined;
  quote?: string | undefined;
  /** The knowledge-base version to show it at (an answer's); default the current one. */
  version?: number | undefined;
  onClose?: () => void;
}) {
  const [loaded] = useLoad(() => api.document(docId, version), [api, docId, version]);
  return (
    <article className="document" aria-label={`source: ${docId}`}>
      <Show loaded={loaded}>
        {({ document, chunks }) => (
          <>
            <header className="document-head">
              <div>
                <h2>{document.title || document.id}</h2>
                <p className="muted">
                  {document.id} · version {document.version} · {document.chunkCount} passages
                  {version !== undefined && <> · as it was at knowledge-base version {version}</>}
                </p>
                <AclLabels acl={document.acl} />
              </div>
              {onClose && (
                <button type="button" className="secondary" onClick={onClose}>
                  Close source
                </button>
              )}
            </header>
            {chunkId && !chunks.some((c) => c.id === chunkId) && (
              <p className="warning" role="status">
                The cited passage is not in this version of the document; it has changed since.
              </p>
            )}
            <div className="chunks">
              {chunks.map((c) => (
                <Chunk
                  key={c.id}
                  chunk={c}
                  cited={c.id === chunkId}
                  quote={c.id === chunkId ? quote : undefined}
                />
              ))}
            </div>
          </>
        )}
      </Show>
    </article>
  );
}

/** "What did this say then": the document page at any knowledge-base version, kept in the link. */
export function VersionPicker({ api, docId, query }: { api: Api; docId: string; query: URLSearchParams }) {
  const [versions] = useLoad(() => api.versions(), [api]);
  const id = useId();
  if (versions.state !== 'done') return null;
  const go = (value: string) => {
    const next = new URLSearchParams(query);
    if (value) next.set('version', value);
    else next.delete('version');
    const q = next.toString();
    window.location.hash = `${href('documents', docId)}${q ? `?${q}` : ''}`;
  };
  return (
    <div className="field inline">
      <label htmlFor={id}>Show at version</label>
      <select id={id} value={query.get('version') ?? ''} onChange={(e) => go(e.target.value)}>
        <option value="">current</option>
        {[...versions.value.versions].reverse().map((v) => (
          <option key={v.number} value={String(v.number)}>
            {v.number}
            {v.note ? ` — ${v.note}` : ''}
          </option>
        ))}
      </select>
    </div>
  );
}
