import { randomUUID } from 'node:crypto';
import {
  appendFileSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import type { AnswerResult } from '../answer/index.ts';
import { AttuneError } from '../models/model-error.ts';
import {
  failedOutcome,
  type PairedMetric,
  pairedMetrics,
  type QuestionOutcome,
  type StrategySummary,
  scoreAnswer,
  summarize,
} from './metrics.ts';
import { comparePaired, type PairedComparison, repeatSpread } from './paired.ts';
import { type Strategy, usesRetrieval } from './strategy.ts';
import type { TestQuestion, TestSet } from './test-set.ts';

/** A strategy as it ran: the model and adapter it resolved to, with checksums and lineage. */
export type ResolvedStrategy = Strategy & {
  model: { name: string; id: string; sha256?: string };
  adapterInfo?: { id: string; path: string; lineage?: unknown };
};

/** Everything needed to tell what a run measured, kept beside its outcomes. */
export type EvalRunConfig = {
  id: string;
  createdAt: string;
  testSet: { name: string; contentSha256: string; kbVersion: number | undefined; questions: number };
  /** The knowledge-base version answered from. */
  kbVersion: number | undefined;
  strategies: ResolvedStrategy[];
  repeats: number;
  seed: number;
  principal: { user: string; groups: string[] };
  embeddingModel?: string;
  reranker?: string;
  machine?: unknown;
  attuneVersion?: string;
  /** Things a reader of the numbers must know, e.g. the knowledge base changed since freezing. */
  notes: string[];
};

export type EvalProgress = {
  strategy: string;
  done: number;
  total: number;
  failed: number;
  /** Questions of this strategy found already answered in the run being resumed. */
  resumed: number;
};

export type AnswerFn = (
  strategy: ResolvedStrategy,
  question: TestQuestion,
  options: { repeat: number; abortSignal?: AbortSignal },
) => Promise<AnswerResult>;

export type EvalReport = {
  config: EvalRunConfig;
  summaries: StrategySummary[];
  /** Every strategy against the first one, on F1 and on correctness. */
  comparisons: PairedComparison[];
  repeats: { strategy: string; repeats: number; means: number[]; sd: number; meanAbsChange: number }[];
  freshness?: unknown;
  /** The test set's questions, for the per-question table. */
  questions: TestQuestion[];
  outcomes: QuestionOutcome[];
  /** Wall time of the answers themselves and of the whole run, for the eval's own overhead. */
  timing: { answerMs: number; runMs: number; warmupMs?: number };
};

const OUTCOMES = 'outcomes.jsonl';
const CONFIG = 'run.json';

/**
 * Eval runs on disk: `<dir>/<run id>/run.json` (configuration), `outcomes.jsonl` (one scored answer
 * per line, appended as it is made, so an interrupted run resumes where it stopped), `report.json`
 * and `report.html`.
 */
export class EvalRunStore {
  readonly dir: string;
  constructor(dir: string) {
    this.dir = dir;
  }

  create(config: Omit<EvalRunConfig, 'id' | 'createdAt'> & { id?: string }): EvalRunConfig {
    const id =
      config.id ??
      `${new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19)}-${randomUUID().slice(0, 6)}`;
    const full: EvalRunConfig = { ...config, id, createdAt: new Date().toISOString() };
    const runDir = join(this.dir, id);
    if (existsSync(join(runDir, CONFIG)))
      throw new AttuneError(`Eval run ${id} exists already.`, {
        hint: `Resume it with: attune eval --resume ${id}`,
      });
    mkdirSync(runDir, { recursive: true });
    atomicWrite(join(runDir, CONFIG), JSON.stringify(full, null, 1));
    return full;
  }

  config(id: string): EvalRunConfig {
    const path = join(this.dir, id, CONFIG);
    if (!existsSync(path))
      throw new AttuneError(`No eval run "${id}".`, {
        hint: `Runs: ${this.list().slice(-5).join(', ') || 'none'}. Start one with: attune eval <testset>`,
      });
    return JSON.parse(readFileSync(path, 'utf8')) as EvalRunConfig;
  }

  /** Outcomes recorded so far. A line cut off by a crash mid-write is skipped; it is answered again. */
  outcomes(id: string): QuestionOutcome[] {
    const path = join(this.dir, id, OUTCOMES);
    if (!existsSync(path)) return [];
    const rows: QuestionOutcome[] = [];
    for (const line of readFileSync(path, 'utf8').split('\n')) {
      if (line.trim() === '') continue;
      try {
        rows.push(JSON.parse(line) as QuestionOutcome);
      } catch {
        // Only the last line can be partial: appends are whole lines.
      }
    }
    return rows;
  }

  append(id: string, outcome: QuestionOutcome): void {
    appendFileSync(join(this.dir, id, OUTCOMES), `${JSON.stringify(outcome)}\n`);
  }

  /**
   * Ends a line a crash cut off, once before a run appends again: otherwise the partial line would
   * swallow the next outcome. Reads one byte, not the file.
   */
  endTornLine(id: string): void {
    const path = join(this.dir, id, OUTCOMES);
    if (!existsSync(path)) return;
    const { size } = statSync(path);
    if (size === 0) return;
    const last = Buffer.alloc(1);
    const fd = openSync(path, 'r');
    try {
      readSync(fd, last, 0, 1, size - 1);
    } finally {
      closeSync(fd);
    }
    if (last[0] !== 0x0a) appendFileSync(path, '\n');
  }

  writeReport(id: string, report: EvalReport, html?: string): { json: string; html?: string } {
    const json = join(this.dir, id, 'report.json');
    atomicWrite(json, JSON.stringify(report, null, 1));
    if (html === undefined) return { json };
    const htmlPath = join(this.dir, id, 'report.html');
    atomicWrite(htmlPath, html);
    return { json, html: htmlPath };
  }

  report(id: string): EvalReport {
    const path = join(this.dir, id, 'report.json');
    if (!existsSync(path))
      throw new AttuneError(`Eval run "${id}" has no report yet.`, {
        hint: `Finish it with: attune eval --resume ${id}`,
      });
    return JSON.parse(readFileSync(path, 'utf8')) as EvalReport;
  }

  /** Run ids, oldest first (ids start with their UTC start time). */
  list(): string[] {
    if (!existsSync(this.dir)) return [];
    return readdirSync(this.dir, { withFileTypes: true })
      .filter((e) => e.isDirectory() && existsSync(join(this.dir, e.name, CONFIG)))
      .map((e) => e.name)
      .sort();
  }

  /** Whether the run has finished: its report is written last. */
  hasReport(id: string): boolean {
    return existsSync(join(this.dir, id, 'report.json'));
  }

  latest(): string | undefined {
    return this.list()
      .filter((id) => this.hasReport(id))
      .at(-1);
  }

  /**
   * A paired comparison of two stored runs, or of two strategies: each side is `run`, `run:strategy`,
   * `latest` or `latest:strategy` (a run alone means its first strategy). Questions pair by id;
   * `sameTestSet` says whether both runs used the same test set (by its content hash).
   */
  compare(
    a: string,
    b: string,
    metric: PairedMetric = 'f1',
  ): { comparison: PairedComparison; sameTestSet: boolean } {
    if (!(metric in pairedMetrics))
      throw new AttuneError(`Metric "${metric}" is not a paired metric.`, {
        hint: `Use one of: ${Object.keys(pairedMetrics).join(', ')}`,
      });
    const side = (ref: string) => {
      const cut = ref.lastIndexOf(':');
      const [run, strategy] = cut >= 0 ? [ref.slice(0, cut), ref.slice(cut + 1)] : [ref, undefined];
      const report = this.report(run === 'latest' ? (this.latest() ?? run) : run);
      const names = report.config.strategies.map((s) => s.name);
      const chosen = strategy ?? names[0]!;
      if (!names.includes(chosen))
        throw new AttuneError(`Run ${report.config.id} has no strategy "${chosen}".`, {
          hint: `It has: ${names.join(', ')}`,
        });
      return { report, strategy: chosen, outcomes: report.outcomes.filter((o) => o.strategy === chosen) };
    };
    const left = side(a);
    const right = side(b);
    return {
      comparison: comparePaired(left.outcomes, right.outcomes, metric, {
        names: [`${left.report.config.id}:${left.strategy}`, `${right.report.config.id}:${right.strategy}`],
      }),
      sameTestSet: left.report.config.testSet.contentSha256 === right.report.config.testSet.contentSha256,
    };
  }
}

function atomicWrite(path: string, text: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text.endsWith('\n') ? text : `${text}\n`);
  renameSync(tmp, path);
}

