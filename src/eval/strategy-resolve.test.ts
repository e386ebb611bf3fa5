import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Attune } from '../attune.ts';

// Resolving strategies reads the adapter registry and the catalog only: no model is loaded.
const work = mkdtempSync(join(tmpdir(), 'attune-strategies-'));
after(() => rmSync(work, { recursive: true, force: true }));
const open = (dir: string) => Attune.open({ env: { ...process.env, ATTUNE_DIR: dir }, cwd: work });

function fakeAdapter(dir: string, id: string, base: string, createdAt: string) {
  const at = join(dir, 'adapters', id);
  mkdirSync(at, { recursive: true });
  writeFileSync(join(at, 'adapter.gguf'), 'GGUF');
  writeFileSync(
    join(at, 'lineage.json'),
    JSON.stringify({ id, createdAt, baseModel: { name: base }, durationSeconds: 300, metrics: {} }),
  );
}

describe('resolving strategies', () => {
  it('refuses ft and hybrid when no adapter exists, naming what to do', async () => {
    const attune = await open(join(work, 'none'));
    assert.throws(
      () => attune.resolveStrategies('base,ft'),
      /Strategy "ft" needs a fine-tuned adapter.*none is registered/,
    );
    const [base, rag] = attune.resolveStrategies('base,rag');
    assert.equal(base!.model.name, attune.config.models.chat);
    assert.match(rag!.model.sha256 ?? '', /^[0-9a-f]{64}$/, 'catalog models carry their checksum');
    await attune.close();
  });

  it('takes the newest adapter of the model, runs it on its base model, and refuses one trained on another model', async () => {
    const dir = join(work, 'two');
    fakeAdapter(dir, 'lora-old', 'smollm2-135m-instruct', '2026-01-01T00:00:00Z');
    fakeAdapter(dir, 'lora-new', 'smollm2-135m-instruct', '2026-02-01T00:00:00Z');
    const attune = await open(dir);
    const [ft] = attune.resolveStrategies('ft');
    assert.equal(ft!.adapterInfo!.id, 'lora-new');
    assert.equal(ft!.model.name, 'smollm2-135m-instruct');
    assert.equal((ft!.adapterInfo!.lineage as { durationSeconds: number }).durationSeconds, 300);
    assert.throws(
      () =>
        attune.resolveStrategies([
          { name: 'h', kind: 'hybrid', chatModel: 'qwen2.5-coder-1.5b-instruct', adapter: 'lora-old' },
        ]),
      /adapter lora-old was trained on "smollm2-135m-instruct", not on "qwen2.5-coder-1.5b-instruct"/,
    );
    assert.throws(
      () => attune.resolveStrategies([{ name: 'h', kind: 'hybrid', adapter: 'lora-missing' }]),
      /No adapter "lora-missing"/,
    );
    await attune.close();
  });
});
