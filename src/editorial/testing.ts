import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

export const FIXTURES = join(import.meta.dirname, 'fixtures');

export type FixtureServer = {
  url: string;
  /** Bodies received by POST /hook, in order. */
  posts: { headers: IncomingMessage['headers']; body: string }[];
  /** Status the webhook answers next (then 200). */
  failNextHooks: number;
  /** Extra routes: path → body (content type from the extension). */
  routes: Map<string, string>;
  close(): Promise<void>;
};

/**
 * A local HTTP server for the fixture feeds (`/tidewater.rss.xml`, ...), extra routes a test adds,
 * a webhook at `/hook` that can be told to fail, and `/slow` that never answers.
 */
export async function serveFixtures(): Promise<FixtureServer> {
  const state = { posts: [] as FixtureServer['posts'], failNextHooks: 0, routes: new Map<string, string>() };
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (path === '/hook') {
      let body = '';
      req.on('data', (d) => {
        body += d;
      });
      req.on('end', () => {
        if (state.failNextHooks > 0) {
          state.failNextHooks--;
          res.writeHead(503).end('down');
          return;
        }
        state.posts.push({ headers: req.headers, body });
        res.writeHead(200).end('ok');
      });
      return;
    }
    if (path === '/slow') return; // never answers
    const extra = state.routes.get(path);
    let body: string | undefined = extra;
    if (body === undefined && /^\/[\w.-]+$/.test(path)) {
      try {
        body = readFileSync(join(FIXTURES, path.slice(1)), 'utf8');
      } catch {}
    }
    if (body === undefined) {
      res.writeHead(404).end('not found');
      return;
    }
    const type = path.endsWith('.json') ? 'application/feed+json' : 'application/xml';
    res.writeHead(200, { 'content-type': type }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(state, {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  }) as FixtureServer;
}
