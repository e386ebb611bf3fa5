import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { parseCsv } from '../ingest/index.ts';
import { AttuneError } from '../models/model-error.ts';
import type { EvalQuestion } from './qa-data.ts';

/**
 * A test set: questions with gold answers, an answerable flag and gold documents, in the layout of
 * shared/data (one `questions.jsonl` line per question). It is frozen with a hash of its questions
 * and the knowledge-base version it was made against, so two runs over it are comparable, and a
 * run over a changed set or knowledge base says so instead of comparing different things.
 */
export type TestQuestion = EvalQuestion;

export type TestSet = {
  name: string;
  createdAt: string;
  /** Where the questions came from: a file path, `generated`, or a shared-data set name. */
  origin: string;
  /** sha256 of the questions in their canonical form (see testSetHash). */
  contentSha256: string;
  /** The knowledge-base version the set was frozen against (undefined: no knowledge base). */
  kbVersion: number | undefined;
  questions: TestQuestion[];
  /** How a generated set was made, and what was dropped. */
  generation?: Record<string, unknown>;
};

export class TestSetError extends AttuneError {}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Reads questions from a JSONL or CSV file; every problem names the line and the field. */
export function readTestQuestions(path: string): TestQuestion[] {
  if (!existsSync(path))
    throw new TestSetError(`Test set file not found: ${path}`, { hint: 'Check the path.' });
  const text = readFileSync(path, 'utf8');
  const ext = extname(path).toLowerCase();
  if (ext !== '.csv' && ext !== '.jsonl' && ext !== '.ndjson')
    throw new TestSetError(`${path}: a test set is a .jsonl or .csv file.`, {
      hint: 'One question per line: {"id","question","answers":[...],"answerable","gold_doc_ids":[...]}',
    });
  const rows = ext === '.csv' ? csvRows(text, path) : jsonlRows(text, path);
  const questions = rows.map(({ line, value }) => toQuestion(value, `${path}:${line}`));
  if (questions.length === 0) throw new TestSetError(`${path}: no questions in the file.`);
  const seen = new Map<string, string>();
  for (const [i, q] of questions.entries()) {
    const where = `${path}:${rows[i]!.line}`;
    const before = seen.get(q.id);
    if (before) throw new TestSetError(`${where}: field "id": "${q.id}" is used twice (first at ${before}).`);
    seen.set(q.id, where);
  }
  return questions;
}

function jsonlRows(text: string, path: string): { line: number; value: unknown }[] {
  const rows: { line: number; value: unknown }[] = [];
  for (const [i, raw] of text.split('\n').entries()) {
    if (raw.trim() === '') continue;
    try {
      rows.push({ line: i + 1, value: JSON.parse(raw) });
    } catch (error) {
      throw new TestSetError(`${path}:${i + 1}: not JSON (${(error as Error).message}).`, {
        hint: 'Each line of a .jsonl test set is one JSON object.',
      });
    }
  }
  return rows;
}

/**
 * CSV columns: id, question, answers (several separated by `|`), answerable (true/false/1/0,
 * default: true when there is an answer), gold_doc_ids (separated by `|`).
 */
function csvRows(text: string, path: string): { line: number; value: unknown }[] {
  const [header, ...rows] = parseCsv(text.replace(/^\uFEFF/, ''));
  if (!header) return [];
  const columns = header.map((h) => h.trim().toLowerCase());
  for (const required of ['question']) {
    if (!columns.includes(required))
      throw new TestSetError(`${path}:1: the header has no "${required}" column.`, {
        hint: 'Columns: id, question, answers, answerable, gold_doc_ids',
      });
  }
  const list = (v: string | undefined) =>
    (v ?? '')
      .split('|')
      .map((s) => s.trim())
      .filter(Boolean);
  return rows
    .map((cells, i) => ({ cells, line: i + 2 }))
    .filter(({ cells }) => cells.some((c) => c.trim() !== ''))
    .map(({ cells, line }) => {
      const get = (name: string) => {
        const index = columns.indexOf(name);
        return index < 0 ? undefined : cells[index];
      };
      const answers = list(get('answers') ?? get('answer'));
      const flag = get('answerable')?.trim().toLowerCase();
      if (flag !== undefined && flag !== '' && !['true', 'false', '1', '0', 'yes', 'no'].includes(flag))
        throw new TestSetError(`${path}:${line}: field "answerable" is "${flag}"; use true or false.`);
      return {
        line,
        value: {
          id: get('id')?.trim() || `q${line - 1}`,
          question: get('question') ?? '',
          answers,
          answerable:
            flag === undefined || flag === '' ? answers.length > 0 : ['true', '1', 'yes'].includes(flag),
          gold_doc_ids: list(get('gold_doc_ids') ?? get('gold_doc_id')),
        },
      };
    });
}

