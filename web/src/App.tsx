import { type ReactNode, useMemo, useState } from 'react';
import { Api } from './api.ts';
import { href, useRoute } from './hooks.ts';
import { Audit, AuditRecordPage } from './screens/Audit.tsx';
import { Chat } from './screens/Chat.tsx';
import { Documents } from './screens/Documents.tsx';
import { DocumentView, VersionPicker } from './screens/DocumentView.tsx';
import { Eval, EvalReport } from './screens/Eval.tsx';
import { FineTune } from './screens/FineTune.tsx';
import { Models } from './screens/Models.tsx';
import { SignIn } from './screens/SignIn.tsx';

const STORAGE_KEY = 'attune.apiKey';

const SECTIONS = [
  ['chat', 'Chat'],
  ['documents', 'Documents'],
  ['audit', 'Audit'],
  ['eval', 'Eval reports'],
  ['models', 'Models'],
  ['finetune', 'Fine-tune'],
] as const;

function readKey(): string | undefined {
  try {
    return localStorage.getItem(STORAGE_KEY) ?? undefined;
  } catch {
    return undefined;
  }
}

export function App() {
  const [key, setKey] = useState(readKey);
  const route = useRoute();
  const api = useMemo(() => (key ? new Api(key) : undefined), [key]);

  if (!api)
    return (
      <SignIn
        onSignedIn={(k) => {
          localStorage.setItem(STORAGE_KEY, k);
          setKey(k);
        }}
      />
    );

  const [section = 'chat', id] = route.path;
  let page: ReactNode = null;
  if (section === 'documents' && id)
    page = (
      <div className="page wide">
        <p>
          <a href={href('documents')}>← All documents</a>
        </p>
        <VersionPicker api={api} docId={id} query={route.query} />
        <DocumentView
          api={api}
          docId={id}
          chunkId={route.query.get('chunk') ?? undefined}
          version={route.query.has('version') ? Number(route.query.get('version')) : undefined}
        />
      </div>
    );
  else if (section === 'documents') page = <Documents api={api} />;
  else if (section === 'audit') page = id ? <AuditRecordPage api={api} id={id} /> : <Audit api={api} />;
  else if (section === 'eval') page = id ? <EvalReport api={api} id={id} /> : <Eval api={api} />;
  else if (section === 'models') page = <Models api={api} />;
  else if (section === 'finetune') page = <FineTune api={api} />;
  else if (section !== 'chat')
    page = (
      <div className="page">
        <h1>Not found</h1>
        <p>
          There is no page “{route.path.join('/')}”. <a href={href('chat')}>Back to the chat</a>.
        </p>
      </div>
    );

  return (
    <>
      <button type="button" className="skip" onClick={() => document.getElementById('main')?.focus()}>
        Skip to content
      </button>
      <header className="top">
        <span className="brand">Attune</span>
        <nav aria-label="sections">
          <ul>
            {SECTIONS.map(([path, label]) => (
              <li key={path}>
                <a href={href(path)} aria-current={section === path ? 'page' : undefined}>
                  {label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <button
          type="button"
          className="secondary sign-out"
          onClick={() => {
            localStorage.removeItem(STORAGE_KEY);
            setKey(undefined);
          }}
        >
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        {/* The chat stays mounted, so a conversation and an answer still streaming survive a visit elsewhere. */}
        <div hidden={section !== 'chat'}>
          <Chat api={api} />
        </div>
        {page}
      </main>
    </>
  );
}
