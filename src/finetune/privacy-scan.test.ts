import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { AttuneError } from '../models/model-error.ts';
import type { ChatExample } from './chat-example.ts';
import {
  readScanRecord,
  redactedFileName,
  requirePrivacyScan,
  scanDatasetFile,
  scanRecordPath,
  sha256OfFile,
} from './privacy-record.ts';
import {
  findPii,
  isValidIban,
  luhnValid,
  maskValue,
  type PiiKind,
  redactDataset,
  redactText,
  scanDataset,
} from './privacy-scan.ts';

const kinds = (text: string) => findPii(text).map((m) => `${m.kind}:${m.value}`);
const only = (kind: PiiKind, text: string) => findPii(text, { kinds: [kind] }).map((m) => m.value);

describe('privacy detectors: true positives', () => {
  it('emails', () => {
    assert.deepEqual(only('email', 'Write to jane.doe+hr@example.co.uk or IT-Help@corp.example.com.'), [
      'jane.doe+hr@example.co.uk',
      'IT-Help@corp.example.com',
    ]);
  });

  it('phone numbers: international and common national formats', () => {
    const numbers = [
      '+44 20 7946 0958',
      '+1 (555) 123-4567',
      '+49 30 1234567',
      '+33 1 23 45 67 89',
      '0044 20 7946 0958',
      '(555) 123-4567',
      '555-123-4567',
      '555.123.4567',
      '020 7946 0958',
      '07700 900123',
      '030 1234567',
      '01 23 45 67 89',
      '06-12345678',
    ];
    for (const n of numbers) assert.deepEqual(only('phone', `Call me on ${n} today.`), [n], n);
    assert.deepEqual(only('phone', 'phone: 07700900123'), ['07700900123']);
  });

  it('card numbers that pass Luhn and belong to a card network', () => {
    assert.deepEqual(only('card', 'Visa 4111 1111 1111 1111, Amex 3782-822463-10005, MC 5555555555554444.'), [
      '4111 1111 1111 1111',
      '3782-822463-10005',
      '5555555555554444',
    ]);
    assert.equal(luhnValid('79927398713'), true);
    assert.equal(luhnValid('79927398710'), false);
  });

  it('IBANs with a valid checksum', () => {
    assert.deepEqual(only('iban', 'Pay GB82 WEST 1234 5698 7654 32 or DE89370400440532013000.'), [
      'GB82 WEST 1234 5698 7654 32',
      'DE89370400440532013000',
    ]);
    assert.equal(isValidIban('GB82WEST12345698765433'), false);
  });

  it('API keys, tokens, private keys and secret assignments', () => {
    const jwt =
      'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c';
    const pem =
      '-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA1c7+9z5Pad7OejecsQ0bu\n-----END RSA PRIVATE KEY-----';
    const text = [
      'aws AKIAIOSFODNN7EXAMPLE',
      'openai sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z',
      `gh ghp_${'x9Y8'.repeat(9)}`,
      `token ${jwt}`,
      pem,
      'slack xoxb-123456789012-abcdefghijkl',
      'password = "s3cr3t-pw"',
      'AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
      '{"client_secret": "9f8e7d6c5b4a39281706f5e4d3c2b1a0"}',
      'Authorization: Bearer 4f9Xk2LmQ8rT7vW1zY3aB6cD',
    ].join('\n');
    const found = findPii(text, { kinds: ['secret'] });
    assert.deepEqual(
      found.map((m) => m.detector),
      [
        'aws-access-key',
        'sk-key',
        'github-token',
        'jwt',
        'private-key',
        'slack-token',
        'assignment',
        'assignment',
        'assignment',
        'bearer-token',
      ],
    );
    assert.equal(found[4]!.value, pem);
    // Only the value of an assignment is a finding; the name stays readable.
    assert.equal(found[6]!.value, 's3cr3t-pw');
    assert.equal(found[7]!.value, 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY');
  });

  it('personal names introduced by a label, a title, a greeting or a known first name', () => {
    assert.deepEqual(only('name', 'Name: Jane Doe'), ['Jane Doe']);
    assert.deepEqual(only('name', 'Hi, my name is Oskar Lindqvist and I need help.'), ['Oskar Lindqvist']);
    assert.deepEqual(only('name', 'Please ask Mrs. Patel.'), ['Patel']);
    assert.deepEqual(only('name', 'Hello Sarah, thanks for waiting.'), ['Sarah']);
    assert.deepEqual(only('name', 'The ticket was closed by Maria Garcia yesterday.'), ['Maria Garcia']);
  });
});

describe('privacy detectors: negatives', () => {
  it('a 16-digit number that fails Luhn is not a card', () => {
    assert.deepEqual(only('card', 'Order 4111 1111 1111 1112 shipped'), []);
    assert.deepEqual(only('card', 'Tracking 1234567812345678'), []);
  });

  it('version strings, IP addresses, dates, times and amounts are not phone numbers', () => {
    const text =
      'Upgrade to v10.15.7 or 1.2.3.4567 (build 2024.01.15), server 192.168.100.200, on 2024-01-15 or 15/01/2024 at 10:30, ' +
      'for 1,234,567.89 EUR, ISBN 978-3-16-148410-0, order #12345678, 3.14159265';
    assert.deepEqual(findPii(text), []);
  });

  it('ordinary prose, placeholders and low-entropy assignments are not flagged', () => {
    const text =
      'The Normans were the people who in the 10th and 11th centuries gave their name to Normandy. ' +
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal ${TOKEN} placeholder is the input under test
      'Set api_key=<your-api-key> or token: ${TOKEN}; max_tokens=512; tokenizer=smollm2-135m-instruct. ' +
      'May we meet in June? Will the Grace period apply? The task-management tool is great.';
    assert.deepEqual(kinds(text), []);
  });

  it('an IBAN with a wrong checksum is not an IBAN', () => {
    assert.deepEqual(only('iban', 'GB82 WEST 1234 5698 7654 33'), []);
  });
});

describe('scan report, masking and redaction', () => {
  const examples: ChatExample[] = [
    {
      messages: [
        {
          role: 'user',
          content: 'My card 4111 1111 1111 1111 was charged twice, email me at jane@example.com',
        },
        { role: 'assistant', content: 'Sorry! We refunded it.' },
      ],
      meta: { file: 'support.jsonl', line: 1 },
    },
    {
      messages: [
        { role: 'user', content: 'Refund window?' },
        { role: 'assistant', content: '30 days.' },
      ],
    },
    {
      messages: [
        { role: 'user', content: 'Call +44 20 7946 0958' },
        { role: 'assistant', content: 'Use key AKIAIOSFODNN7EXAMPLE' },
      ],
    },
  ];

  it('counts per kind with locations and masked samples', () => {
    const report = scanDataset(examples);
    assert.equal(report.total, 4);
    assert.equal(report.examplesWithFindings, 2);
    assert.deepEqual(report.counts, { email: 1, phone: 1, card: 1, iban: 0, secret: 1, name: 0 });
    assert.deepEqual(
      report.findings.map((f) => [f.kind, f.example, f.turn, f.role, f.masked]),
      [
        ['card', 0, 0, 'user', '**** **** **** 1111'],
        ['email', 0, 0, 'user', 'j***@e***.com'],
        ['phone', 2, 0, 'user', '+** ** **** **58'],
        ['secret', 2, 1, 'assistant', 'AKIA… (20 chars)'],
      ],
    );
    assert.equal(report.findings[0]!.location, 'support.jsonl:1');
    // No masked sample contains the value it stands for.
    assert.ok(!JSON.stringify(report).includes('jane@example.com'));
    assert.ok(!JSON.stringify(report).includes('4111 1111 1111 1111'));
  });

  it('redacts with kind tokens and leaves clean text alone', () => {
    const clean = redactDataset(examples);
    assert.equal(clean[0]!.messages[0]!.content, 'My card [CARD] was charged twice, email me at [EMAIL]');
    assert.equal(clean[1]!.messages[1]!.content, '30 days.');
    assert.equal(clean[2]!.messages[0]!.content, 'Call [PHONE]');
    assert.equal(clean[2]!.messages[1]!.content, 'Use key [SECRET]');
    assert.equal(scanDataset(clean).total, 0, 'a redacted dataset scans clean');
    assert.equal(redactText('password=hunter22 user Name: Jane Doe'), 'password=[SECRET] user Name: [NAME]');
  });

  it('masks each kind', () => {
    assert.equal(maskValue('iban', 'GB82 WEST 1234 5698 7654 32'), 'GB****************5432');
    assert.equal(maskValue('name', 'Jane Doe'), 'J*** D**');
  });
});

describe('scan records and the training gate', () => {
  const dir = mkdtempSync(join(tmpdir(), 'attune-privacy-'));
  const config = { dir: join(dir, '.attune') };
  after(() => rmSync(dir, { recursive: true, force: true }));
  const line = (user: string, assistant: string) =>
    JSON.stringify({
      messages: [
        { role: 'user', content: user },
        { role: 'assistant', content: assistant },
      ],
    });

  it('refuses an unscanned file with the exact command to run', async () => {
    const file = join(dir, 'clean.jsonl');
    writeFileSync(file, `${line('Refund window?', '30 days.')}\n`);
    await assert.rejects(requirePrivacyScan(config, file), (error: unknown) => {
      assert.ok(AttuneError.isInstance(error));
      assert.match(error.message, /has not been scanned/);
      assert.equal(
        error.hint,
        `Run: attune dataset scan ${file}   (or pass --allow-unscanned to train without a scan)`,
      );
      return true;
    });
    assert.equal(await requirePrivacyScan(config, file, { allowUnscanned: true }), undefined);
  });

  it('passes a scanned clean file, and a change to the file needs a new scan', async () => {
    const file = join(dir, 'clean.jsonl');
    const { record } = await scanDatasetFile(config, file);
    assert.equal(record.total, 0);
    const sha = await sha256OfFile(file);
    assert.equal(record.sha256, sha);
    assert.deepEqual(JSON.parse(readFileSync(scanRecordPath(config, sha), 'utf8')), record);
    assert.equal((await requirePrivacyScan(config, file))?.sha256, sha);
    writeFileSync(file, `${line('Refund window?', '30 days.')}\n${line('Email?', 'ann@example.com')}\n`);
    await assert.rejects(requirePrivacyScan(config, file), /has not been scanned/);
  });

  it('refuses a scanned file with findings until it is redacted; the redacted copy passes', async () => {
    const file = join(dir, 'support.jsonl');
    writeFileSync(
      file,
      `${line('My email is ann@example.com', 'Noted.')}\n${line('Refund window?', '30 days.')}\n`,
    );
    const { record } = await scanDatasetFile(config, file);
    assert.equal(record.counts.email, 1);
    await assert.rejects(requirePrivacyScan(config, file), (error: unknown) => {
      assert.ok(AttuneError.isInstance(error));
      assert.match(error.message, /found 1 email in 1 of 2 examples/);
      assert.equal(
        error.hint,
        `Run: attune dataset scan ${file} --redact ${redactedFileName(file)}   and train on ${redactedFileName(file)} (or pass --allow-unscanned to train on it as it is)`,
      );
      return true;
    });
    const out = redactedFileName(file);
    const result = await scanDatasetFile(config, file, { redactTo: out });
    assert.equal(readFileSync(out, 'utf8').split('\n')[0], line('My email is [EMAIL]', 'Noted.'));
    assert.equal(result.redacted?.total, 0);
    assert.equal(result.redacted?.redactedFrom?.sha256, record.sha256);
    assert.equal((await readScanRecord(config, record.sha256))?.redactedTo?.sha256, result.redacted?.sha256);
    assert.equal((await requirePrivacyScan(config, out))?.redactedFrom?.sha256, record.sha256);
    // The original is still refused: redaction wrote a new file, it did not clean this one.
    await assert.rejects(requirePrivacyScan(config, file), /not redacted/);
  });

  it('refuses to scan a file with malformed lines', async () => {
    const file = join(dir, 'broken.jsonl');
    writeFileSync(file, `${line('a', 'b')}\n{"messages": 3}\n`);
    await assert.rejects(scanDatasetFile(config, file), /broken\.jsonl:2: messages must be an array/);
  });
});
