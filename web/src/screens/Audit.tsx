import { useState } from 'react';
import type { Api, AuditRecord } from '../api.ts';
import { href, useLoad } from '../hooks.ts';
import { ms, Show, when } from '../ui.tsx';

const EXCLUDED: Record<string, string> = {
  budget: 'left out: the prompt had no room for it',
  injection: 'left out: it reads like instructions to the model',
};

function AuditRecordView({ record: r }: { record: AuditRecord }) {
  const t = r.timings;
  return (
    <article className="audit-record" aria-label={`audit record ${r.id}`}>
      <h2>{r.question}</h2>
      <dl className="facts">
        <dt>Status</dt>
        <dd>
          <span className={`status ${r.status}`}>{r.status}</span>
          {r.abstainReason ? ` (${r.abstainReason})` : ''}
          {r.cachedFrom ? ` · from the cache (record ${r.cachedFrom})` : ''}
        </dd>
        <dt>When</dt>
        <dd>{when(r.time)}</dd>
        <dt>Asked by</dt>
        <dd>
          {r.principal.user}
          {r.principal.groups.length ? ` (${r.principal.groups.join(', ')})` : ''}
        </dd>
        <dt>Model</dt>
        <dd>
          {r.model.id}
          {r.model.adapter ? ` + adapter ${r.model.adapter.id}` : ''} · {r.mode} · k {r.parameters.k}
          {r.parameters.rerank ? ' · reranked' : ''}
        </dd>
        <dt>Knowledge base</dt>
        <dd>version {r.kbVersion ?? '–'}</dd>
        <dt>Prompt</dt>
        <dd>
          {r.prompt.tokens} tokens of a {r.prompt.contextSize}-token context ({r.prompt.reservedAnswerTokens}{' '}
          kept for the answer)
        </dd>
        <dt>Usage</dt>
        <dd>
          {r.usage.inputTokens} in, {r.usage.outputTokens} out
        </dd>
        <dt>Groundedness</dt>
        <dd>{r.groundedness.score.toFixed(2)}</dd>
      </dl>
      <h3>Answer</h3>
      <p className="answer-text">{r.answer || <span className="muted">(none)</span>}</p>
      {r.error && (
        <p className="error">
          {r.error.name}: {r.error.message}
        </p>
      )}
      <h3>Timings</h3>
      <div className="table-wrap">
        <table className="compact">
          <caption className="visually-hidden">Timings</caption>
          <thead>
            <tr>
              <th scope="col">Embed</th>
              <th scope="col">Search</th>
              <th scope="col">Rerank</th>
              <th scope="col">Verify</th>
              <th scope="col">First token</th>
              <th scope="col">Generate</th>
              <th scope="col">Total</th>
            </tr>
          </thead>
          <tbody>
            <tr>
              <td>{ms(t.embedMs)}</td>
              <td>{ms(t.searchMs)}</td>
              <td>{ms(t.rerankMs)}</td>
              <td>{ms(t.verifyMs)}</td>
              <td>{ms(t.firstTokenMs)}</td>
              <td>{ms(t.generateMs)}</td>
              <td>{ms(t.totalMs)}</td>
            </tr>
          </tbody>
        </table>
      </div>
      <h3>Retrieved</h3>
      <div className="table-wrap">
        <table>
          <caption className="visually-hidden">What was retrieved, and what was left out and why</caption>
          <thead>
            <tr>
              <th scope="col">Rank</th>
              <th scope="col">Shown as</th>
              <th scope="col">Passage</th>
              <th scope="col">Scores</th>
              <th scope="col">Used</th>
            </tr>
          </thead>
          <tbody>
            {r.evidence.map((e) => (
              <tr key={e.chunkId} className={e.excluded ? 'excluded' : undefined}>
                <td>{e.rank}</td>
                <td>{e.n !== undefined ? `[${e.n}]` : '–'}</td>
                <td>
                  <a href={`${href('documents', e.docId)}?chunk=${encodeURIComponent(e.chunkId)}`}>
                    {e.title || e.docId}
                  </a>
                  {e.location && <div className="muted small">{e.location}</div>}
                  {e.snippet && <div className="small">{e.snippet}</div>}
                </td>
                <td className="small">
                  fused {e.scores.fused.toFixed(4)}
                  {e.scores.dense !== undefined && <> · dense {e.scores.dense.toFixed(3)}</>}
                  {e.scores.text !== undefined && <> · text {e.scores.text.toFixed(3)}</>}
                  {e.scores.rerank !== undefined && <> · rerank {e.scores.rerank.toFixed(3)}</>}
                </td>
                <td>
                  {e.excluded
                    ? (EXCLUDED[e.excluded] ?? e.excluded)
                    : e.n !== undefined
                      ? 'in the prompt'
                      : 'not shown'}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {r.groundedness.sentences.length > 0 && (
        <>
          <h3>Sentences checked</h3>
          <ul className="sentences">
            {r.groundedness.sentences.map((s, i) => (
              // biome-ignore lint/suspicious/noArrayIndexKey: the sentences of one answer, in order
              <li key={i} className={s.supported ? 'supported' : 'unsupported'}>
                <span className="visually-hidden">{s.supported ? 'supported: ' : 'not supported: '}</span>
                {s.text}{' '}
                {s.cited.length ? (
                  <span className="muted">cites {s.cited.map((n) => `[${n}]`).join(' ')}</span>
                ) : null}
              </li>
            ))}
          </ul>
        </>
      )}
      {r.warnings.length > 0 && (
        <>
          <h3>Warnings</h3>
          <ul>
            {r.warnings.map((w) => (
              <li key={w}>{w}</li>
            ))}
          </ul>
        </>
      )}
    </article>
  );
}

/** "Which documents drove this answer": each cited document's text at the record's version. */
function DocumentsAsTheyWere({ api, id }: { api: Api; id: string }) {
  const [loaded] = useLoad(() => api.auditDocuments(id), [api, id]);
  return (
    <Show loaded={loaded}>
      {({ documents }) =>
        documents.length === 0 ? (
          <p className="muted">The answer cited no document.</p>
        ) : (
          <ul className="as-they-were">
            {documents.map((d) => (
              <li key={d.docId}>
                <details>
                  <summary>
                    {d.docId} at version {d.version}
                  </summary>
                  {d.text !== undefined ? (
                    <p className="chunk-text">{d.text}</p>
                  ) : (
                    <p className="muted">Not readable any more by the key that asked.</p>
                  )}
                </details>
              </li>
            ))}
          </ul>
        )
      }
    </Show>
  );
}

export function AuditRecordPage({ api, id }: { api: Api; id: string }) {
  const [record] = useLoad(() => api.auditRecord(id), [api, id]);
  const [showDocuments, setShowDocuments] = useState(false);
  return (
    <div className="page">
      <p>
        <a href={href('audit')}>← All audit records</a>
      </p>
      <Show loaded={record}>{(r) => <AuditRecordView record={r} />}</Show>
      <h3>Documents as they were</h3>
      {showDocuments ? (
        <DocumentsAsTheyWere api={api} id={id} />
      ) : (
        <button type="button" className="secondary" onClick={() => setShowDocuments(true)}>
          Show the cited documents as they were when answered
        </button>
      )}
    </div>
  );
}

export function Audit({ api }: { api: Api }) {
  const [records, reload] = useLoad(() => api.audit(), [api]);
  return (
    <div className="page">
      <div className="page-head">
        <h1>Audit</h1>
        <button type="button" className="secondary" onClick={reload}>
          Refresh
        </button>
      </div>
      <p className="muted">Your own answers, newest first (all answers for an admin key).</p>
      <Show loaded={records}>
        {({ records: list }) =>
          list.length === 0 ? (
            <p className="muted">No answers recorded yet.</p>
          ) : (
            <div className="table-wrap">
              <table>
                <caption className="visually-hidden">Audit records</caption>
                <thead>
                  <tr>
                    <th scope="col">When</th>
                    <th scope="col">Question</th>
                    <th scope="col">Status</th>
                    <th scope="col">Who</th>
                    <th scope="col">Total</th>
                  </tr>
                </thead>
                <tbody>
                  {list.map((r) => (
                    <tr key={r.id}>
                      <td>{when(r.time)}</td>
                      <td>
                        <a href={href('audit', r.id)}>{r.question}</a>
                      </td>
                      <td>
                        <span className={`status ${r.status}`}>{r.status}</span>
                      </td>
                      <td>{r.principal.user}</td>
                      <td>{ms(r.timings.totalMs)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )
        }
      </Show>
    </div>
  );
}
