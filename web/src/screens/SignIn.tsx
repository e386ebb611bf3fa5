import { type FormEvent, useId, useState } from 'react';
import { Api, describeError } from '../api.ts';

/** Checks the key against the server before keeping it; the key stays in this browser only. */
export function SignIn({ onSignedIn }: { onSignedIn: (key: string) => void }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | undefined>();
  const [checking, setChecking] = useState(false);
  const id = useId();

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const value = key.trim();
    if (!value) return;
    setChecking(true);
    setError(undefined);
    try {
      await new Api(value).models();
      onSignedIn(value);
    } catch (e) {
      setError(describeError(e));
    } finally {
      setChecking(false);
    }
  };

  return (
    <main id="main" className="sign-in">
      <form className="card" onSubmit={submit} aria-labelledby={`${id}-h`}>
        <h1 id={`${id}-h`}>Sign in to Attune</h1>
        <p className="muted">
          Paste an API key (<code>attune keys create</code> prints one). It is kept in this browser's local
          storage and sent only to this server.
        </p>
        <div className="field">
          <label htmlFor={id}>API key</label>
          <input
            id={id}
            type="password"
            autoComplete="off"
            spellCheck={false}
            value={key}
            onChange={(e) => setKey(e.target.value)}
            aria-invalid={error ? true : undefined}
            aria-describedby={error ? `${id}-err` : undefined}
          />
        </div>
        {error && (
          <p id={`${id}-err`} className="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" disabled={checking || !key.trim()}>
          {checking ? 'Checking…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
