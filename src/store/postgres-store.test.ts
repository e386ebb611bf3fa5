import { after, before } from 'node:test';
import { runKnowledgeStoreConformance } from './conformance.ts';
import { openPostgresStore } from './postgres-store.ts';
import { type PgServer, startPgServer } from './testing/pg-server.ts';

let server: PgServer;
let url: string;
let stores = 0;

before(async () => {
  server = await startPgServer();
  url = await server.createDatabase('conformance');
});
after(async () => {
  await server?.stop();
});

// One schema per store: each case starts empty, and the server is started once.
runKnowledgeStoreConformance(
  'PostgreSQL + pgvector',
  async (embedding) => openPostgresStore({ url, schema: `conformance_${++stores}`, embedding }),
  { annThresholdRows: 0 },
);
