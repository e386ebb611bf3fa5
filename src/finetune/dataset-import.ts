import { readFile } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { parseCsv } from '../ingest/index.ts';
import type { ChatExample, ChatTurn } from './chat-example.ts';
import { DatasetError, type DatasetIssue } from './dataset-issue.ts';

/**
 * - `chat`: OpenAI chat JSONL, `{"messages":[{"role","content"}, ...]}` per line (also a JSON array of those).
 * - `pairs`: `{"prompt","completion"}` (or `{"question","answer"}`) per line.
 * - `transcript-csv`: rows with a conversation id, a speaker and a text column (any order, a header row).
 * - `transcript-json`: conversations with speaker turns: `[{"id", "turns":[{"speaker","text"}]}]`,
 *   `{"conversations":[...]}`, ShareGPT (`{"conversations":[{"from":"human","value"}]}` per line) or flat
 *   rows `[{"conversation_id","speaker","text"}]`.
 */
export type DatasetFormat = 'chat' | 'pairs' | 'transcript-csv' | 'transcript-json';
export const datasetFormats: readonly DatasetFormat[] = [
  'chat',
  'pairs',
  'transcript-csv',
  'transcript-json',
];

export type Role = ChatTurn['role'];

export type ImportOptions = {
  /** Skip detection and read the file as this format. */
  format?: DatasetFormat;
  /** Transcripts: speaker name (case-insensitive) → role; checked before the defaults (see roleForSpeaker). */
  speakerRoles?: Record<string, Role>;
  /** Prepended as a system turn to every example built from pairs and transcripts. */
  system?: string;
};

export type ImportResult = {
  file: string;
  format: DatasetFormat;
  examples: ChatExample[];
  /** Lines or entries that could not be read; each is left out of `examples`. */
  issues: DatasetIssue[];
};

const chatRoles = new Set<string>(['system', 'user', 'assistant']);

/** Reads a dataset file in any supported format; problems are collected, not thrown. */
export async function readDataset(file: string, options: ImportOptions = {}): Promise<ImportResult> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new DatasetError(`Cannot read dataset ${file}: ${(error as NodeJS.ErrnoException).message}`, []);
  }
  return parseDataset(text, { ...options, file });
}

/**
 * Like readDataset, but any unreadable line is an error: the trainer must not silently train on
 * part of what the user gave it.
 */
export async function loadDataset(file: string, options: ImportOptions = {}): Promise<ChatExample[]> {
  return readableExamples(await readDataset(file, options));
}

/** The examples of an import, or a DatasetError naming every unreadable line. */
export function readableExamples(result: ImportResult): ChatExample[] {
  const errors = result.issues.filter((i) => i.severity === 'error');
  if (errors.length > 0) {
    throw new DatasetError(
      `${errors.length} malformed ${errors.length === 1 ? 'entry' : 'entries'} in ${result.file}:`,
      errors,
      `Fix them, or list every issue with: attune dataset validate ${result.file}`,
    );
  }
  return result.examples;
}

/** Parses dataset text; `file` names it in issue locations (a basename is enough). */
export function parseDataset(text: string, options: ImportOptions & { file: string }): ImportResult {
  const name = basename(options.file);
  const format = options.format ?? detectDatasetFormat(text, options.file);
  const issues: DatasetIssue[] = [];
  let examples: ChatExample[];
  const text0 = text.replace(/^\uFEFF/, '');
  if (format === 'chat') examples = parseChat(text0, name, issues);
  else if (format === 'pairs') examples = parsePairs(text0, name, issues, options);
  else if (format === 'transcript-csv') examples = parseTranscriptCsv(text0, name, issues, options);
  else examples = parseTranscriptJson(text0, name, issues, options);
  // In file order, whichever pass found them.
  const lineOf = (i: DatasetIssue) => Number(/:(\d+)$/.exec(i.location ?? '')?.[1] ?? 0);
  issues.sort((a, b) => lineOf(a) - lineOf(b));
  return { file: options.file, format, examples, issues };
}

