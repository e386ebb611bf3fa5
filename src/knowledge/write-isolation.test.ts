/**
 * Issue #11.4, the last stages: a document whose embedding or store write fails, fails alone and
 * named; the documents batched with it are stored, and what was stored for it is kept. A fault
 * in no document (the model down for every input) stops the sync without committing a version.
 * The embedder is the real default model; the fault is injected for texts holding a marker.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../config/index.ts';
import type { EmbeddingModel } from '../models/model-spec.ts';
import type { Models } from '../models/models.ts';
import { testModels } from '../models/testing.ts';
import type { Principal } from '../store/index.ts';
import { KnowledgeBase } from './knowledge-base.ts';

const admin: Principal = { user: 'checker', groups: [], admin: true };

describe('one document failing to embed or write', { timeout: 300_000 }, () => {
  let models: Models;
  let failEverything = false;
  const work = mkdtempSync(join(tmpdir(), 'attune-isolation-'));
  const root = join(work, 'kb');
  const config = loadConfig({ cwd: work, env: { ...process.env, ATTUNE_DIR: join(work, '.attune') } });

  before(async () => {
    models = await testModels();
    const embedder: EmbeddingModel = await models.embedding();
    const doEmbed = embedder.doEmbed.bind(embedder);
    embedder.doEmbed = (options) => {
      if (failEverything || options.values.some((v) => v.includes('POISON')))
        return Promise.reject(new Error('the embedding runtime refused this input'));
      return doEmbed(options);
    };
    mkdirSync(root);
    writeFileSync(join(root, 'a.md'), '# A\n\nThe first fact is eleven.\n');
    writeFileSync(join(root, 'b.md'), '# B\n\nThe second fact is twelve.\n');
    writeFileSync(join(root, 'c.md'), '# C\n\nThe third fact is thirteen.\n');
  });
  after(async () => {
    await models.dispose();
    rmSync(work, { recursive: true, force: true });
  });

  async function withKb<T>(fn: (kb: KnowledgeBase) => Promise<T>): Promise<T> {
    const kb = await KnowledgeBase.open(config, models);
    try {
      return await fn(kb);
    } finally {
      await kb.close();
    }
  }

  it('stores the rest of its batch and names it', async () => {
    await withKb(async (kb) => {
      assert.equal((await kb.sync([root])).added, 3);
      // b changes to something the model refuses; c changes to something it takes. All in one batch.
      writeFileSync(join(root, 'b.md'), '# B\n\nThe second fact is POISON.\n');
      writeFileSync(join(root, 'c.md'), '# C\n\nThe third fact is fourteen.\n');
      writeFileSync(join(root, 'd.md'), '# D\n\nThe fourth fact is fifteen.\n');
      const summary = await kb.sync([root]);
      assert.equal(summary.added, 1, 'd.md');
      assert.equal(summary.changed, 1, 'c.md');
      assert.equal(summary.failed, 1);
      assert.equal(summary.failures[0]!.id, 'kb/b.md');
      assert.match(
        summary.failures[0]!.reason,
        /^embedding failed: the embedding runtime refused this input; what is stored for it is kept$/,
      );
      assert.equal(summary.version, 2);
      const versions = await kb.versions();
      assert.equal(versions.at(-1)!.summary.failed, 1);
      // b.md is still its old self, searchable as before; c and d are new.
      const b = await kb.store.getChunks('kb/b.md', admin);
      assert.match(b.map((c) => c.text).join(' '), /twelve/);
      assert.match((await kb.store.getChunks('kb/c.md', admin)).map((c) => c.text).join(' '), /fourteen/);
      assert.ok(await kb.store.getDocument('kb/d.md', admin));
    });
  });

  it('is tried again by the next sync, which stores it once the fault is gone', async () => {
    await withKb(async (kb) => {
      writeFileSync(join(root, 'b.md'), '# B\n\nThe second fact is sixteen.\n');
      const summary = await kb.sync([root]);
      assert.equal(summary.changed, 1);
      assert.equal(summary.failed, 0);
      assert.match((await kb.store.getChunks('kb/b.md', admin)).map((c) => c.text).join(' '), /sixteen/);
    });
  });

  it('stops the sync, committing nothing, when every document fails alone', async () => {
    await withKb(async (kb) => {
      const before = (await kb.versions()).length;
      writeFileSync(join(root, 'a.md'), '# A\n\nThe first fact is twenty.\n');
      writeFileSync(join(root, 'c.md'), '# C\n\nThe third fact is twenty-one.\n');
      failEverything = true;
      try {
        await assert.rejects(kb.sync([root]), /the embedding runtime refused this input/);
      } finally {
        failEverything = false;
      }
      assert.equal((await kb.versions()).length, before, 'no version for a run that stored nothing');
      assert.match((await kb.store.getChunks('kb/a.md', admin)).map((c) => c.text).join(' '), /eleven/);
    });
  });
});
