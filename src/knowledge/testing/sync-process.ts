/**
 * One Attune process syncing a folder into a PostgreSQL knowledge base, for the test of several
 * processes sharing one database: `node --import tsx sync-process.ts <store url> <folder>`.
 * Prints the sync summary as JSON on stdout.
 */
import { loadConfig } from '../../config/index.ts';
import { Models } from '../../models/models.ts';
import { openKnowledgeStore } from '../../store/index.ts';
import { KnowledgeBase } from '../knowledge-base.ts';

const [url, folder] = process.argv.slice(2);
if (url === undefined || folder === undefined) throw new Error('usage: sync-process.ts <store url> <folder>');
const config = loadConfig({ env: { ...process.env, ATTUNE_STORE_URL: url } });
const models = new Models(config);
const embedder = await models.embedding();
// The other process may hold the write lock for its whole sync (model load, embedding): wait for it.
const store = await openKnowledgeStore(
  { kind: 'postgres', url },
  {
    embedding: { modelId: config.models.embedding, dimensions: embedder.dimensions },
    lockTimeoutMs: 120_000,
  },
);
const kb = await KnowledgeBase.open(config, models, { store });
const summary = await kb.sync([folder]);
await kb.close();
await models.dispose();
process.stdout.write(`${JSON.stringify(summary)}\n`);