/** Decides the format from the file extension and the first entry; throws when it cannot tell. */
export function detectDatasetFormat(text: string, file: string): DatasetFormat {
  const ext = extname(file).toLowerCase();
  if (ext === '.csv' || ext === '.tsv') return 'transcript-csv';
  const body = text.replace(/^\uFEFF/, '');
  const firstLine = body.split('\n').find((l) => l.trim() !== '');
  if (firstLine === undefined) {
    throw new DatasetError(`${basename(file)} is empty.`, [], 'A dataset needs at least one example.');
  }
  let first: unknown;
  try {
    first = JSON.parse(firstLine);
  } catch {
    // A pretty-printed JSON file: its first line alone is not JSON.
    try {
      const whole = JSON.parse(body) as unknown;
      const sample = Array.isArray(whole) ? whole[0] : whole;
      return isRecord(sample) && looksLikeChat(sample) ? 'chat' : 'transcript-json';
    } catch {
      throw new DatasetError(
        `Cannot tell the format of ${basename(file)}: line 1 is not JSON and the file is not CSV.`,
        [],
        `Force one with --format (${datasetFormats.join(', ')}).`,
      );
    }
  }
  const sample = Array.isArray(first) ? first[0] : first;
  if (isRecord(sample)) {
    if (looksLikeChat(sample)) return 'chat';
    if (pairFields(sample)) return 'pairs';
    if (turnList(sample) || (speakerOf(sample) !== undefined && textOf(sample) !== undefined))
      return 'transcript-json';
    if (Array.isArray(sample.conversations)) return 'transcript-json';
  }
  throw new DatasetError(
    `Cannot tell the format of ${basename(file)} from its first entry.`,
    [],
    `Expected {"messages":[...]}, {"prompt","completion"} or speaker turns; force one with --format (${datasetFormats.join(', ')}).`,
  );
}

function looksLikeChat(value: Record<string, unknown>): boolean {
  const messages = value.messages;
  return (
    Array.isArray(messages) &&
    messages.some((m) => isRecord(m) && typeof m.role === 'string' && chatRoles.has(m.role))
  );
}

// ---------------------------------------------------------------------------------------------
// chat

function parseChat(text: string, file: string, issues: DatasetIssue[]): ChatExample[] {
  const examples: ChatExample[] = [];
  for (const entry of jsonEntries(text, file, issues)) {
    const example = chatExampleFrom(entry.value, entry.location, entry.prefix, issues);
    if (example) examples.push({ ...example, meta: { ...example.meta, file, ...entry.meta } });
  }
  return examples;
}

/** Builds one example from an OpenAI chat entry, or records why not. */
function chatExampleFrom(
  value: unknown,
  location: string,
  prefix: string,
  issues: DatasetIssue[],
): ChatExample | undefined {
  const fail = (field: string, message: string) => {
    issues.push({ severity: 'error', code: 'format', message: `${field}${message}`, location });
    return undefined;
  };
  if (!isRecord(value)) return fail(prefix || 'entry', ' must be a JSON object');
  if (!Array.isArray(value.messages)) return fail(`${prefix}messages`, ' must be an array of messages');
  const messages: ChatTurn[] = [];
  for (const [i, m] of value.messages.entries()) {
    const field = `${prefix}messages[${i}]`;
    if (!isRecord(m)) return fail(field, ' must be an object with role and content');
    if (typeof m.role !== 'string' || !chatRoles.has(m.role)) {
      return fail(
        `${field}.role`,
        ` must be system, user or assistant${m.role === undefined ? '' : ` (got ${JSON.stringify(m.role)})`}`,
      );
    }
    const content = contentText(m.content);
    if (content === undefined) return fail(`${field}.content`, ' must be a string (or a list of text parts)');
    messages.push({ role: m.role as Role, content });
  }
  const meta = isRecord(value.meta) ? value.meta : undefined;
  return { messages, ...(meta ? { meta } : {}) };
}

