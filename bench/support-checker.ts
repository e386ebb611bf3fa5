// The support checker (src/answer/groundedness.ts) on HaluEval QA (../shared/data/halueval-qa, MIT):
// each item's right answer must be judged supported by its knowledge, its hallucinated answer not;
// and on the crafted cases in bench/data/support-cases.json (stitched, altered, polarity, echoes).
//
//   npx tsx bench/support-checker.ts [--limit N]   (ATTUNE_EMBEDDING_MODEL=… writes support-checker-<model>.json)
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { degenerateDraft, scoreGroundedness } from '../src/answer/index.ts';
import { loadConfig } from '../src/config/index.ts';
import { wilsonInterval } from '../src/eval/index.ts';
import { evalDataDir, readJsonl } from '../src/eval/qa-data.ts';
import { testModels } from '../src/models/testing.ts';
import { argValue, machineDescription, writeResult } from './bench-env.ts';

type Item = {
  id: string;
  knowledge: string;
  question: string;
  right_answer: string;
  hallucinated_answer: string;
};
type Case = {
  name: string;
  question: string;
  sources: string[];
  answer: string;
  supported: boolean;
  cited?: number[];
};

const limit = argValue('--limit') ?? Number.POSITIVE_INFINITY;
const items = readJsonl<Item>(join(evalDataDir(), 'halueval-qa', 'judgements.jsonl')).slice(0, limit);
const cases = JSON.parse(
  readFileSync(join(import.meta.dirname, 'data', 'support-cases.json'), 'utf8'),
) as Case[];
const models = await testModels();
const embedder = await models.embedding();

const checkPremise = process.argv.includes('--premise');
async function judge(answer: string, question: string, sources: string[]) {
  if (degenerateDraft(answer, question)) return { supported: false, cited: [] as number[] };
  const g = await scoreGroundedness(answer, { sources, question, embedder, checkPremise });
  return { supported: g.score >= 0.5, cited: [...new Set(g.sentences.flatMap((s) => s.cited))] };
}

let tp = 0;
let fp = 0;
let tn = 0;
let fn = 0;
const errors: unknown[] = [];
const started = performance.now();
for (const item of items) {
  const right = await judge(item.right_answer, item.question, [item.knowledge]);
  const wrong = await judge(item.hallucinated_answer, item.question, [item.knowledge]);
  // Positive class: "hallucinated" (what the checker must catch).
  if (wrong.supported) fn++;
  else tp++;
  if (right.supported) tn++;
  else fp++;
  if (errors.length < 40 && (wrong.supported || !right.supported))
    errors.push({
      id: item.id,
      question: item.question,
      ...(right.supported ? {} : { withheldRight: item.right_answer }),
      ...(wrong.supported ? { passedHallucination: item.hallucinated_answer } : {}),
    });
}
const seconds = (performance.now() - started) / 1000;
const n = items.length * 2;
const crafted = [];
for (const c of cases) {
  const r = await judge(c.answer, c.question, c.sources);
  crafted.push({
    name: c.name,
    expected: c.supported,
    got: r.supported,
    cited: r.cited,
    ok: r.supported === c.supported && (!c.cited || JSON.stringify(r.cited) === JSON.stringify(c.cited)),
  });
}
const result = {
  machine: machineDescription(),
  data: 'halueval-qa (HaluEval QA, MIT): knowledge + question, the right answer and the hallucinated one',
  command: `npx tsx bench/support-checker.ts${Number.isFinite(limit) ? ` --limit ${limit}` : ''}${checkPremise ? ' --premise' : ''}`,
  checkPremise,
  embeddingModel: embedder.modelId,
  items: items.length,
  judgements: n,
  accuracy: { value: (tp + tn) / n, ci95: wilsonInterval(tp + tn, n) },
  hallucinationRecall: { value: tp / (tp + fn), ci95: wilsonInterval(tp, tp + fn) },
  hallucinationPrecision: { value: tp / (tp + fp), ci95: wilsonInterval(tp, tp + fp) },
  rightAnswersKept: { value: tn / (tn + fp), ci95: wilsonInterval(tn, tn + fp) },
  secondsPerJudgement: seconds / n,
  crafted: { passed: crafted.filter((c) => c.ok).length, total: crafted.length, cases: crafted },
  errorsSample: errors,
};
console.log(
  JSON.stringify({ ...result, errorsSample: undefined, crafted: crafted.filter((c) => !c.ok) }, null, 2),
);
// Another embedder (ATTUNE_EMBEDDING_MODEL) gets its own file beside the default's.
const defaultEmbedder = loadConfig({ env: {} }).models.embedding;
writeResult(
  `${checkPremise ? 'support-checker-premise' : 'support-checker'}${embedder.modelId === defaultEmbedder ? '' : `-${embedder.modelId}`}`,
  result,
);
await models.dispose();
