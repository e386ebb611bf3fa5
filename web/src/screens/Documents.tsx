import { type FormEvent, useId, useState } from 'react';
import { type Api, ApiError, describeError, type SyncSummary } from '../api.ts';
import { href, useLoad } from '../hooks.ts';
import { AclLabels, Show, when } from '../ui.tsx';

type Upload = {
  name: string;
  progress: number;
  state: 'sending' | 'stored' | 'failed';
  summary?: SyncSummary;
  message?: string;
  failures?: { source: string; id?: string; reason: string }[];
};

const names = (text: string) =>
  text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

function UploadForm({ api, onStored }: { api: Api; onStored: () => void }) {
  const [files, setFiles] = useState<File[]>([]);
  const [groups, setGroups] = useState('');
  const [users, setUsers] = useState('');
  const [isPublic, setPublic] = useState(false);
  const [uploads, setUploads] = useState<Upload[]>([]);
  const ids = { file: useId(), groups: useId(), users: useId(), pub: useId(), help: useId() };
  const sending = uploads.some((u) => u.state === 'sending');

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = event.currentTarget;
    const batch = files;
    if (!batch.length) return;
    const start = uploads.length;
    setUploads((all) => [
      ...all,
      ...batch.map((f) => ({ name: f.name, progress: 0, state: 'sending' as const })),
    ]);
    const set = (i: number, change: Partial<Upload>) =>
      setUploads((all) => all.map((u, j) => (j === start + i ? { ...u, ...change } : u)));
    // One file at a time: the server embeds each upload before it answers, on shared cores.
    for (const [i, file] of batch.entries()) {
      try {
        const summary = await api.upload(
          file,
          { public: isPublic, groups: names(groups), users: names(users) },
          (progress) => set(i, { progress }),
        );
        set(i, { state: 'stored', summary, progress: 1, failures: summary.failures });
        onStored();
      } catch (error) {
        set(i, {
          state: 'failed',
          message: describeError(error),
          ...(error instanceof ApiError && error.problem.failures
            ? { failures: error.problem.failures }
            : {}),
        });
      }
    }
    form.reset();
    setFiles([]);
  };

  return (
    <section className="card" aria-labelledby={`${ids.file}-h`}>
      <h2 id={`${ids.file}-h`}>Upload</h2>
      <form className="upload" onSubmit={submit}>
        <div className="field">
          <label htmlFor={ids.file}>Files</label>
          <input
            id={ids.file}
            type="file"
            multiple
            onChange={(e) => setFiles(Array.from(e.target.files ?? []))}
            aria-describedby={ids.help}
          />
          <p id={ids.help} className="muted small">
            Markdown, text, HTML, PDF, DOCX, CSV, JSON. Uploading needs an admin key. Without groups, users or
            public, only admins may read it.
          </p>
        </div>
        <div className="field">
          <label htmlFor={ids.groups}>Groups (comma-separated)</label>
          <input
            id={ids.groups}
            value={groups}
            onChange={(e) => setGroups(e.target.value)}
            placeholder="hr, finance"
          />
        </div>
        <div className="field">
          <label htmlFor={ids.users}>Users (comma-separated)</label>
          <input
            id={ids.users}
            value={users}
            onChange={(e) => setUsers(e.target.value)}
            placeholder="ann, bob"
          />
        </div>
        <div className="field checkbox">
          <input
            id={ids.pub}
            type="checkbox"
            checked={isPublic}
            onChange={(e) => setPublic(e.target.checked)}
          />
          <label htmlFor={ids.pub}>Public: everyone with a key may read it</label>
        </div>
        <button type="submit" disabled={sending || files.length === 0}>
          {sending ? 'Uploading…' : 'Upload'}
        </button>
      </form>
      {uploads.length > 0 && (
        <ul className="uploads" aria-label="uploads">
          {uploads.map((u, i) => (
            // biome-ignore lint/suspicious/noArrayIndexKey: uploads are only appended
            <li key={i} className={`upload-row ${u.state}`} data-state={u.state}>
              <span className="upload-name">{u.name}</span>
              <progress max={1} value={u.progress} aria-label={`${u.name} upload progress`} />
              <span className="upload-state" role="status">
                {u.state === 'sending' &&
                  (u.progress < 1 ? `${Math.round(u.progress * 100)}%` : 'sent; indexing…')}
                {u.state === 'stored' &&
                  u.summary &&
                  `stored: ${u.summary.added} added, ${u.summary.changed} changed, ${u.summary.unchanged} unchanged (version ${u.summary.version ?? '–'})`}
                {u.state === 'failed' && <span className="error">{u.message}</span>}
              </span>
              {u.failures && u.failures.length > 0 && (
                <ul className="failures" aria-label={`${u.name} failures`}>
                  {u.failures.map((f) => (
                    <li key={`${f.source}:${f.reason}`}>
                      <code>{f.id ?? f.source}</code>: {f.reason}
                    </li>
                  ))}
                </ul>
              )}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

export function Documents({ api }: { api: Api }) {
  const [documents, reload] = useLoad(() => api.documents(), [api]);
  const [versions, reloadVersions] = useLoad(() => api.versions(), [api]);
  return (
    <div className="page">
      <h1>Documents</h1>
      <UploadForm
        api={api}
        onStored={() => {
          reload();
          reloadVersions();
        }}
      />
      <section className="card" aria-labelledby="library-h">
        <h2 id="library-h">Library</h2>
        <Show loaded={documents}>
          {({ documents: docs }) =>
            docs.length === 0 ? (
              <p className="muted">No documents you may read yet.</p>
            ) : (
              <div className="table-wrap">
                <table>
                  <caption className="visually-hidden">Documents this key may read</caption>
                  <thead>
                    <tr>
                      <th scope="col">Document</th>
                      <th scope="col">Who may read it</th>
                      <th scope="col">Version</th>
                      <th scope="col">Passages</th>
                      <th scope="col">Updated</th>
                    </tr>
                  </thead>
                  <tbody>
                    {docs.map((d) => (
                      <tr key={d.id}>
                        <td>
                          <a href={href('documents', d.id)}>{d.title || d.id}</a>
                          <div className="muted small">{d.id}</div>
                        </td>
                        <td>
                          <AclLabels acl={d.acl} />
                        </td>
                        <td>{d.version}</td>
                        <td>{d.chunkCount}</td>
                        <td>{when(d.updatedAt)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )
          }
        </Show>
      </section>
      <section className="card" aria-labelledby="versions-h">
        <h2 id="versions-h">Versions</h2>
        <Show loaded={versions}>
          {({ versions: list }) =>
            list.length === 0 ? (
              <p className="muted">No versions yet.</p>
            ) : (
              <div className="table-wrap">
                <table>
                  <caption className="visually-hidden">Knowledge-base versions, newest first</caption>
                  <thead>
                    <tr>
                      <th scope="col">Version</th>
                      <th scope="col">When</th>
                      <th scope="col">Added</th>
                      <th scope="col">Changed</th>
                      <th scope="col">Removed</th>
                      <th scope="col">Failed</th>
                      <th scope="col">Note</th>
                    </tr>
                  </thead>
                  <tbody>
                    {[...list].reverse().map((v) => (
                      <tr key={v.number}>
                        <td>{v.number}</td>
                        <td>{when(v.createdAt)}</td>
                        <td>{v.summary?.added ?? '—'}</td>
                        <td>{v.summary?.changed ?? '—'}</td>
                        <td>{v.summary?.removed ?? '—'}</td>
                        <td>{v.summary?.failed ?? '—'}</td>
                        <td>{v.note ?? ''}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )
          }
        </Show>
      </section>
    </div>
  );
}