/** OpenAI allows content as a list of parts; only text parts can be trained on here. */
function contentText(content: unknown): string | undefined {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return undefined;
  const parts: string[] = [];
  for (const part of content) {
    if (!isRecord(part) || part.type !== 'text' || typeof part.text !== 'string') return undefined;
    parts.push(part.text);
  }
  return parts.join('');
}

// ---------------------------------------------------------------------------------------------
// prompt/completion pairs

function parsePairs(
  text: string,
  file: string,
  issues: DatasetIssue[],
  options: ImportOptions,
): ChatExample[] {
  const examples: ChatExample[] = [];
  for (const entry of jsonEntries(text, file, issues)) {
    const fail = (message: string) =>
      issues.push({ severity: 'error', code: 'format', message, location: entry.location });
    if (!isRecord(entry.value)) {
      fail(`${entry.prefix || 'entry'} must be a JSON object`);
      continue;
    }
    const fields = pairFields(entry.value) ?? { prompt: 'prompt', completion: 'completion' };
    const prompt = entry.value[fields.prompt];
    const completion = entry.value[fields.completion];
    if (typeof prompt !== 'string') {
      fail(`${entry.prefix}${fields.prompt} must be a string`);
      continue;
    }
    if (typeof completion !== 'string') {
      fail(`${entry.prefix}${fields.completion} must be a string`);
      continue;
    }
    const system = typeof entry.value.system === 'string' ? entry.value.system : options.system;
    examples.push({
      messages: [
        ...(system ? [{ role: 'system' as const, content: system }] : []),
        // Legacy completion datasets pad with separators and a leading space; chat templates do not need them.
        { role: 'user', content: prompt.trim() },
        { role: 'assistant', content: completion.trim() },
      ],
      meta: { file, ...entry.meta },
    });
  }
  return examples;
}