function toQuestion(value: unknown, where: string): TestQuestion {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new TestSetError(`${where}: a question is a JSON object.`);
  const o = value as Record<string, unknown>;
  const field = (name: string, problem: string) =>
    new TestSetError(`${where}: field "${name}" ${problem}.`, {
      hint: 'Fields: id (string), question (string), answers (array of strings), answerable (boolean), gold_doc_ids (array of strings).',
    });
  const strings = (name: string): string[] => {
    const v = o[name];
    if (v === undefined) return [];
    if (!Array.isArray(v) || v.some((s) => typeof s !== 'string'))
      throw field(name, 'must be an array of strings');
    return (v as string[]).map((s) => s.trim()).filter(Boolean);
  };
  if (typeof o.id !== 'string' || o.id.trim() === '') throw field('id', 'is missing or not a string');
  if (typeof o.question !== 'string' || o.question.trim() === '')
    throw field('question', 'is missing or empty');
  const answers = strings('answers');
  const answerable = o.answerable === undefined ? answers.length > 0 : o.answerable;
  if (typeof answerable !== 'boolean') throw field('answerable', 'must be true or false');
  if (answerable && answers.length === 0)
    throw field(
      'answers',
      'is empty, but the question is answerable; give a gold answer or set "answerable": false',
    );
  return {
    id: o.id.trim(),
    question: o.question.trim(),
    answers: answerable ? answers : [],
    answerable,
    gold_doc_ids: strings('gold_doc_ids'),
  };
}

/** sha256 of the questions, key order and whitespace fixed: the same questions, the same hash. */
export function testSetHash(questions: readonly TestQuestion[]): string {
  const canonical = questions.map((q) =>
    JSON.stringify([q.id, q.question, q.answers, q.answerable, q.gold_doc_ids]),
  );
  return createHash('sha256').update(canonical.join('\n')).digest('hex');
}

export function freezeTestSet(
  questions: TestQuestion[],
  options: {
    name: string;
    origin: string;
    kbVersion: number | undefined;
    generation?: Record<string, unknown>;
  },
): TestSet {
  checkName(options.name);
  return {
    name: options.name,
    createdAt: new Date().toISOString(),
    origin: options.origin,
    contentSha256: testSetHash(questions),
    kbVersion: options.kbVersion,
    questions,
    ...(options.generation ? { generation: options.generation } : {}),
  };
}

function checkName(name: string): void {
  if (!NAME.test(name))
    throw new TestSetError(`"${name}" is not a test-set name.`, {
      hint: 'Letters, digits, ".", "_" and "-", at most 64, starting with a letter or digit.',
    });
}

/** A gold document id matches a stored document id exactly, or as its record (`file.jsonl#id`) or file name. */
export function matchesGold(docId: string, gold: string): boolean {
  return docId === gold || docId.endsWith(`#${gold}`) || docId.endsWith(`/${gold}`);
}

/** Gold ids no stored document matches, with the question that names them. */
export function unknownGoldDocuments(
  questions: readonly TestQuestion[],
  docIds: readonly string[],
): { questionId: string; goldDocId: string }[] {
  // Every suffix after a "#" or "/" of every id: `squad/p.jsonl#Normans#3` answers to "Normans#3",
  // "3" and "p.jsonl#Normans#3"; one set, so a big test set over a big knowledge base stays linear.
  const known = new Set<string>();
  for (const id of docIds) {
    known.add(id);
    for (let i = 0; i < id.length; i++) if (id[i] === '#' || id[i] === '/') known.add(id.slice(i + 1));
  }
  const unknown: { questionId: string; goldDocId: string }[] = [];
  for (const q of questions)
    for (const gold of q.gold_doc_ids)
      if (!known.has(gold)) unknown.push({ questionId: q.id, goldDocId: gold });
  return unknown;
}

/** Frozen test sets, one JSON file each, in `<knowledge-base dir>/testsets`. */
export class TestSetStore {
  readonly dir: string;
  constructor(dir: string) {
    this.dir = dir;
  }

  save(set: TestSet, options: { overwrite?: boolean } = {}): string {
    checkName(set.name);
    mkdirSync(this.dir, { recursive: true });
    const path = join(this.dir, `${set.name}.json`);
    if (existsSync(path) && !options.overwrite)
      throw new TestSetError(`A test set named "${set.name}" exists already.`, {
        hint: 'Choose another --name, or pass --overwrite (runs over the old one stay comparable only with each other).',
      });
    // Write-then-rename: a crash leaves the old file or the new one, never half of one.
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(set, null, 1)}\n`);
    renameSync(tmp, path);
    return path;
  }

  /** By name, or a path to a test-set JSON file. */
  load(nameOrPath: string): TestSet {
    const path = nameOrPath.endsWith('.json') ? nameOrPath : join(this.dir, `${nameOrPath}.json`);
    if (!existsSync(path))
      throw new TestSetError(`No test set "${nameOrPath}".`, {
        hint: `Known: ${this.list().join(', ') || 'none'}. Make one with: attune testset import <file.jsonl|csv> --name <name>`,
      });
    const set = JSON.parse(readFileSync(path, 'utf8')) as TestSet;
    const hash = testSetHash(set.questions);
    if (hash !== set.contentSha256)
      throw new TestSetError(
        `Test set ${path} was edited after it was frozen (its hash no longer matches).`,
        {
          hint: 'Import the edited questions as a new test set, so runs over the old and the new are not mixed.',
        },
      );
    return set;
  }

  list(): string[] {
    if (!existsSync(this.dir)) return [];
    return readdirSync(this.dir)
      .filter((f) => f.endsWith('.json'))
      .map((f) => basename(f, '.json'))
      .sort();
  }
}
