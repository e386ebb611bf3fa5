import { useEffect, useState } from 'react';
import { type Api, ApiError, type FinetuneEvent, type FinetuneJob } from '../api.ts';
import { useLoad } from '../hooks.ts';
import { Show, when } from '../ui.tsx';

type Point = { step: number; loss: number };

/** The loss curve as an SVG polyline: training loss per step, validation loss as dots. */
function LossChart({ steps, evals, total }: { steps: Point[]; evals: Point[]; total: number }) {
  const all = [...steps, ...evals];
  if (all.length === 0) return <p className="muted">No steps yet.</p>;
  const W = 560;
  const H = 220;
  const pad = 36;
  const maxStep = Math.max(total, ...all.map((p) => p.step), 1);
  const losses = all.map((p) => p.loss);
  const lo = Math.min(...losses);
  const hi = Math.max(...losses);
  const span = hi - lo || 1;
  const x = (s: number) => pad + ((W - 2 * pad) * s) / maxStep;
  const y = (l: number) => H - pad - ((H - 2 * pad) * (l - lo)) / span;
  return (
    <svg
      viewBox={`0 0 ${W} ${H}`}
      role="img"
      aria-label={`Loss over ${steps.length} steps`}
      className="loss-chart"
    >
      <line x1={pad} y1={H - pad} x2={W - pad} y2={H - pad} stroke="currentColor" opacity="0.4" />
      <line x1={pad} y1={pad} x2={pad} y2={H - pad} stroke="currentColor" opacity="0.4" />
      <text x={pad} y={pad - 8} fontSize="11">
        {hi.toFixed(3)}
      </text>
      <text x={pad} y={H - pad + 14} fontSize="11">
        {lo.toFixed(3)} · step 0
      </text>
      <text x={W - pad} y={H - pad + 14} fontSize="11" textAnchor="end">
        step {maxStep}
      </text>
      <polyline
        fill="none"
        stroke="#0969da"
        strokeWidth="2"
        points={steps.map((p) => `${x(p.step)},${y(p.loss)}`).join(' ')}
      />
      {evals.map((p) => (
        <circle key={`e${p.step}`} cx={x(p.step)} cy={y(p.loss)} r="4" fill="#bf3989">
          <title>{`validation loss ${p.loss.toFixed(3)} at step ${p.step}`}</title>
        </circle>
      ))}
    </svg>
  );
}

function JobView({ api, job }: { api: Api; job: FinetuneJob }) {
  const [events, setEvents] = useState<FinetuneEvent[]>([]);
  const [final, setFinal] = useState<FinetuneJob | undefined>();
  const [error, setError] = useState<string | undefined>();
  useEffect(() => {
    const controller = new AbortController();
    setEvents([]);
    setFinal(undefined);
    api
      .finetuneEvents(job.id, (event) => setEvents((seen) => [...seen, event]), controller.signal)
      .then(setFinal)
      .catch((e: unknown) => {
        if (!controller.signal.aborted) setError(e instanceof ApiError ? e.problem.detail : String(e));
      });
    return () => controller.abort();
  }, [api, job.id]);
  const steps = events.flatMap((e) => (e.type === 'step' ? [{ step: e.step ?? 0, loss: e.loss ?? 0 }] : []));
  const evals = events.flatMap((e) =>
    e.type === 'eval' ? [{ step: e.step ?? 0, loss: e.evalLoss ?? 0 }] : [],
  );
  const started = events.find((e) => e.type === 'started');
  const last = events.filter((e) => e.type === 'step').at(-1);
  const status = final?.status ?? (events.length ? 'running' : job.status);
  return (
    <section aria-labelledby="job-title" className="panel">
      <h2 id="job-title">
        {job.id} <span className="label">{status}</span>
      </h2>
      <p className="muted">
        base {job.baseModel.name} · {job.dataset.examples} examples · created {when(job.createdAt)}
        {last?.tokensPerSecond ? ` · ${Math.round(last.tokensPerSecond)} tokens/s` : ''}
      </p>
      <LossChart steps={steps} evals={evals} total={started?.totalSteps ?? job.progress?.totalSteps ?? 0} />
      <p aria-live="polite">
        {last
          ? `step ${last.step} of ${last.totalSteps}, loss ${last.loss?.toFixed(3)}`
          : 'waiting for the first step'}
        {final?.adapterId ? ` — adapter ${final.adapterId}` : ''}
        {final?.error ? ` — ${final.error.split('\n')[0]}` : ''}
      </p>
      {status === 'running' && (
        <button
          type="button"
          onClick={() => api.cancelFinetune(job.id).catch((e: unknown) => setError(String(e)))}
        >
          Cancel (the worker saves a checkpoint)
        </button>
      )}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}

/** Fine-tuning jobs (admin keys): the list, and one job's loss curve drawn live from its events. */
export function FineTune({ api }: { api: Api }) {
  const [jobs] = useLoad(() => api.finetuneJobs(), [api]);
  const [selected, setSelected] = useState<string | undefined>();
  return (
    <div className="page">
      <h1>Fine-tune jobs</h1>
      <p className="muted">
        Start one with <code>attune finetune --data file.jsonl</code> or <code>POST /api/finetune/jobs</code>.
      </p>
      <Show loaded={jobs}>
        {({ jobs: list }) => {
          const job = list.find((j) => j.id === selected) ?? list[0];
          return list.length === 0 ? (
            <p>No fine-tuning jobs yet.</p>
          ) : (
            <>
              <div className="table-wrap">
                <table>
                  <caption className="visually-hidden">Fine-tuning jobs</caption>
                  <thead>
                    <tr>
                      <th scope="col">Job</th>
                      <th scope="col">Status</th>
                      <th scope="col">Base model</th>
                      <th scope="col">Examples</th>
                      <th scope="col">Created</th>
                    </tr>
                  </thead>
                  <tbody>
                    {list.map((j) => (
                      <tr key={j.id} aria-selected={j.id === job?.id}>
                        <td>
                          <button type="button" className="link" onClick={() => setSelected(j.id)}>
                            {j.id}
                          </button>
                        </td>
                        <td>{j.status}</td>
                        <td>{j.baseModel.name}</td>
                        <td>{j.dataset.examples}</td>
                        <td>{when(j.createdAt)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              {job && <JobView api={api} job={job} />}
            </>
          );
        }}
      </Show>
    </div>
  );
}
