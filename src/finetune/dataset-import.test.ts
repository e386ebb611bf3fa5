import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { AttuneError } from '../models/model-error.ts';
import { toChatJsonl, writeChatJsonl } from './dataset-export.ts';
import {
  detectDatasetFormat,
  loadDataset,
  parseDataset,
  readDataset,
  roleForSpeaker,
} from './dataset-import.ts';
import { DatasetError, formatIssue } from './dataset-issue.ts';

const jsonl = (...lines: unknown[]) =>
  lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n');
const chat = (user: string, assistant: string) => ({
  messages: [
    { role: 'user', content: user },
    { role: 'assistant', content: assistant },
  ],
});

describe('chat JSONL import', () => {
  it('reads OpenAI chat lines, with file and line in meta', () => {
    const text = jsonl(
      {
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'Refund window?' },
          { role: 'assistant', content: '30 days.' },
        ],
      },
      '',
      {
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'Hi ' },
              { type: 'text', text: 'there' },
            ],
          },
          { role: 'assistant', content: 'Hello' },
        ],
      },
    );
    const result = parseDataset(text, { file: '/x/data.jsonl' });
    assert.equal(result.format, 'chat');
    assert.deepEqual(result.issues, []);
    assert.equal(result.examples.length, 2);
    assert.deepEqual(
      result.examples[0]!.messages.map((m) => m.role),
      ['system', 'user', 'assistant'],
    );
    assert.equal(result.examples[1]!.messages[0]!.content, 'Hi there');
    assert.deepEqual(result.examples[1]!.meta, { file: 'data.jsonl', line: 3 });
  });

  it('names file, line and field of each malformed line, and keeps the good ones', () => {
    const text = jsonl(
      chat('a', 'b'),
      '{"messages": [',
      {
        messages: [
          { role: 'user', content: 'q' },
          { role: 'assistant', content: 'a' },
          { role: 'tool', content: 'x' },
        ],
      },
      { messages: [{ role: 'user', content: 42 }] },
      { prompt: 'not chat' },
      ['an', 'array'],
      chat('c', 'd'),
    );
    const result = parseDataset(text, { file: 'data.jsonl' });
    assert.equal(result.examples.length, 2);
    assert.deepEqual(result.issues.map(formatIssue), [
      `data.jsonl:2: not valid JSON (${errorOf('{"messages": [')})`,
      'data.jsonl:3: messages[2].role must be system, user or assistant (got "tool")',
      'data.jsonl:4: messages[0].content must be a string (or a list of text parts)',
      'data.jsonl:5: messages must be an array of messages',
      'data.jsonl:6: entry must be a JSON object',
    ]);
    assert.ok(result.issues.every((i) => i.severity === 'error'));
  });

  it('reads a whole-file JSON array of chat examples, locating problems by index', () => {
    const text = JSON.stringify([chat('a', 'b'), { messages: [{ role: 'bot', content: 'x' }] }], null, 2);
    const result = parseDataset(text, { file: 'data.json' });
    assert.equal(result.format, 'chat');
    assert.equal(result.examples.length, 1);
    assert.equal(
      formatIssue(result.issues[0]!),
      'data.json: [1].messages[0].role must be system, user or assistant (got "bot")',
    );
  });

  it('loadDataset refuses a file with a malformed line, naming it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'attune-import-'));
    after(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'data.jsonl');
    writeFileSync(
      file,
      jsonl(chat('a', 'b'), {
        messages: [
          { role: 'user', content: 'x' },
          { role: 'robot', content: 'y' },
        ],
      }),
    );
    await assert.rejects(loadDataset(file), (error: unknown) => {
      assert.ok(error instanceof DatasetError && AttuneError.isInstance(error));
      assert.match(error.message, /data\.jsonl:2: messages\[1\]\.role must be system, user or assistant/);
      assert.match(error.hint ?? '', /attune dataset validate/);
      return true;
    });
  });
});