function pairFields(value: Record<string, unknown>): { prompt: string; completion: string } | undefined {
  if ('prompt' in value && 'completion' in value) return { prompt: 'prompt', completion: 'completion' };
  if ('question' in value && 'answer' in value) return { prompt: 'question', completion: 'answer' };
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// transcripts

const assistantSpeakers = new Set([
  'assistant',
  'agent',
  'bot',
  'chatbot',
  'ai',
  'gpt',
  'model',
  'support',
  'operator',
  'representative',
  'rep',
  'advisor',
  'helpdesk',
]);

/**
 * Default mapping: `system` → system; a speaker named (or whose first word is) assistant, agent, bot,
 * chatbot, ai, gpt, model, support, operator, representative, rep, advisor or helpdesk → assistant
 * ("Agent Smith", "support_2"); everyone else (customer, user, human, a person's name) → user.
 * `overrides` (case-insensitive, exact speaker) come first.
 */
export function roleForSpeaker(speaker: string, overrides: Record<string, Role> = {}): Role {
  const key = speaker.trim().toLowerCase();
  for (const [name, role] of Object.entries(overrides)) if (name.trim().toLowerCase() === key) return role;
  if (key === 'system') return 'system';
  const firstWord = key.split(/[^\p{L}]+/u).find(Boolean) ?? key;
  if (assistantSpeakers.has(key) || assistantSpeakers.has(firstWord)) return 'assistant';
  return 'user';
}

type Utterance = { speaker: string; text: string; location: string; order?: string };
type Conversation = { id: string; location: string; utterances: Utterance[] };

const columnAliases = {
  conversation: [
    'conversationid',
    'conversation',
    'dialogid',
    'dialogueid',
    'threadid',
    'sessionid',
    'chatid',
    'ticketid',
  ],
  speaker: ['speaker', 'role', 'author', 'from', 'sender', 'participant', 'speakername'],
  text: ['text', 'content', 'message', 'utterance', 'body', 'value', 'transcript'],
  order: ['turn', 'turnid', 'turnindex', 'index', 'seq', 'sequence', 'position', 'timestamp', 'time'],
} as const;

const normalizeKey = (key: string) => key.toLowerCase().replace(/[^a-z0-9]/g, '');

function parseTranscriptCsv(
  text: string,
  file: string,
  issues: DatasetIssue[],
  options: ImportOptions,
): ChatExample[] {
  const delimiter = file.toLowerCase().endsWith('.tsv') ? '\t' : ',';
  let rows: string[][];
  try {
    rows = parseCsv(text, delimiter);
  } catch (error) {
    issues.push({ severity: 'error', code: 'format', message: (error as Error).message, location: file });
    return [];
  }
  // Line of each row: a quoted field may span lines.
  const lines: number[] = [];
  let line = 1;
  for (const row of rows) {
    lines.push(line);
    line += 1 + row.reduce((n, f) => n + (f.match(/\n/g)?.length ?? 0), 0);
  }
  const header = (rows[0] ?? []).map(normalizeKey);
  const column = (names: readonly string[]) => header.findIndex((h) => names.includes(h));
  const columns = {
    conversation: column(columnAliases.conversation),
    speaker: column(columnAliases.speaker),
    text: column(columnAliases.text),
    order: column(columnAliases.order),
  };
  for (const required of ['speaker', 'text'] as const) {
    if (columns[required] < 0) {
      issues.push({
        severity: 'error',
        code: 'format',
        message: `no ${required} column in the header (expected one of ${columnAliases[required].join(', ')})`,
        location: `${file}:1`,
      });
    }
  }
  if (columns.speaker < 0 || columns.text < 0) return [];
  if (columns.conversation < 0) {
    issues.push({
      severity: 'warning',
      code: 'no-conversation-id',
      message: `no conversation id column (expected one of ${columnAliases.conversation.join(', ')}): the whole file is read as one conversation`,
      location: `${file}:1`,
    });
  }
  const conversations = new Map<string, Conversation>();
  for (let r = 1; r < rows.length; r++) {
    const row = rows[r]!;
    const location = `${file}:${lines[r]}`;
    if (row.every((f) => f.trim() === '')) continue;
    const cell = (c: number) => (c >= 0 ? (row[c] ?? '') : '');
    const id = columns.conversation >= 0 ? cell(columns.conversation).trim() : '(file)';
    const speaker = cell(columns.speaker).trim();
    const utterance = cell(columns.text);
    if (id === '') {
      issues.push({
        severity: 'error',
        code: 'format',
        message: `${header[columns.conversation]} is empty`,
        location,
      });
      continue;
    }
    if (speaker === '') {
      issues.push({
        severity: 'error',
        code: 'format',
        message: `${header[columns.speaker]} is empty`,
        location,
      });
      continue;
    }
    let conversation = conversations.get(id);
    if (!conversation) {
      conversation = { id, location, utterances: [] };
      conversations.set(id, conversation);
    }
    conversation.utterances.push({
      speaker,
      text: utterance,
      location,
      ...(columns.order >= 0 ? { order: cell(columns.order).trim() } : {}),
    });
  }
  return [...conversations.values()].flatMap((c) => conversationExample(c, file, issues, options));
}

function parseTranscriptJson(
  text: string,
  file: string,
  issues: DatasetIssue[],
  options: ImportOptions,
): ChatExample[] {
  const conversations: Conversation[] = [];
  const rows: { value: Record<string, unknown>; location: string; prefix: string }[] = [];
  const visit = (value: unknown, location: string, prefix: string) => {
    if (!isRecord(value)) {
      issues.push({
        severity: 'error',
        code: 'format',
        message: `${prefix || 'entry'} must be an object`,
        location,
      });
      return;
    }
    const turns = turnList(value);
    if (turns) {
      const conversation: Conversation = {
        id: conversationIdOf(value) ?? `${prefix || location}`,
        location,
        utterances: [],
      };
      for (const [i, turn] of (value[turns] as unknown[]).entries()) {
        const u = utteranceFrom(turn, location, `${prefix}${turns}[${i}]`, issues);
        if (u) conversation.utterances.push(u);
      }
      conversations.push(conversation);
      return;
    }
    if (Array.isArray(value.conversations)) {
      for (const [i, c] of value.conversations.entries()) visit(c, location, `${prefix}conversations[${i}].`);
      return;
    }
    if (speakerOf(value) !== undefined || textOf(value) !== undefined) {
      rows.push({ value, location, prefix });
      return;
    }
    issues.push({
      severity: 'error',
      code: 'format',
      message: `${prefix || 'entry'} has no turns (expected a turns, messages or utterances array, or speaker and text fields)`,
      location,
    });
  };
  for (const entry of jsonEntries(text, file, issues)) {
    if (Array.isArray(entry.value)) {
      for (const [i, v] of entry.value.entries()) visit(v, entry.location, `${entry.prefix}[${i}].`);
    } else visit(entry.value, entry.location, entry.prefix);
  }
  // Flat rows are grouped by their conversation id, as in CSV.
  const grouped = new Map<string, Conversation>();
  for (const row of rows) {
    const u = utteranceFrom(row.value, row.location, row.prefix.replace(/\.$/, '') || 'entry', issues);
    if (!u) continue;
    const id = conversationIdOf(row.value) ?? '(file)';
    let conversation = grouped.get(id);
    if (!conversation) {
      conversation = { id, location: row.location, utterances: [] };
      grouped.set(id, conversation);
    }
    conversation.utterances.push(u);
  }
  conversations.push(...grouped.values());
  return conversations.flatMap((c) => conversationExample(c, file, issues, options));
}

function utteranceFrom(
  value: unknown,
  location: string,
  field: string,
  issues: DatasetIssue[],
): Utterance | undefined {
  const fail = (message: string) => {
    issues.push({ severity: 'error', code: 'format', message: `${field}${message}`, location });
    return undefined;
  };
  if (!isRecord(value)) return fail(' must be an object with speaker and text');
  const speakerKey = speakerOf(value);
  const textKey = textOf(value);
  if (!speakerKey) return fail(`.speaker is missing (expected one of ${columnAliases.speaker.join(', ')})`);
  if (!textKey) return fail(`.text is missing (expected one of ${columnAliases.text.join(', ')})`);
  const speaker = value[speakerKey];
  const text = value[textKey];
  if (typeof speaker !== 'string' || speaker.trim() === '')
    return fail(`.${speakerKey} must be a non-empty string`);
  if (typeof text !== 'string') return fail(`.${textKey} must be a string`);
  const orderKey = Object.keys(value).find((k) =>
    (columnAliases.order as readonly string[]).includes(normalizeKey(k)),
  );
  const order = orderKey !== undefined ? value[orderKey] : undefined;
  return {
    speaker: speaker.trim(),
    text,
    location,
    ...(typeof order === 'string' || typeof order === 'number' ? { order: String(order) } : {}),
  };
}

/** Turns a conversation into one example: roles mapped, empty turns skipped, same-role runs merged. */
function conversationExample(
  conversation: Conversation,
  file: string,
  issues: DatasetIssue[],
  options: ImportOptions,
): ChatExample[] {
  const utterances = [...conversation.utterances];
  if (utterances.length > 0 && utterances.every((u) => u.order !== undefined && u.order !== '')) {
    const numeric = utterances.every((u) => Number.isFinite(Number(u.order)));
    // Stable sort: ties keep file order.
    utterances.sort((a, b) =>
      numeric ? Number(a.order) - Number(b.order) : a.order!.localeCompare(b.order!),
    );
  }
  const messages: ChatTurn[] = options.system ? [{ role: 'system', content: options.system }] : [];
  const speakers: Record<string, Role> = {};
  for (const u of utterances) {
    if (u.text.trim() === '') {
      issues.push({
        severity: 'warning',
        code: 'empty-content',
        message: `empty message from ${u.speaker} in conversation ${conversation.id} skipped`,
        location: u.location,
      });
      continue;
    }
    const role = roleForSpeaker(u.speaker, options.speakerRoles);
    speakers[u.speaker] = role;
    const last = messages.at(-1);
    // Chat templates expect alternating turns; consecutive messages of one side are one turn.
    if (last && last.role === role && messages.length > (options.system ? 1 : 0))
      last.content += `\n${u.text.trim()}`;
    else messages.push({ role, content: u.text.trim() });
  }
  if (messages.length === 0) return [];
  return [
    {
      messages,
      meta: { file, location: conversation.location, conversationId: conversation.id, speakers },
    },
  ];
}

function turnList(value: Record<string, unknown>): string | undefined {
  for (const key of [
    'turns',
    'utterances',
    'messages',
    'conversation',
    'conversations',
    'dialogue',
    'dialog',
  ]) {
    const list = value[key];
    if (
      Array.isArray(list) &&
      list.length > 0 &&
      list.every((t) => isRecord(t) && speakerOf(t) !== undefined)
    )
      return key;
  }
  return undefined;
}

function speakerOf(value: Record<string, unknown>): string | undefined {
  return Object.keys(value).find((k) =>
    (columnAliases.speaker as readonly string[]).includes(normalizeKey(k)),
  );
}

function textOf(value: Record<string, unknown>): string | undefined {
  return Object.keys(value).find((k) => (columnAliases.text as readonly string[]).includes(normalizeKey(k)));
}

function conversationIdOf(value: Record<string, unknown>): string | undefined {
  const key = Object.keys(value).find((k) =>
    [...columnAliases.conversation, 'id'].includes(normalizeKey(k) as never),
  );
  const id = key === undefined ? undefined : value[key];
  return typeof id === 'string' || typeof id === 'number' ? String(id) : undefined;
}

// ---------------------------------------------------------------------------------------------
// shared

type JsonEntry = {
  value: unknown;
  /** `file:17` for a JSONL line, `file` for a whole-file JSON (the prefix then says where). */
  location: string;
  /** Field path prefix inside the entry (`[3].` inside a whole-file array). */
  prefix: string;
  meta: Record<string, unknown>;
};

/**
 * JSONL, one entry per non-empty line; or, when the first line is not JSON but the whole text is, a
 * whole-file JSON (an array gives one entry per element).
 */
function jsonEntries(text: string, file: string, issues: DatasetIssue[]): JsonEntry[] {
  const lines = text.split('\n');
  const firstIndex = lines.findIndex((l) => l.trim() !== '');
  if (firstIndex < 0) return [];
  let firstIsJson = true;
  try {
    JSON.parse(lines[firstIndex]!);
  } catch {
    firstIsJson = false;
  }
  if (!firstIsJson) {
    try {
      const whole = JSON.parse(text) as unknown;
      if (Array.isArray(whole)) {
        return whole.map((value, i) => ({ value, location: file, prefix: `[${i}].`, meta: { index: i } }));
      }
      return [{ value: whole, location: file, prefix: '', meta: {} }];
    } catch {
      // Not a whole-file JSON either: report line by line below.
    }
  }
  const entries: JsonEntry[] = [];
  for (const [i, line] of lines.entries()) {
    if (line.trim() === '') continue;
    const location = `${file}:${i + 1}`;
    try {
      entries.push({ value: JSON.parse(line), location, prefix: '', meta: { line: i + 1 } });
    } catch (error) {
      issues.push({
        severity: 'error',
        code: 'json',
        message: `not valid JSON (${(error as Error).message})`,
        location,
      });
    }
  }
  return entries;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
