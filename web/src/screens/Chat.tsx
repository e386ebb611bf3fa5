import { type CSSProperties, type FormEvent, useId, useRef, useState } from 'react';
import type { Answer, AnswerSource, Api } from '../api.ts';
import { describeError } from '../api.ts';
import { href } from '../hooks.ts';
import { ms } from '../ui.tsx';
import { DocumentView } from './DocumentView.tsx';

type Turn = {
  id: number;
  question: string;
  status: 'queued' | 'drafting' | 'done' | 'error';
  waitedMs?: number;
  sources: AnswerSource[];
  draft: string;
  answer?: Answer;
  error?: string;
};

/** What the source panel shows: a chunk of a document, and the text of it that was cited. */
type Opened = { docId: string; chunkId: string; quote?: string; version?: number };

const ABSTAIN_REASONS: Record<string, string> = {
  'low-retrieval-confidence': 'nothing in the knowledge base matched the question closely enough',
  'not-grounded': 'the draft said things its sources do not support',
  'model-declined': 'the model found no answer in the sources',
  'no-evidence': 'no document you may read holds anything on this',
  degenerate: 'the model produced no usable text',
};

/** The sentence of the answer that a citation marker ends: the text it is the source for. */
function sentenceBefore(text: string, index: number): string {
  const before = text.slice(0, index).replace(/(\s*\[\d+\])+\s*$/, '');
  const pieces = before.split(/(?<=[.!?])\s+/);
  return (pieces[pieces.length - 1] ?? '').trim();
}

function Citation({
  n,
  source,
  onOpen,
}: {
  n: number;
  source: AnswerSource | undefined;
  onOpen: () => void;
}) {
  const tip = useId();
  // Escape hides the passage until the pointer or focus leaves (WCAG 1.4.13: dismissible).
  const [dismissed, setDismissed] = useState(false);
  const [place, setPlace] = useState<CSSProperties>({});
  // Placed against the window when shown: centred on the citation, kept on screen at any width.
  const placeTip = (button: HTMLElement) => {
    const r = button.getBoundingClientRect();
    const width = Math.min(352, window.innerWidth - 16);
    const left = Math.max(8, Math.min(r.left + r.width / 2 - width / 2, window.innerWidth - width - 8));
    setPlace(
      r.top > 160
        ? { left, width, bottom: window.innerHeight - r.top + 6 }
        : { left, width, top: r.bottom + 6 },
    );
  };
  return (
    <span className={dismissed ? 'cite dismissed' : 'cite'}>
      <button
        type="button"
        className="cite-button"
        aria-describedby={tip}
        aria-label={`source ${n}${source ? `: ${source.title}` : ''}`}
        onClick={onOpen}
        onMouseEnter={(e) => placeTip(e.currentTarget)}
        onFocus={(e) => placeTip(e.currentTarget)}
        onMouseLeave={() => setDismissed(false)}
        onBlur={() => setDismissed(false)}
        onKeyDown={(e) => {
          if (e.key === 'Escape') setDismissed(true);
        }}
        disabled={!source}
      >
        [{n}]
      </button>
      <span role="tooltip" id={tip} className="tip" style={place}>
        {source ? (
          <>
            <strong>{source.title}</strong>
            {source.location && <span className="where"> · {source.location}</span>}
            <span className="tip-text">{source.snippet}</span>
          </>
        ) : (
          'This source is not available.'
        )}
      </span>
    </span>
  );
}

