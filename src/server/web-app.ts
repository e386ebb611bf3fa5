import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serveStatic } from '@hono/node-server/serve-static';
import type { Env, Hono } from 'hono';

/** The built web app (`npm run build:web`), beside the sources wherever Attune is installed. */
export const WEB_DIST = fileURLToPath(new URL('../../web/dist', import.meta.url));

/**
 * Nothing but this server: the app is bundled, so any other origin is refused by the browser too.
 * Inline scripts and styles are allowed for the eval report, which the app shows in a sandboxed
 * srcdoc frame that inherits this policy; React itself needs none.
 */
const POLICY = [
  "default-src 'self'",
  "script-src 'self' 'unsafe-inline'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "frame-src 'self' blob:",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const HEADERS = {
  'content-security-policy': POLICY,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

function notBuilt(dir: string): string {
  return `<!doctype html><html lang="en"><meta charset="utf-8"><title>Attune web app not built</title>
<body style="font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;line-height:1.5">
<h1>The web app is not built</h1>
<p>There is no <code>${dir}/index.html</code>. Build it from the Attune checkout, then reload:</p>
<pre>npm run build:web</pre>
<p>The API itself works without it: <a href="/docs">/docs</a>.</p></body></html>`;
}

/**
 * The single-page app at /app/, without the bearer header (the page carries the key itself and sends
 * it on each API call). Unknown paths under /app/ get index.html: the app routes by the hash.
 */
export function serveWebApp<E extends Env>(app: Hono<E>, dir: string = WEB_DIST): void {
  const index = join(dir, 'index.html');
  app.get('/app', (c) => c.redirect('/app/', 301));
  app.use('/app/*', async (c, next) => {
    await next();
    for (const [name, value] of Object.entries(HEADERS)) c.header(name, value);
  });
  app.get('/app/*', async (c, next) => {
    if (!existsSync(index)) return c.html(notBuilt(dir), 503);
    return serveStatic<E>({ root: dir, rewriteRequestPath: (path) => path.replace(/^\/app/, '') })(c, next);
  });
  const fallback = serveStatic<E>({ path: index });
  // A missing bundle file is a 404, not the page: a stale tab must not run HTML as a script.
  app.get('/app/*', (c, next) => (c.req.path.startsWith('/app/assets/') ? next() : fallback(c, next)));
}
