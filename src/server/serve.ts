import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import type { Attune } from '../attune.ts';
import { createApp, type ServerOptions } from './app.ts';

export type RunningServer = { url: string; port: number; close: () => Promise<void> };

/**
 * Serves the API on Node. Loopback by default: exposing it is a decision (`host: '0.0.0.0'`).
 * Slow clients are cut off by Node's own header and request timeouts.
 */
export async function startServer(
  attune: Attune,
  options: ServerOptions & { port?: number; host?: string } = {},
): Promise<RunningServer> {
  const app = createApp(attune, options);
  const host = options.host ?? '127.0.0.1';
  const { server, port } = await new Promise<{ server: ReturnType<typeof serve>; port: number }>(
    (resolve, reject) => {
      const s = serve({ fetch: app.fetch, port: options.port ?? 8787, hostname: host }, (info: AddressInfo) =>
        resolve({ server: s, port: info.port }),
      );
      s.once('error', reject);
    },
  );
  if ('headersTimeout' in server) {
    server.headersTimeout = 15_000;
    // Uploads and streamed answers may take long; a client that sends nothing for this long is gone.
    server.requestTimeout = 10 * 60_000;
  }
  const shown = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shown}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        if ('closeAllConnections' in server) server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