/**
 * Answers every question of the test set with every strategy (strategy by strategy, so each model
 * loads once), scores and appends each answer as it comes. Questions already in the run are not
 * answered again. A question that throws is recorded as failed and the run goes on.
 */
export async function runEvaluation(options: {
  store: EvalRunStore;
  run: EvalRunConfig;
  testSet: TestSet;
  answer: AnswerFn;
  onProgress?: (progress: EvalProgress) => void;
  /**
   * Called once per strategy before its first timed answer, to load its models: otherwise the
   * first question's latency holds the model load and the p95 of a small set is the load time.
   */
  warmup?: (strategy: ResolvedStrategy) => Promise<void>;
  /**
   * A second opinion on correctness, stored with the outcome it judges (so a resumed run or a
   * rebuilt report keeps it). A judge that fails leaves that outcome unjudged, never failed.
   */
  judge?: (question: TestQuestion, outcome: QuestionOutcome) => Promise<boolean>;
  abortSignal?: AbortSignal;
}): Promise<{ outcomes: QuestionOutcome[]; answerMs: number; warmupMs: number }> {
  const { store, run, testSet } = options;
  const outcomes = store.outcomes(run.id);
  store.endTornLine(run.id);
  const key = (strategy: string, questionId: string, repeat: number) =>
    `${strategy}\u0000${questionId}\u0000${repeat}`;
  const done = new Set(outcomes.map((o) => key(o.strategy, o.questionId, o.repeat)));
  let answerMs = 0;
  let warmupMs = 0;
  for (const strategy of run.strategies) {
    const total = testSet.questions.length * run.repeats;
    let count = 0;
    let failed = 0;
    let resumed = 0;
    const pending = testSet.questions.some((q) => !done.has(key(strategy.name, q.id, 0)) || run.repeats > 1);
    if (pending && options.warmup) {
      const warmStart = performance.now();
      await options.warmup(strategy).catch(() => undefined);
      warmupMs += performance.now() - warmStart;
    }
    for (let repeat = 0; repeat < run.repeats; repeat++) {
      for (const question of testSet.questions) {
        options.abortSignal?.throwIfAborted();
        count++;
        if (done.has(key(strategy.name, question.id, repeat))) {
          resumed++;
          options.onProgress?.({ strategy: strategy.name, done: count, total, failed, resumed });
          continue;
        }
        const started = performance.now();
        let outcome: QuestionOutcome;
        try {
          const result = await options.answer(strategy, question, {
            repeat,
            ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}),
          });
          outcome = scoreAnswer(strategy.name, question, result, {
            repeat,
            retrieval: usesRetrieval(strategy.kind),
          });
        } catch (error) {
          if (options.abortSignal?.aborted) throw error;
          outcome = failedOutcome(strategy.name, question, error, performance.now() - started, repeat);
          failed++;
        }
        answerMs += performance.now() - started;
        if (options.judge && outcome.status === 'ok') {
          const correct = await options.judge(question, outcome).catch(() => undefined);
          if (correct !== undefined) outcome.judge = { correct, agreesWithGold: correct === outcome.correct };
        }
        store.append(run.id, outcome);
        outcomes.push(outcome);
        options.onProgress?.({ strategy: strategy.name, done: count, total, failed, resumed });
      }
    }
  }
  return { outcomes, answerMs, warmupMs };
}

/** Summaries, comparisons against the first strategy, and run-to-run spread when repeated. */
export function buildReport(
  run: EvalRunConfig,
  outcomes: QuestionOutcome[],
  timing: { answerMs: number; runMs: number; warmupMs?: number },
  extra: { freshness?: unknown; questions?: TestQuestion[] } = {},
): EvalReport {
  const names = run.strategies.map((s) => s.name);
  const summaries = names.map((name) => summarize(name, outcomes, run.seed));
  const of = (name: string) => outcomes.filter((o) => o.strategy === name);
  const comparisons: PairedComparison[] = [];
  const [reference, ...others] = names;
  for (const other of others) {
    for (const metric of ['f1', 'correct'] as const)
      comparisons.push(
        comparePaired(of(reference!), of(other), metric, { seed: run.seed, names: [reference!, other] }),
      );
  }
  return {
    config: run,
    summaries,
    comparisons,
    repeats:
      run.repeats > 1 ? names.map((name) => ({ strategy: name, ...repeatSpread(outcomes, name) })) : [],
    ...(extra.freshness !== undefined ? { freshness: extra.freshness } : {}),
    questions: extra.questions ?? [],
    outcomes,
    timing,
  };
}
