import { useCallback, useEffect, useState } from 'react';
import { describeError } from './api.ts';

/** The part of the location after `#`, split into a path and its query: the app's only router. */
export type Route = { path: string[]; query: URLSearchParams };

function parseHash(hash: string): Route {
  const raw = hash.replace(/^#\/?/, '');
  const q = raw.indexOf('?');
  const path = (q < 0 ? raw : raw.slice(0, q))
    .split('/')
    .filter(Boolean)
    .map((p) => {
      try {
        return decodeURIComponent(p);
      } catch {
        return p;
      }
    });
  return { path, query: new URLSearchParams(q < 0 ? '' : raw.slice(q + 1)) };
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseHash(window.location.hash));
  useEffect(() => {
    const update = () => setRoute(parseHash(window.location.hash));
    window.addEventListener('hashchange', update);
    return () => window.removeEventListener('hashchange', update);
  }, []);
  return route;
}

export function href(...parts: string[]): string {
  return `#/${parts.map(encodeURIComponent).join('/')}`;
}

export type Loaded<T> =
  | { state: 'loading' }
  | { state: 'error'; message: string; status?: number }
  | { state: 'done'; value: T };

/** Runs a request when its inputs change; `reload` runs it again. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): [Loaded<T>, () => void] {
  const [result, setResult] = useState<Loaded<T>>({ state: 'loading' });
  const [tick, setTick] = useState(0);
  // biome-ignore lint/correctness/useExhaustiveDependencies: the caller names the inputs that matter
  useEffect(() => {
    let live = true;
    setResult({ state: 'loading' });
    load().then(
      (value) => {
        if (live) setResult({ state: 'done', value });
      },
      (error: unknown) => {
        const status = (error as { problem?: { status?: number } }).problem?.status;
        if (live) setResult({ state: 'error', message: describeError(error), ...(status ? { status } : {}) });
      },
    );
    return () => {
      live = false;
    };
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return [result, reload];
}
