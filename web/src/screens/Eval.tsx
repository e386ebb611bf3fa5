import type { Api } from '../api.ts';
import { href, useLoad } from '../hooks.ts';
import { Show, when } from '../ui.tsx';

/**
 * The report is self-contained HTML with its own scripts (filters, charts). It runs in a sandbox
 * without same-origin rights, so it can neither read the key nor call the API.
 */
export function EvalReport({ api, id }: { api: Api; id: string }) {
  const [html] = useLoad(() => api.evalReport(id), [api, id]);
  return (
    <div className="page wide">
      <p>
        <a href={href('eval')}>← All eval runs</a>
      </p>
      <h1>Eval report: {id}</h1>
      <Show loaded={html}>
        {(text) => (
          <iframe className="report" title={`eval report ${id}`} sandbox="allow-scripts" srcDoc={text} />
        )}
      </Show>
    </div>
  );
}

export function Eval({ api }: { api: Api }) {
  const [runs] = useLoad(() => api.evalRuns(), [api]);
  return (
    <div className="page">
      <h1>Eval runs</h1>
      <p className="muted">
        Reports hold questions and answers across every reader's documents: admin keys only.
      </p>
      <Show loaded={runs}>
        {({ runs: list }) =>
          list.length === 0 ? (
            <p className="muted">
              No eval runs yet. Run one with <code>attune eval</code>.
            </p>
          ) : (
            <div className="table-wrap">
              <table>
                <caption className="visually-hidden">Eval runs</caption>
                <thead>
                  <tr>
                    <th scope="col">Run</th>
                    <th scope="col">When</th>
                    <th scope="col">Strategies</th>
                    <th scope="col">Questions</th>
                  </tr>
                </thead>
                <tbody>
                  {list.map((r) => (
                    <tr key={r.id}>
                      <td>
                        <a href={href('eval', r.id)}>{r.id}</a>
                      </td>
                      <td>{when(r.createdAt)}</td>
                      <td>{r.strategies?.join(', ') ?? '–'}</td>
                      <td>{r.questions ?? r.testSet?.questions ?? '–'}</td>
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