/** The checked answer with each [n] as a citation that shows its passage. */
function AnswerText({ answer, onOpen }: { answer: Answer; onOpen: (o: Opened) => void }) {
  const byN = new Map(answer.sources.map((s) => [s.n, s]));
  for (const c of answer.citations)
    if (!byN.has(c.n))
      byN.set(c.n, { ...c, location: '', snippet: '', version: 0, score: 0 } satisfies AnswerSource);
  const parts: (string | { n: number; at: number })[] = [];
  const re = /\[(\d+)\]/g;
  let last = 0;
  for (let m = re.exec(answer.answer); m; m = re.exec(answer.answer)) {
    parts.push(answer.answer.slice(last, m.index));
    parts.push({ n: Number(m[1]), at: m.index });
    last = m.index + m[0].length;
  }
  parts.push(answer.answer.slice(last));
  return (
    <p className="answer-text">
      {parts.map((p, i) => {
        if (typeof p === 'string') return p;
        const source = byN.get(p.n);
        return (
          <Citation
            // biome-ignore lint/suspicious/noArrayIndexKey: the parts of one fixed text, in order
            key={i}
            n={p.n}
            source={source}
            onOpen={() =>
              source &&
              onOpen({
                docId: source.docId,
                chunkId: source.chunkId,
                quote: sentenceBefore(answer.answer, p.at),
              })
            }
          />
        );
      })}
    </p>
  );
}

function Abstention({ answer, onOpen }: { answer: Answer; onOpen: (o: Opened) => void }) {
  const closest = answer.closest;
  const reason = answer.abstainReason ? (ABSTAIN_REASONS[answer.abstainReason] ?? answer.abstainReason) : '';
  return (
    <div className="abstained" role="status">
      <p className="abstained-head">
        <strong>Attune did not answer</strong>
        {reason && <>: {reason}.</>}
      </p>
      {answer.answer && <p className="muted">{answer.answer}</p>}
      {closest && (
        <figure className="closest">
          <figcaption>
            Closest passage, <em>not an answer</em> — {closest.title}
          </figcaption>
          <blockquote>
            {closest.passage.slice(0, closest.start)}
            <mark>{closest.passage.slice(closest.start, closest.end)}</mark>
            {closest.passage.slice(closest.end)}
          </blockquote>
          <button
            type="button"
            className="secondary"
            onClick={() =>
              onOpen({ docId: closest.docId, chunkId: closest.chunkId, quote: closest.sentence })
            }
          >
            Open in its document
          </button>
        </figure>
      )}
    </div>
  );
}

function TurnView({ turn, onOpen: openNow }: { turn: Turn; onOpen: (o: Opened) => void }) {
  const a = turn.answer;
  // A source opens as it was when this answer read it, not as it may read now.
  const onOpen = (o: Opened) => openNow(a?.kbVersion !== undefined ? { ...o, version: a.kbVersion } : o);
  return (
    <li className="turn" data-status={turn.status}>
      <p className="question">
        <span className="visually-hidden">You asked: </span>
        {turn.question}
      </p>
      <div
        className="reply"
        aria-live="polite"
        aria-busy={turn.status === 'queued' || turn.status === 'drafting'}
      >
        {turn.status === 'queued' && <p className="muted">Waiting for the generator…</p>}
        {turn.status === 'drafting' && (
          <>
            <p className="muted small">Drafting — unchecked until the sources confirm it.</p>
            <p className="draft" data-testid="draft">
              {turn.draft || '…'}
            </p>
          </>
        )}
        {turn.status === 'error' && (
          <p className="error" role="alert">
            {turn.error}
          </p>
        )}
        {a && !a.abstained && <AnswerText answer={a} onOpen={onOpen} />}
        {a?.abstained && <Abstention answer={a} onOpen={onOpen} />}
        {a && (
          <p className="meta small muted">
            {a.cached ? 'from the cache · ' : ''}
            {ms(a.timings.totalMs)} · knowledge base v{a.kbVersion ?? '–'} ·{' '}
            <a href={href('audit', a.auditId)}>audit record</a>
          </p>
        )}
        {turn.sources.length > 0 && (
          <details className="sources">
            <summary>
              {turn.sources.length} source{turn.sources.length === 1 ? '' : 's'} retrieved
            </summary>
            <ol>
              {turn.sources.map((s) => (
                <li key={s.n} value={s.n}>
                  <button
                    type="button"
                    className="link"
                    onClick={() => onOpen({ docId: s.docId, chunkId: s.chunkId })}
                  >
                    {s.title}
                  </button>
                  {s.location && <span className="muted"> · {s.location}</span>}
                  <span className="muted small"> score {s.score.toFixed(3)}</span>
                </li>
              ))}
            </ol>
          </details>
        )}
      </div>
    </li>
  );
}

