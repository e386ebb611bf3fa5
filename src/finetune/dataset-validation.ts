import { createHash } from 'node:crypto';
import { percentile } from '../eval/percentile.ts';
import type { Tokenizer } from '../models/model-spec.ts';
import type { ChatExample, ChatTurn } from './chat-example.ts';
import { type ImportOptions, readDataset } from './dataset-import.ts';
import type { DatasetIssue } from './dataset-issue.ts';

export type ValidateOptions = {
  /** The base model's own tokenizer; without it lengths are not checked and token statistics are absent. */
  tokenizer?: Tokenizer;
  /** Longest example the training run accepts, in the base model's tokens (its maxSeqLength or context). */
  contextTokens?: number;
  /** Fewer examples than this is an error. Default 10 (what hosted fine-tuning services require). */
  minExamples?: number;
  /** Issues located in the source file, from the importer; they are merged into the report. */
  importIssues?: DatasetIssue[];
};

export type Distribution = { count: number; min: number; mean: number; p95: number; max: number };

export type DatasetStats = {
  examples: number;
  turns: { total: number; system: number; user: number; assistant: number };
  /**
   * In the base model's tokens, counted as `countExampleTokens` says. `perExample` is the whole
   * rendered example; `perRole` the turns of each role, framing included.
   */
  tokens?: {
    tokenizer: string;
    total: number;
    perExample: Distribution;
    perRole: { system?: Distribution; user?: Distribution; assistant?: Distribution };
  };
  characters: Distribution;
  /** Examples that repeat an earlier one exactly (same roles and contents). */
  duplicates: number;
  longest?: { example: number; tokens?: number; characters: number; location?: string };
};

export type DatasetReport = {
  ok: boolean;
  errors: DatasetIssue[];
  warnings: DatasetIssue[];
  stats: DatasetStats;
};

const roles = new Set<string>(['system', 'user', 'assistant']);

/**
 * Checks a dataset before training. Errors make training refuse: an unreadable line, an unknown
 * role, empty content, no assistant turn, an example longer than the context, fewer than
 * `minExamples` examples. Warnings do not: duplicates, a trailing user turn (never trained on),
 * consecutive turns of one role, a system turn after the first position.
 */
