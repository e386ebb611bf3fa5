import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runAttune } from './testing.ts';

const handbook = join(import.meta.dirname, '..', '..', 'examples', 'handbook');
const attune = runAttune;

const line = (user: string, assistant: string) =>
  JSON.stringify({
    messages: [
      { role: 'user', content: user },
      { role: 'assistant', content: assistant },
    ],
  });

describe('attune dataset', () => {
  const work = mkdtempSync(join(tmpdir(), 'attune-dataset-cli-'));
  // Dataset mechanics on the small model (token counts below are SmolLM2's).
  const env = { ATTUNE_DIR: join(work, '.attune'), ATTUNE_CHAT_MODEL: 'smollm2-135m-instruct' };
  after(() => rmSync(work, { recursive: true, force: true }));
  const good = join(work, 'good.jsonl');
  writeFileSync(
    good,
    `${Array.from({ length: 20 }, (_, i) => line(`What is rule ${i}?`, `Rule ${i} says ${'so '.repeat(i)}.`)).join('\n')}\n`,
  );

  it('validate exits 0 on a good file and 1 naming file:line:field on a bad one', async () => {
    const ok = await attune(['dataset', 'validate', good], env);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^ok: 20 examples, 0 errors, 0 warnings$/m);
    const bad = join(work, 'bad.jsonl');
    writeFileSync(
      bad,
      [
        line('a', 'b'),
        '{"messages":[{"role":"user","content":"q"},{"role":"tool","content":"x"}]}',
        '{"messages":',
      ].join('\n'),
    );
    const r = await attune(['dataset', 'validate', bad, '--json'], env);
    assert.equal(r.code, 1);
    const report = JSON.parse(r.stdout) as {
      ok: boolean;
      errors: { location?: string; message: string; code: string }[];
    };
    assert.equal(report.ok, false);
    assert.deepEqual(
      report.errors.map((e) => (e.location ? `${e.location}: ${e.message}` : e.message)).slice(0, 2),
      [
        'bad.jsonl:2: messages[1].role must be system, user or assistant (got "tool")',
        `bad.jsonl:3: not valid JSON (${jsonError('{"messages":')})`,
      ],
    );
    assert.ok(report.errors.some((e) => e.code === 'too-few'));
  });

  it('stats reports tokens per role in the base model tokenizer', async () => {
    const r = await attune(['dataset', 'stats', good, '--json'], env);
    assert.equal(r.code, 0, r.stderr);
    const { stats } = JSON.parse(r.stdout) as {
      stats: {
        examples: number;
        tokens: { tokenizer: string; perRole: Record<string, { count: number; max: number }> };
      };
    };
    assert.equal(stats.examples, 20);
    assert.equal(stats.tokens.tokenizer, 'smollm2-135m-instruct');
    assert.equal(stats.tokens.perRole.assistant!.count, 20);
    const text = await attune(['dataset', 'stats', good], env);
    assert.match(text.stdout, /assistant turn +20/);
  });

  it('scan records the result, exits 1 on findings, and --redact writes a copy the trainer gate accepts', async () => {
    const file = join(work, 'support.jsonl');
    writeFileSync(
      file,
      `${line('Mail me at ann@example.com', 'Done.')}\n${line('Card 4111 1111 1111 1111?', 'Refunded.')}\n`,
    );
    const found = await attune(['dataset', 'scan', file], env);
    assert.equal(found.code, 1);
    assert.match(found.stdout, /2 findings in 2 of 2 examples/);
    assert.match(found.stdout, /a\*\*\*@e\*\*\*\.com/);
    assert.ok(!found.stdout.includes('ann@example.com'), 'the report never prints the value');
    assert.match(found.stdout, /attune dataset scan .*support\.jsonl --redact .*support\.redacted\.jsonl/);
    const out = join(work, 'support.redacted.jsonl');
    const redacted = await attune(['dataset', 'scan', file, '--redact', out, '--json'], env);
    assert.equal(redacted.code, 0, redacted.stderr);
    assert.equal(readFileSync(out, 'utf8').split('\n')[1], line('Card [CARD]?', 'Refunded.'));
    const { record } = JSON.parse(redacted.stdout) as {
      record: { sha256: string; counts: Record<string, number> };
    };
    assert.equal(record.counts.card, 1);
    assert.ok(existsSync(join(work, '.attune', 'datasets', 'scans', `${record.sha256}.json`)));
    const { requirePrivacyScan } = await import('../finetune/index.ts');
    assert.equal((await requirePrivacyScan({ dir: join(work, '.attune') }, out))?.total, 0);
  });

  it('split is seeded and writes two files; export writes OpenAI JSONL from a transcript CSV', async () => {
    const a = await attune(
      ['dataset', 'split', good, '--validation-share', '0.25', '--seed', '3', '--json'],
      env,
    );
    assert.equal(a.code, 0, a.stderr);
    const summary = JSON.parse(a.stdout) as {
      train: { file: string; examples: number };
      validation: { file: string; examples: number };
    };
    assert.deepEqual([summary.train.examples, summary.validation.examples], [15, 5]);
    const first = readFileSync(summary.validation.file, 'utf8');
    assert.ok(!first.includes('"meta"'), 'trainer files are plain OpenAI chat JSONL');
    await attune(['dataset', 'split', good, '--validation-share', '0.25', '--seed', '3'], env);
    assert.equal(readFileSync(summary.validation.file, 'utf8'), first, 'same seed, same split');

    const csv = join(work, 'calls.csv');
    writeFileSync(csv, 'conversation_id,speaker,text\n1,customer,Is VPN required?\n1,agent,Yes.\n');
    const e = await attune(['dataset', 'export', csv, '--format', 'openai'], env);
    assert.equal(e.code, 0, e.stderr);
    assert.equal(e.stdout, `${line('Is VPN required?', 'Yes.')}\n`);
    const unknown = await attune(['dataset', 'export', csv, '--format', 'anthropic'], env);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /Unknown export format "anthropic"/);
  });

  it('generate --from-kb writes examples with meta, scans them, and reports kept/dropped (real model, 1 call)', async () => {
    const ingest = await attune(['ingest', handbook, '--json'], env);
    assert.equal(ingest.code, 0, ingest.stderr);
    const out = join(work, 'qa.jsonl');
    const r = await attune(
      ['dataset', 'generate', '--from-kb', '--count', '2', '--max-chunks', '1', '--out', out, '--json'],
      env,
    );
    const summary = JSON.parse(r.stdout) as {
      examples: number;
      chunksUsed: number;
      proposed: number;
      kept: number;
      dropped: Record<string, number>;
      privacy: { total: number };
    };
    assert.equal(summary.chunksUsed, 1);
    const dropped =
      Object.values(summary.dropped).reduce((a, b) => a + b, 0) - summary.dropped['generation-failed']!;
    assert.equal(summary.kept + dropped, summary.proposed);
    assert.equal(summary.examples, summary.kept);
    // Exit 1 when nothing was kept: an empty training file is an error, not a success.
    assert.equal(r.code, summary.examples > 0 ? 0 : 1, r.stderr);
    const lines = readFileSync(out, 'utf8').split('\n').filter(Boolean);
    assert.equal(lines.length, summary.examples);
    for (const l of lines) {
      const e = JSON.parse(l) as {
        messages: { role: string }[];
        meta: { generator: string; chunkIds: string[] };
      };
      assert.deepEqual(
        e.messages.map((m) => m.role),
        ['user', 'assistant'],
      );
      assert.equal(e.meta.generator, 'qa');
      assert.equal(e.meta.chunkIds.length, 1);
    }
    // The output was scanned on the way out, so the trainer's gate knows it.
    const { readScanRecord, sha256OfFile } = await import('../finetune/index.ts');
    if (summary.examples > 0) {
      const record = await readScanRecord({ dir: join(work, '.attune') }, await sha256OfFile(out));
      assert.equal(record?.total, summary.privacy.total);
    }
  });
});

function jsonError(text: string): string {
  try {
    JSON.parse(text);
  } catch (error) {
    return (error as Error).message;
  }
  return '';
}
