// The two gates before generation on the sample handbook (examples/handbook), a knowledge base
// unlike SQuAD's: the answerability verifier (the default) and the retrieval-confidence model, on
// the 15 answerable questions of the handbook test set (docs/results/eval-handbook, generated from
// the handbook by the default chat model and kept only when they retrieve their own chunk) and on
// questions the handbook has nothing on.
//
//   npx tsx bench/verifier-handbook.ts
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  defaultCalibration,
  retrievalConfidence,
  retrievalFeatures,
  verifierScore,
  verifierThreshold,
} from '../src/answer/index.ts';
import { Attune } from '../src/attune.ts';
import { Retriever } from '../src/retrieve/index.ts';
import { loadAverage, writeResult } from './bench-env.ts';

const root = join(import.meta.dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'attune-gates-'));
const attune = await Attune.open({ env: { ...process.env, ATTUNE_DIR: join(dir, 'kb') }, cwd: dir });
const kb = await attune.knowledgeBase();
await kb.sync([join(root, 'examples', 'handbook')]);
const answerer = await attune.answerer();
const verifier = (await attune.models.verifier())!;
const calibration = defaultCalibration();
const threshold = verifierThreshold(verifier.modelId, calibration);
const retriever = new Retriever({ store: kb.store, embedder: await attune.models.embedding() });
const principal = { user: 'bench', groups: [], admin: true };
const report = JSON.parse(readFileSync(join(root, 'docs/results/eval-handbook/report.json'), 'utf8')) as {
  questions: { question: string }[];
};
const questions = [
  ...report.questions.map((q) => ({ question: q.question, answerable: true })),
  ...[
    'Do you offer gift cards?',
    'Who is the chief executive of the company?',
    'What is the dress code on Fridays?',
    'Is there a company pension scheme?',
    'How many parking spaces does the office have?',
  ].map((question) => ({ question, answerable: false })),
];
type Gate = { confidence: number; passes: boolean };
const rows: { question: string; answerable: boolean; verifier: Gate; retrievalFeatures: Gate }[] = [];
for (const q of questions) {
  const { verifierEvidence } = await answerer.promptFor(q.question, { principal });
  const verifierConfidence = await verifierScore(verifier, q.question, verifierEvidence);
  const { evidence } = await retriever.retrieve(q.question, { principal, k: 5 });
  const denseConfidence = retrievalConfidence(retrievalFeatures(q.question, evidence), calibration);
  rows.push({
    ...q,
    verifier: { confidence: verifierConfidence, passes: verifierConfidence >= threshold },
    retrievalFeatures: { confidence: denseConfidence, passes: denseConfidence >= calibration.threshold },
  });
}
const count = (answerable: boolean, gate: 'verifier' | 'retrievalFeatures') =>
  rows.filter((r) => r.answerable === answerable && r[gate].passes).length;
const summary = {
  answerable: rows.filter((r) => r.answerable).length,
  notInHandbook: rows.filter((r) => !r.answerable).length,
  verifier: {
    threshold,
    answerablePassed: count(true, 'verifier'),
    notInHandbookPassed: count(false, 'verifier'),
  },
  retrievalFeatures: {
    threshold: calibration.threshold,
    answerablePassed: count(true, 'retrievalFeatures'),
    notInHandbookPassed: count(false, 'retrievalFeatures'),
  },
};
const path = writeResult('verifier-handbook', {
  command: 'npx tsx bench/verifier-handbook.ts',
  loadAverage: loadAverage(),
  summary,
  rows,
});
console.log(JSON.stringify(summary, null, 2));
console.log(`written to ${path}`);
await attune.close();
rmSync(dir, { recursive: true, force: true });