describe('prompt/completion import', () => {
  it('turns pairs into user/assistant turns, with an optional system prompt', () => {
    const text = jsonl(
      { prompt: 'What is the refund window?\n\n###\n\n', completion: ' 30 days.' },
      { question: 'Who approves leave?', answer: 'Your manager.' },
    );
    const result = parseDataset(text, { file: 'pairs.jsonl', system: 'You are the HR assistant.' });
    assert.equal(result.format, 'pairs');
    assert.deepEqual(result.examples[0]!.messages, [
      { role: 'system', content: 'You are the HR assistant.' },
      { role: 'user', content: 'What is the refund window?\n\n###' },
      { role: 'assistant', content: '30 days.' },
    ]);
    assert.equal(result.examples[1]!.messages[2]!.content, 'Your manager.');
  });

  it('names the field that is wrong', () => {
    const result = parseDataset(
      jsonl(
        { prompt: 'a', completion: 'b' },
        { prompt: 'a', completion: null },
        { prompt: 3, completion: 'b' },
      ),
      {
        file: 'pairs.jsonl',
      },
    );
    assert.equal(result.examples.length, 1);
    assert.deepEqual(result.issues.map(formatIssue), [
      'pairs.jsonl:2: completion must be a string',
      'pairs.jsonl:3: prompt must be a string',
    ]);
  });
});

describe('transcript import', () => {
  it('maps speakers to roles with sane defaults and overrides', () => {
    assert.equal(roleForSpeaker('Agent'), 'assistant');
    assert.equal(roleForSpeaker('agent_7'), 'assistant');
    assert.equal(roleForSpeaker('Support (Anna)'), 'assistant');
    assert.equal(roleForSpeaker('bot'), 'assistant');
    assert.equal(roleForSpeaker('gpt'), 'assistant');
    assert.equal(roleForSpeaker('customer'), 'user');
    assert.equal(roleForSpeaker('human'), 'user');
    assert.equal(roleForSpeaker('Agnes'), 'user', 'a name starting with "ag" is not an agent');
    assert.equal(roleForSpeaker('system'), 'system');
    assert.equal(roleForSpeaker('Anna', { anna: 'assistant' }), 'assistant');
  });

  it('reads CSV conversations: grouped by id, ordered by the turn column, same-speaker runs merged', () => {
    const csv = [
      'conversation_id,turn,speaker,text',
      'c1,2,agent,"Sure, which order?"',
      'c1,1,customer,I want a refund',
      'c2,1,Customer,"Line one',
      'line two"',
      'c2,2,Agent,Hello',
      'c1,3,customer,Order 42',
      'c1,4,customer,It arrived broken',
      'c1,5,agent,Refunded.',
      'c2,3,agent,',
      '',
    ].join('\n');
    const result = parseDataset(csv, { file: 'calls.csv' });
    assert.equal(result.format, 'transcript-csv');
    assert.equal(result.examples.length, 2);
    assert.deepEqual(result.examples[0]!.messages, [
      { role: 'user', content: 'I want a refund' },
      { role: 'assistant', content: 'Sure, which order?' },
      { role: 'user', content: 'Order 42\nIt arrived broken' },
      { role: 'assistant', content: 'Refunded.' },
    ]);
    assert.equal(result.examples[1]!.messages[0]!.content, 'Line one\nline two');
    assert.deepEqual(result.examples[1]!.meta?.speakers, { Customer: 'user', Agent: 'assistant' });
    // The empty message is on line 10 (row 9): the quoted field spans lines 4-5.
    assert.deepEqual(result.issues.map(formatIssue), [
      'calls.csv:10: empty message from agent in conversation c2 skipped',
    ]);
    assert.equal(result.issues[0]!.severity, 'warning');
  });

  it('names the line and column of a bad CSV row, and a missing column', () => {
    const bad = parseDataset('dialog_id,author,message\nc1,,hello\nc1,agent,hi\n', { file: 't.csv' });
    assert.deepEqual(bad.issues.map(formatIssue), ['t.csv:2: author is empty']);
    assert.equal(bad.examples.length, 1);
    const missing = parseDataset('id,who,said\n1,a,b\n', { file: 't.csv' });
    assert.equal(missing.examples.length, 0);
    assert.match(formatIssue(missing.issues[0]!), /^t\.csv:1: no speaker column in the header/);
  });

  it('reads JSON conversations with speaker turns, and ShareGPT lines', () => {
    const json = JSON.stringify(
      {
        conversations: [
          {
            id: 'a',
            turns: [
              { speaker: 'Customer', text: 'Is the VPN required at home?' },
              { speaker: 'Helpdesk', text: 'Yes, always.' },
            ],
          },
          { id: 'b', turns: [{ speaker: 'Agent', text: 'Hi' }, { speaker: 'Customer' }] },
        ],
      },
      null,
      2,
    );
    const result = parseDataset(json, { file: 'chats.json' });
    assert.equal(result.format, 'transcript-json');
    assert.deepEqual(result.examples[0]!.messages, [
      { role: 'user', content: 'Is the VPN required at home?' },
      { role: 'assistant', content: 'Yes, always.' },
    ]);
    assert.equal(result.examples[0]!.meta?.conversationId, 'a');
    assert.deepEqual(result.issues.map(formatIssue), [
      'chats.json: conversations[1].turns[1].text is missing (expected one of text, content, message, utterance, body, value, transcript)',
    ]);

    const sharegpt = jsonl({
      conversations: [
        { from: 'human', value: 'hi' },
        { from: 'gpt', value: 'hello' },
      ],
    });
    const sg = parseDataset(sharegpt, { file: 'sharegpt.jsonl' });
    assert.equal(sg.format, 'transcript-json');
    assert.deepEqual(sg.examples[0]!.messages, [
      { role: 'user', content: 'hi' },
      { role: 'assistant', content: 'hello' },
    ]);
  });

  it('groups flat JSON rows by conversation id', () => {
    const rows = [
      { conversation_id: 1, speaker: 'user', text: 'a' },
      { conversation_id: 2, speaker: 'user', text: 'x' },
      { conversation_id: 1, speaker: 'bot', text: 'b' },
    ];
    const result = parseDataset(JSON.stringify(rows, null, 1), { file: 'rows.json' });
    assert.equal(result.format, 'transcript-json');
    assert.deepEqual(
      result.examples.map((e) => e.messages.map((m) => m.content)),
      [['a', 'b'], ['x']],
    );
  });
});

