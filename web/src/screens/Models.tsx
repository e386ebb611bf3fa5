import type { Api } from '../api.ts';
import { useLoad } from '../hooks.ts';
import { bytes, Show } from '../ui.tsx';

export function Models({ api }: { api: Api }) {
  const [models] = useLoad(() => api.models(), [api]);
  return (
    <div className="page">
      <h1>Models</h1>
      <p className="muted">
        Every model Attune knows; pull one with <code>attune models pull &lt;name&gt;</code>.
      </p>
      <Show loaded={models}>
        {({ models: list }) => (
          <div className="table-wrap">
            <table>
              <caption className="visually-hidden">Model catalog</caption>
              <thead>
                <tr>
                  <th scope="col">Model</th>
                  <th scope="col">Task</th>
                  <th scope="col">Format</th>
                  <th scope="col">Size</th>
                  <th scope="col">Licence</th>
                  <th scope="col">Cached</th>
                </tr>
              </thead>
              <tbody>
                {list.map((m) => (
                  <tr key={m.name}>
                    <td>
                      {m.name}
                      {m.default && <span className="label public"> default</span>}
                    </td>
                    <td>{m.task}</td>
                    <td>{m.format}</td>
                    <td>{bytes(m.sizeBytes)}</td>
                    <td>{m.licence}</td>
                    <td>{m.present ? 'yes' : 'no'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Show>
    </div>
  );
}
