import type { ReactNode } from 'react';
import type { Loaded } from './hooks.ts';

/** Loading, error (the server's problem detail, announced) or the content. */
export function Show<T>({ loaded, children }: { loaded: Loaded<T>; children: (value: T) => ReactNode }) {
  if (loaded.state === 'loading')
    return (
      <p className="muted" aria-busy="true">
        Loading…
      </p>
    );
  if (loaded.state === 'error')
    return (
      <p className="error" role="alert">
        {loaded.message}
      </p>
    );
  return <>{children(loaded.value)}</>;
}

export function aclLabel(acl: { public: boolean; users: string[]; groups: string[] }): string[] {
  if (acl.public) return ['public'];
  const labels = [...acl.groups.map((g) => `group: ${g}`), ...acl.users.map((u) => `user: ${u}`)];
  return labels.length ? labels : ['admins only'];
}

export function AclLabels({ acl }: { acl: { public: boolean; users: string[]; groups: string[] } }) {
  return (
    <ul className="labels" aria-label="who may read it">
      {aclLabel(acl).map((l) => (
        <li key={l} className={l === 'public' ? 'label public' : 'label'}>
          {l}
        </li>
      ))}
    </ul>
  );
}

export function ms(value: number | undefined): string {
  return value === undefined
    ? '–'
    : value >= 1000
      ? `${(value / 1000).toFixed(2)} s`
      : `${Math.round(value)} ms`;
}

export function bytes(n: number): string {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(1)} GiB`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}

export function when(iso: string | undefined): string {
  if (!iso) return '–';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}