describe('format detection and export', () => {
  it('detects each format and refuses what it cannot tell, suggesting --format', () => {
    assert.equal(detectDatasetFormat(jsonl(chat('a', 'b')), 'x.jsonl'), 'chat');
    assert.equal(detectDatasetFormat(jsonl({ prompt: 'a', completion: 'b' }), 'x.jsonl'), 'pairs');
    assert.equal(detectDatasetFormat('a,b\n', 'x.csv'), 'transcript-csv');
    assert.equal(detectDatasetFormat(jsonl({ speaker: 'a', text: 'b' }), 'x.jsonl'), 'transcript-json');
    assert.throws(
      () => detectDatasetFormat(jsonl({ foo: 1 }), 'x.jsonl'),
      (e: AttuneError) => /--format/.test(e.hint ?? ''),
    );
    assert.throws(() => detectDatasetFormat('hello world', 'x.txt'), DatasetError);
  });

  it('a forced format wins over detection', () => {
    const result = parseDataset(jsonl({ prompt: 'a', completion: 'b' }), { file: 'x.jsonl', format: 'chat' });
    assert.equal(result.examples.length, 0);
    assert.equal(formatIssue(result.issues[0]!), 'x.jsonl:1: messages must be an array of messages');
  });

  it('exports OpenAI chat JSONL that reads back the same, meta only on request', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'attune-export-'));
    after(() => rmSync(dir, { recursive: true, force: true }));
    const csv = 'conversation_id,speaker,text\n1,customer,hi\n1,agent,hello\n';
    const examples = parseDataset(csv, { file: 'a.csv' }).examples;
    const text = toChatJsonl(examples);
    assert.equal(
      text,
      '{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}\n',
    );
    assert.match(toChatJsonl(examples, { includeMeta: true }), /"meta":\{"file":"a\.csv"/);
    const file = join(dir, 'out', 'train.jsonl');
    await writeChatJsonl(file, examples);
    const back = await readDataset(file);
    assert.equal(back.format, 'chat');
    assert.deepEqual(
      back.examples.map((e) => e.messages),
      examples.map((e) => e.messages),
    );
  });
});

function errorOf(text: string): string {
  try {
    JSON.parse(text);
  } catch (error) {
    return (error as Error).message;
  }
  return '';
}
