import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Readers for the evaluation sets in `shared/data` (one layout for all: `corpus.jsonl` and
 * `questions.jsonl`, see shared/data/README.md). Tests use small slices, benchmarks whole sets.
 */

/** One document of an eval set's `corpus.jsonl`. */
export type EvalDocument = { id: string; title: string; text: string };

/** One line of an eval set's `questions.jsonl`; `answers` is empty when `answerable` is false. */
export type EvalQuestion = {
  id: string;
  question: string;
  answers: string[];
  answerable: boolean;
  gold_doc_ids: string[];
};

/** The shared data folder sits beside the repository (`../shared/data`); override with ATTUNE_EVAL_DATA. */
export function evalDataDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.ATTUNE_EVAL_DATA ?? join(import.meta.dirname, '..', '..', '..', 'shared', 'data');
}

export function readJsonl<T>(path: string): T[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line, i) => {
      try {
        return JSON.parse(line) as T;
      } catch (error) {
        throw new Error(`${path}:${i + 1}: not JSON (${(error as Error).message})`);
      }
    });
}

export function readCorpus(set: string, dir = evalDataDir()): EvalDocument[] {
  return readJsonl<EvalDocument>(join(dir, set, 'corpus.jsonl'));
}

export function readQuestions(set: string, dir = evalDataDir()): EvalQuestion[] {
  return readJsonl<EvalQuestion>(join(dir, set, 'questions.jsonl'));
}

/** squad2-dev document ids are `<article>#<paragraph>`. */
export const articleOf = (docId: string): string => docId.split('#')[0]!;

/**
 * Unanswerable squad2-dev questions name no document; the file keeps SQuAD's order, so each one
 * belongs to the article of the answerable question before it.
 */
export function withArticles<Q extends EvalQuestion>(questions: Q[]): (Q & { article: string })[] {
  let article = '';
  return questions.map((q) => {
    const gold = q.gold_doc_ids[0];
    if (gold !== undefined) article = articleOf(gold);
    return { ...q, article };
  });
}