export function Chat({ api }: { api: Api }) {
  const [turns, setTurns] = useState<Turn[]>([]);
  const [question, setQuestion] = useState('');
  const [opened, setOpened] = useState<Opened | undefined>();
  // Where focus goes back to when the source closes: the citation (or link) that opened it.
  const opener = useRef<HTMLElement | null>(null);
  const open = (o: Opened) => {
    opener.current = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    setOpened(o);
  };
  const close = () => {
    setOpened(undefined);
    opener.current?.focus();
  };
  const busy = turns.some((t) => t.status === 'queued' || t.status === 'drafting');
  const nextId = useRef(1);
  const inFlight = useRef<AbortController | undefined>(undefined);
  const inputId = useId();

  const update = (id: number, change: (t: Turn) => Turn) =>
    setTurns((all) => all.map((t) => (t.id === id ? change(t) : t)));

  const ask = async (event: FormEvent) => {
    event.preventDefault();
    const q = question.trim();
    if (!q || busy) return;
    const id = nextId.current++;
    setTurns((all) => [...all, { id, question: q, status: 'queued', sources: [], draft: '' }]);
    setQuestion('');
    const controller = new AbortController();
    inFlight.current = controller;
    try {
      const answer = await api.ask(
        q,
        {
          onQueued: (waitedMs) => update(id, (t) => ({ ...t, waitedMs, status: 'drafting' })),
          onSources: (sources) => update(id, (t) => ({ ...t, sources })),
          onDraft: (delta) => update(id, (t) => ({ ...t, status: 'drafting', draft: t.draft + delta })),
        },
        controller.signal,
      );
      update(id, (t) => ({ ...t, status: 'done', answer, sources: answer.sources }));
    } catch (error) {
      const message = controller.signal.aborted ? 'Stopped: no answer was given.' : describeError(error);
      update(id, (t) => ({ ...t, status: 'error', error: message }));
    } finally {
      inFlight.current = undefined;
    }
  };

  return (
    <div className={opened ? 'chat with-source' : 'chat'}>
      <section className="conversation" aria-label="conversation">
        <h1 className="visually-hidden">Chat</h1>
        {turns.length === 0 && (
          <p className="muted intro">
            Ask a question about your documents. Answers cite their sources as [n]: hover or focus one to read
            the passage, select it to open the source beside the answer.
          </p>
        )}
        <ol className="turns">
          {turns.map((t) => (
            <TurnView key={t.id} turn={t} onOpen={open} />
          ))}
        </ol>
        <form className="ask" onSubmit={ask}>
          <label htmlFor={inputId} className="visually-hidden">
            Question
          </label>
          <textarea
            id={inputId}
            value={question}
            rows={2}
            placeholder="Ask about your documents…"
            onChange={(e) => setQuestion(e.target.value)}
            onKeyDown={(e) => {
              if (e.key === 'Enter' && !e.shiftKey) {
                e.preventDefault();
                e.currentTarget.form?.requestSubmit();
              }
            }}
          />
          {busy ? (
            <button type="button" className="secondary" onClick={() => inFlight.current?.abort()}>
              Stop
            </button>
          ) : (
            <button type="submit" disabled={!question.trim()}>
              Ask
            </button>
          )}
        </form>
      </section>
      {opened && (
        <aside
          className="source-panel"
          aria-label="source"
          onKeyDown={(e) => {
            if (e.key === 'Escape') close();
          }}
        >
          <DocumentView
            key={`${opened.docId}#${opened.chunkId}#${opened.version}#${opened.quote ?? ''}`}
            api={api}
            docId={opened.docId}
            chunkId={opened.chunkId}
            quote={opened.quote}
            version={opened.version}
            onClose={close}
          />
        </aside>
      )}
    </div>
  );
}