export function validateDataset(examples: ChatExample[], options: ValidateOptions = {}): DatasetReport {
  const issues: DatasetIssue[] = [...(options.importIssues ?? [])];
  const minExamples = options.minExamples ?? 10;
  const seen = new Map<string, number>();
  const counter = options.tokenizer ? chatTokenCounter(options.tokenizer) : undefined;
  for (const [index, example] of examples.entries()) {
    const location = locationOf(example);
    const add = (severity: DatasetIssue['severity'], code: string, message: string, turn?: number) =>
      issues.push({
        severity,
        code,
        message: `${exampleName(index)}${turn === undefined ? '' : ` messages[${turn}]`}: ${message}`,
        example: index,
        ...(turn === undefined ? {} : { turn }),
        ...(location ? { location } : {}),
      });
    if (!Array.isArray(example.messages) || example.messages.length === 0) {
      add('error', 'no-messages', 'has no messages');
      continue;
    }
    let assistantTurns = 0;
    for (const [turn, message] of example.messages.entries()) {
      if (!roles.has(message.role)) {
        add(
          'error',
          'role',
          `role must be system, user or assistant (got ${JSON.stringify(message.role)})`,
          turn,
        );
        continue;
      }
      if (typeof message.content !== 'string' || message.content.trim() === '') {
        add('error', 'empty-content', 'content is empty', turn);
      }
      if (message.role === 'assistant') assistantTurns++;
      if (message.role === 'system' && turn > 0) {
        add(
          'warning',
          'system-position',
          'a system turn after the first position; most chat templates drop or misplace it',
          turn,
        );
      }
      const previous = example.messages[turn - 1];
      if (previous && previous.role === message.role && message.role !== 'system') {
        add(
          'warning',
          'same-role',
          `two ${message.role} turns in a row; chat templates expect alternation`,
          turn,
        );
      }
    }
    if (assistantTurns === 0) add('error', 'no-assistant', 'has no assistant turn, so nothing to learn from');
    else if (example.messages.at(-1)?.role !== 'assistant') {
      add(
        'warning',
        'trailing-turn',
        `ends with a ${example.messages.at(-1)?.role} turn, which is never trained on`,
      );
    }
    const key = exampleKey(example);
    const first = seen.get(key);
    if (first !== undefined) add('warning', 'duplicate', `duplicates ${exampleName(first)}`);
    else seen.set(key, index);
    if (counter && options.contextTokens !== undefined) {
      const tokens = counter.example(example);
      if (tokens > options.contextTokens) {
        add(
          'error',
          'too-long',
          `${tokens} tokens, over the ${options.contextTokens}-token limit; shorten or drop it`,
        );
      }
    }
  }
  if (examples.length < minExamples) {
    issues.push({
      severity: 'error',
      code: 'too-few',
      message: `${examples.length} example${examples.length === 1 ? '' : 's'}; at least ${minExamples} are needed`,
    });
  }
  if (!counter) {
    issues.push({
      severity: 'warning',
      code: 'no-tokenizer',
      message: "no tokenizer given: lengths were not checked against the base model's context",
    });
  }
  const errors = issues.filter((i) => i.severity === 'error');
  const warnings = issues.filter((i) => i.severity === 'warning');
  // The same counter, so every turn is tokenized once for both the checks and the statistics.
  return {
    ok: errors.length === 0,
    errors,
    warnings,
    stats: statsWith(examples, counter, options.tokenizer?.modelId),
  };
}

/** Reads a file in any supported format and validates it; import problems become errors of the report. */
export async function validateDatasetFile(
  file: string,
  options: ValidateOptions & ImportOptions = {},
): Promise<DatasetReport & { examples: ChatExample[] }> {
  const imported = await readDataset(file, options);
  const report = validateDataset(imported.examples, { ...options, importIssues: imported.issues });
  return { ...report, examples: imported.examples };
}

/** Counts, per-role token distributions, duplicates and the longest example. */
export function datasetStats(examples: ChatExample[], options: { tokenizer?: Tokenizer } = {}): DatasetStats {
  const tokenizer = options.tokenizer;
  return statsWith(examples, tokenizer ? chatTokenCounter(tokenizer) : undefined, tokenizer?.modelId);
}

function statsWith(
  examples: ChatExample[],
  counter: ChatTokenCounter | undefined,
  tokenizerId: string | undefined,
): DatasetStats {
  const turns = { total: 0, system: 0, user: 0, assistant: 0 };
  const perRole: Record<ChatTurn['role'], number[]> = { system: [], user: [], assistant: [] };
  const perExample: number[] = [];
  const characters: number[] = [];
  const seen = new Set<string>();
  let duplicates = 0;
  let longest: DatasetStats['longest'];
  for (const [index, example] of examples.entries()) {
    const messages = Array.isArray(example.messages) ? example.messages : [];
    let chars = 0;
    let tokens = 0;
    for (const m of messages) {
      turns.total++;
      if (m.role in turns) turns[m.role]++;
      chars += typeof m.content === 'string' ? m.content.length : 0;
      if (counter && roles.has(m.role)) {
        const t = counter.turn(m);
        perRole[m.role].push(t);
        tokens += t;
      }
    }
    characters.push(chars);
    if (counter) perExample.push(tokens);
    const key = exampleKey(example);
    if (seen.has(key)) duplicates++;
    else seen.add(key);
    const size = counter ? tokens : chars;
    const best = longest ? (counter ? longest.tokens! : longest.characters) : -1;
    if (size > best) {
      const location = locationOf(example);
      longest = {
        example: index,
        ...(counter ? { tokens } : {}),
        characters: chars,
        ...(location ? { location } : {}),
      };
    }
  }
  const stats: DatasetStats = {
    examples: examples.length,
    turns,
    characters: distribution(characters),
    duplicates,
  };
  if (longest) stats.longest = longest;
  if (counter) {
    stats.tokens = {
      tokenizer: tokenizerId ?? '',
      total: perExample.reduce((a, b) => a + b, 0),
      perExample: distribution(perExample),
      perRole: Object.fromEntries(
        Object.entries(perRole)
          .filter(([, v]) => v.length > 0)
          .map(([role, v]) => [role, distribution(v)]),
      ),
    };
  }
  return stats;
}

/**
 * Token length of an example as the trainer will see it, counted per turn: the content in the
 * base model's own tokenizer, plus the ChatML framing `<|im_start|>{role}\n … <|im_end|>\n`
 * (two special tokens, the role line and the closing newline, measured with the same tokenizer).
 * ChatML is what SmolLM2 and Qwen use; other templates differ by a few tokens per turn, and a
 * template that injects a default system prompt adds that prompt once. Counting turns separately
 * can differ from tokenizing the joined text by a token at a boundary.
 */
export function countExampleTokens(example: ChatExample, tokenizer: Tokenizer): number {
  return chatTokenCounter(tokenizer).example(example);
}

type ChatTokenCounter = { turn: (m: ChatTurn) => number; example: (e: ChatExample) => number };

function chatTokenCounter(tokenizer: Tokenizer): ChatTokenCounter {
  const overhead = new Map<string, number>();
  const counted = new WeakMap<ChatTurn, number>();
  const turn = (m: ChatTurn) => {
    const known = counted.get(m);
    if (known !== undefined) return known;
    const tokens = countTurn(m);
    counted.set(m, tokens);
    return tokens;
  };
  const countTurn = (m: ChatTurn) => {
    let framing = overhead.get(m.role);
    if (framing === undefined) {
      // <|im_start|> and <|im_end|> are one special token each; the role line and trailing newline are text.
      framing = 2 + tokenizer.countTokens(`${m.role}\n`) + tokenizer.countTokens('\n');
      overhead.set(m.role, framing);
    }
    return (
      framing + (typeof m.content === 'string' && m.content !== '' ? tokenizer.countTokens(m.content) : 0)
    );
  };
  return {
    turn,
    example: (e: ChatExample) =>
      (Array.isArray(e.messages) ? e.messages : []).reduce((n, m) => n + turn(m), 0),
  };
}

export function distribution(values: number[]): Distribution {
  if (values.length === 0) return { count: 0, min: 0, mean: 0, p95: 0, max: 0 };
  const sorted = [...values].sort((a, b) => a - b);
  const mean = sorted.reduce((a, b) => a + b, 0) / sorted.length;
  const p95 = percentile(sorted, 95);
  return {
    count: sorted.length,
    min: sorted[0]!,
    mean: Math.round(mean * 10) / 10,
    p95,
    max: sorted.at(-1)!,
  };
}

/** Identity of an example for duplicate detection: roles and exact contents, meta ignored. */
export function exampleKey(example: ChatExample): string {
  const messages = Array.isArray(example.messages) ? example.messages : [];
  return createHash('sha256')
    .update(JSON.stringify(messages.map((m) => [m.role, m.content])))
    .digest('hex');
}

function exampleName(index: number): string {
  return `example ${index + 1}`;
}

/** `data.jsonl:17` when the importer recorded where the example came from. */
export function locationOf(example: ChatExample): string | undefined {
  const meta = example.meta;
  if (!meta || typeof meta.file !== 'string') return undefined;
  if (typeof meta.line === 'number') return `${meta.file}:${meta.line}`;
  if (typeof meta.location === 'string') return meta.location;
  if (typeof meta.index === 'number') return `${meta.file}: [${meta.index}]`;
  return meta.file;
}
