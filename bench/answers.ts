// Grounded answers on squad2-dev (SQuAD 2.0 dev, CC BY-SA 4.0; ../shared/data/squad2-dev), through
// the whole RAG path: retrieval from a knowledge base of whole articles, the answerer, its checks.
//
//   npx tsx bench/answers.ts --calibrate          fit the abstention model (src/answer/abstention-calibration.json)
//   npx tsx bench/answers.ts --calibrate-verifier fit the verifier's threshold on the same questions
//   npx tsx bench/answers.ts [--questions 300]    answer a seeded slice: EM, F1, abstention, groundedness, TTFT
//     (ATTUNE_EMBEDDING_MODEL=… uses its own knowledge base and writes answers-<model>.json)
//   npx tsx bench/answers.ts --no-verifier        the same, gated by retrieval features instead (as before the verifier)
//
// The knowledge base holds 12 articles. Calibration uses questions of the first 6, the answer
// benchmark questions of the last 6, so the threshold is never fitted on the questions it is scored on.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type AbstentionCalibration,
  Answerer,
  defaultCalibration,
  type RetrievalFeatures,
  retrievalConfidence,
  retrievalFeatures,
  verifierScore,
  verifierThreshold,
} from '../src/answer/index.ts';
import { ProgressBars } from '../src/cli/progress.ts';
import { loadConfig } from '../src/config/index.ts';
import { articleOf, readCorpus, readQuestions, withArticles } from '../src/eval/qa-data.ts';
import { exactMatch, tokenF1 } from '../src/eval/squad-metrics.ts';
import { KnowledgeBase } from '../src/knowledge/index.ts';
import { testModels } from '../src/models/testing.ts';
import { Retriever } from '../src/retrieve/index.ts';
import {
  loadAverage,
  machineDescription,
  percentile,
  seededShuffle,
  sentenceEmbeddings,
  writeResult,
} from './bench-env.ts';

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(name);
const option = (name: string, fallback: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const corpus = readCorpus('squad2-dev');
const articles = [...new Set(corpus.map((p) => articleOf(p.id)))].slice(0, 12);
const calibrationArticles = new Set(articles.slice(0, 6));
const inKb = corpus.filter((p) => articles.includes(articleOf(p.id)));
const allQuestions = withArticles(readQuestions('squad2-dev'));
const questionsFor = (wanted: (article: string) => boolean) => allQuestions.filter((q) => wanted(q.article));

const work = join(import.meta.dirname, '.work', 'answers');
const models = await testModels();
// Another embedder (ATTUNE_EMBEDDING_MODEL) gets its own knowledge base and result file: a
// knowledge base keeps the embedding model it was indexed with.
const embeddingName = models.defaultEmbeddingName;
const otherEmbedder = embeddingName === loadConfig({ env: {} }).models.embedding ? '' : `-${embeddingName}`;
const kbDir = join(work, `kb${otherEmbedder}`);
const sourceDir = join(work, 'squad');
const config = loadConfig({ cwd: work, env: { ...process.env, ATTUNE_DIR: kbDir } });
mkdirSync(sourceDir, { recursive: true });
writeFileSync(join(sourceDir, 'paragraphs.jsonl'), `${inKb.map((p) => JSON.stringify(p)).join('\n')}\n`);
const kb = await KnowledgeBase.open(config, models);
const bars = new ProgressBars();
const sync = await kb.sync([sourceDir], {
  onProgress: (p) => {
    if (p.phase === 'embed') bars.update('embed', 'paragraphs embedded', p.done, p.total, 'chunks');
  },
});
bars.stop();
process.stderr.write(
  `knowledge base: ${inKb.length} paragraphs of ${articles.length} articles, ${sync.chunksEmbedded} chunks embedded now\n`,
);
const embedder = await models.embedding();
const retriever = new Retriever({ store: kb.store, embedder });
const principal = { user: 'bench', groups: [] };

if (flag('--calibrate')) await calibrate();
else if (flag('--calibrate-verifier')) await calibrateVerifier();
else await answerSlice();
await kb.close();
await models.dispose();
if (flag('--clean')) rmSync(work, { recursive: true, force: true });

async function calibrate() {
  const questions = seededShuffle(
    questionsFor((a) => calibrationArticles.has(a)),
    7,
  ).slice(0, option('--questions', 800));
  const rows: { f: RetrievalFeatures; unanswerable: boolean }[] = [];
  for (const [i, q] of questions.entries()) {
    const { evidence } = await retriever.retrieve(q.question, { principal, k: 5 });
    rows.push({ f: retrievalFeatures(q.question, evidence), unanswerable: !q.answerable });
    bars.update('features', 'questions retrieved', i + 1, questions.length, 'q');
  }
  bars.stop();
  writeFileSync(join(work, 'calibration-features.json'), JSON.stringify(rows));
  // Fit on one half, choose the threshold there, report on the other half.
  const fit = rows.filter((_, i) => i % 2 === 0);
  const held = rows.filter((_, i) => i % 2 === 1);
  const minKept = option('--min-answerable-kept', 0.8);
  const chooseThreshold = (weights: AbstentionCalibration['weights']) => {
    // Balanced accuracy, but never abstaining on more than 1 - minKept of answerable questions:
    // after this gate the groundedness check still abstains, so this one must not eat the answers.
    let best = { threshold: 0.5, score: -1 };
    for (let t = 0.05; t < 0.95; t += 0.01) {
      const m = abstentionMetrics(fit, { weights, threshold: t, provenance: {} });
      if (m.answerableKept >= minKept && m.balancedAccuracy > best.score)
        best = { threshold: Number(t.toFixed(2)), score: m.balancedAccuracy };
    }
    return best.threshold;
  };
  const both = logisticRegression(fit, true);
  const denseOnly = logisticRegression(fit, false);
  const report = (weights: AbstentionCalibration['weights']) => {
    const threshold = chooseThreshold(weights);
    return { weights, threshold, heldOut: abstentionMetrics(held, { weights, threshold, provenance: {} }) };
  };
  const candidates = { denseAndCoverage: report(both), denseOnly: report(denseOnly) };
  // On squad2-dev, coverage gets a negative weight: its unanswerable questions were written by
  // people reading the paragraph, so they reuse its words more than real questions do. A gate that
  // abstains *because* the evidence shares the question's words would be wrong on real knowledge
  // bases, so a negative coverage weight is not shipped.
  const chosen = both.coverage >= 0 ? candidates.denseAndCoverage : candidates.denseOnly;
  const calibration: AbstentionCalibration = {
    weights: chosen.weights,
    threshold: chosen.threshold,
    provenance: {
      command: 'npx tsx bench/answers.ts --calibrate',
      data: 'squad2-dev (SQuAD 2.0 dev, CC BY-SA 4.0): questions of its first 6 articles; knowledge base of its first 12',
      features:
        'dense = best question-chunk cosine among the top 5; coverage = best share of question content words in one of the top 3 chunks',
      fit: `logistic regression (answerable = 1) on even-indexed questions; threshold: best balanced accuracy there while keeping >= ${minKept} of answerable questions; a negative coverage weight is not shipped (see bench/answers.ts)`,
      questions: { fit: fit.length, heldOut: held.length },
      candidates,
      chosen: chosen === candidates.denseOnly ? 'denseOnly' : 'denseAndCoverage',
      heldOut: chosen.heldOut,
      fitted: new Date().toISOString().slice(0, 10),
    },
  };
  writeFileSync(
    join(import.meta.dirname, '..', 'src', 'answer', 'abstention-calibration.json'),
    `${JSON.stringify(calibration, null, 2)}\n`,
  );
  const path = writeResult('abstention-calibration', { calibration });
  console.log(JSON.stringify(calibration, null, 2));
  console.log(`written to src/answer/abstention-calibration.json and ${path}`);
}

async function calibrateVerifier() {
  const verifier = (await models.verifier())!;
  const questions = seededShuffle(
    questionsFor((a) => calibrationArticles.has(a)),
    7,
  ).slice(0, option('--questions', 800));
  const sentenceEmbedder = await sentenceEmbeddings(embedder, inKb, bars);
  const answerer = new Answerer({
    chat: await models.chat(),
    tokenizer: await models.tokenizer(models.defaultChatName),
    embedder: sentenceEmbedder,
    retriever,
    store: kb.store,
  });
  const rows: { score: number; unanswerable: boolean }[] = [];
  for (const [i, q] of questions.entries()) {
    const { verifierEvidence } = await answerer.promptFor(q.question, { principal });
    const score = await verifierScore(verifier, q.question, verifierEvidence);
    rows.push({ score, unanswerable: !q.answerable });
    bars.update('verify', 'questions verified', i + 1, questions.length, 'q');
  }
  bars.stop();
  // The same halves and the same rule as the retrieval-feature gate (calibrate), so the two compare.
  const fit = rows.filter((_, i) => i % 2 === 0);
  const held = rows.filter((_, i) => i % 2 === 1);
  const minKept = option('--min-answerable-kept', 0.8);
  let best = { threshold: 0.5, score: -1 };
  for (let t = 0.01; t < 0.99; t += 0.01) {
    const m = scoreMetrics(fit, t);
    if (m.answerableKept >= minKept && m.balancedAccuracy > best.score)
      best = { threshold: Number(t.toFixed(2)), score: m.balancedAccuracy };
  }
  const current = defaultCalibration();
  const calibration: AbstentionCalibration = {
    ...current,
    verifier: {
      model: verifier.modelId,
      threshold: best.threshold,
      provenance: {
        command: 'npx tsx bench/answers.ts --calibrate-verifier',
        data: 'squad2-dev (SQuAD 2.0 dev, CC BY-SA 4.0): questions of its first 6 articles; knowledge base of its first 12',
        input:
          'the question and the evidence sentences the answerer would show the chat model (Answerer.promptFor), scored by verifierScore: the best over all of them as one text and each source alone',
        fit: `threshold with the best balanced accuracy on even-indexed questions while keeping >= ${minKept} of answerable questions`,
        questions: { fit: fit.length, heldOut: held.length },
        heldOut: scoreMetrics(held, best.threshold),
        retrievalFeatureGateHeldOut: current.provenance.heldOut,
        fitted: new Date().toISOString().slice(0, 10),
      },
    },
  };
  // Only the configured default's threshold is shipped; another model (ATTUNE_VERIFIER_MODEL=…)
  // is measured beside it.
  const shipped = verifier.modelId === loadConfig({ env: {} }).models.verifier;
  if (shipped)
    writeFileSync(
      join(import.meta.dirname, '..', 'src', 'answer', 'abstention-calibration.json'),
      `${JSON.stringify(calibration, null, 2)}\n`,
    );
  const path = writeResult(shipped ? 'verifier-calibration' : `verifier-calibration-${verifier.modelId}`, {
    command: `${shipped ? '' : `ATTUNE_VERIFIER_MODEL=${verifier.modelId} `}npx tsx bench/answers.ts --calibrate-verifier`,
    verifier: calibration.verifier,
    rows,
  });
  console.log(JSON.stringify(calibration.verifier, null, 2));
  console.log(`written to ${shipped ? 'src/answer/abstention-calibration.json and ' : ''}${path}`);
}

function scoreMetrics(rows: { score: number; unanswerable: boolean }[], threshold: number) {
  return gateMetrics(
    rows.map((r) => ({ confidence: r.score, unanswerable: r.unanswerable })),
    threshold,
  );
}

function abstentionMetrics(
  rows: { f: RetrievalFeatures; unanswerable: boolean }[],
  c: AbstentionCalibration,
) {
  return gateMetrics(
    rows.map((r) => ({ confidence: retrievalConfidence(r.f, c), unanswerable: r.unanswerable })),
    c.threshold,
  );
}

/** What a gate that abstains below `threshold` does to these questions. */
function gateMetrics(rows: { confidence: number; unanswerable: boolean }[], threshold: number) {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  let tn = 0;
  for (const r of rows) {
    const abstain = r.confidence < threshold;
    if (abstain && r.unanswerable) tp++;
    else if (abstain) fp++;
    else if (r.unanswerable) fn++;
    else tn++;
  }
  const precision = tp + fp ? tp / (tp + fp) : 0;
  const recall = tp + fn ? tp / (tp + fn) : 0;
  const keptAnswerable = tn + fp ? tn / (tn + fp) : 0;
  return {
    abstentionPrecision: round(precision),
    abstentionRecall: round(recall),
    answerableKept: round(keptAnswerable),
    balancedAccuracy: round((recall + keptAnswerable) / 2),
  };
}

function logisticRegression(rows: { f: RetrievalFeatures; unanswerable: boolean }[], useCoverage: boolean) {
  let bias = 0;
  let dense = 0;
  let coverage = 0;
  const rate = 0.5;
  for (let epoch = 0; epoch < 3000; epoch++) {
    let gb = 0;
    let gd = 0;
    let gc = 0;
    for (const r of rows) {
      const y = r.unanswerable ? 0 : 1;
      const p = 1 / (1 + Math.exp(-(bias + dense * r.f.dense + coverage * r.f.coverage)));
      gb += p - y;
      gd += (p - y) * r.f.dense;
      gc += (p - y) * r.f.coverage;
    }
    bias -= (rate * gb) / rows.length;
    dense -= (rate * gd) / rows.length;
    if (useCoverage) coverage -= (rate * gc) / rows.length;
  }
  return { bias: round(bias), dense: round(dense), coverage: round(coverage) };
}

async function answerSlice() {
  const count = option('--questions', 300);
  const questions = seededShuffle(
    questionsFor((a) => articles.includes(a) && !calibrationArticles.has(a)),
    11,
  ).slice(0, count);
  const chat = await models.chat();
  const calibration = defaultCalibration();
  const verifier = flag('--no-verifier') || flag('--no-gate') ? undefined : await models.verifier();
  const answerer = new Answerer({
    ...(verifier
      ? { verifier: { model: verifier, threshold: verifierThreshold(verifier.modelId, calibration) } }
      : {}),
    chat,
    tokenizer: await models.tokenizer(models.defaultChatName),
    embedder,
    retriever,
    store: kb.store,
    // --no-gate: every question reaches the model, to see what the retrieval gate costs and saves.
    calibration: flag('--no-gate')
      ? { ...defaultCalibration(), threshold: 0, provenance: { note: 'gate off (--no-gate)' } }
      : defaultCalibration(),
  });
  const rows: Row[] = [];
  for (const [i, q] of questions.entries()) {
    const r = await answerer.answer(q.question, { principal, cache: false });
    const goldDoc = `squad/paragraphs.jsonl#${q.gold_doc_ids[0]}`;
    const predicted = r.abstained ? '' : r.answer.replace(/\s*\[\d+(?:,\s*\d+)*\]/g, '');
    // SQuAD 2.0 scoring: for an unanswerable question the right answer is no answer.
    const em = q.answerable ? exactMatch(predicted, q.answers) : predicted === '' ? 1 : 0;
    const f1 = q.answerable ? tokenF1(predicted, q.answers) : predicted === '' ? 1 : 0;
    rows.push({
      id: q.id,
      answerable: q.answerable,
      abstained: r.abstained,
      ...(r.abstainReason ? { reason: r.abstainReason } : {}),
      em,
      f1,
      groundedness: r.groundedness.score,
      citesGold: r.citations.some((c) => c.docId === goldDoc),
      ...(r.timings.firstTokenMs !== undefined ? { ttftMs: r.timings.firstTokenMs } : {}),
      totalMs: r.timings.totalMs,
      answer: r.answer,
      question: q.question,
      gold: q.answers,
    });
    bars.update('answer', 'questions answered', i + 1, questions.length, 'q');
    // Written as it goes, so a run stopped early still leaves what it measured.
    if ((i + 1) % 25 === 0 && i + 1 < questions.length)
      report(rows, count, chat.modelId, embedder.modelId, false);
  }
  bars.stop();
  report(rows, count, chat.modelId, embedder.modelId, true);
}

type Row = {
  id: string;
  answerable: boolean;
  abstained: boolean;
  reason?: string;
  em: number;
  f1: number;
  groundedness: number;
  citesGold: boolean;
  ttftMs?: number;
  totalMs: number;
  answer: string;
  question: string;
  gold: string[];
};

function report(rows: Row[], count: number, model: string, embedding: string, complete: boolean) {
  const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
  const answerable = rows.filter((r) => r.answerable);
  const unanswerable = rows.filter((r) => !r.answerable);
  const answered = rows.filter((r) => !r.abstained);
  const abstained = rows.filter((r) => r.abstained);
  const ttft = rows.flatMap((r) => (r.ttftMs === undefined ? [] : [r.ttftMs]));
  const summary = {
    questions: rows.length,
    answerable: answerable.length,
    exactMatch: round(mean(rows.map((r) => r.em))),
    tokenF1: round(mean(rows.map((r) => r.f1))),
    answerableF1: round(mean(answerable.map((r) => r.f1))),
    abstention: {
      rate: round(abstained.length / rows.length),
      precision: round(
        abstained.length ? abstained.filter((r) => !r.answerable).length / abstained.length : 0,
      ),
      recall: round(
        unanswerable.length ? unanswerable.filter((r) => r.abstained).length / unanswerable.length : 0,
      ),
      byReason: Object.fromEntries(
        ['low-retrieval-confidence', 'not-grounded', 'model-declined', 'no-evidence', 'degenerate'].map(
          (k) => [k, abstained.filter((r) => r.reason === k).length],
        ),
      ),
    },
    // Shown to the user and wrong: an unanswerable question answered, or an answer with token F1 < 0.5.
    hallucinationRate: round(
      rows.filter((r) => !r.abstained && (!r.answerable || r.f1 < 0.5)).length / Math.max(1, rows.length),
    ),
    groundednessOfAnswers: round(mean(answered.map((r) => r.groundedness))),
    answersCitingGoldParagraph: round(
      answered.filter((r) => r.answerable).length
        ? answered.filter((r) => r.answerable && r.citesGold).length /
            answered.filter((r) => r.answerable).length
        : 0,
    ),
    timeToFirstTokenMs: { p50: round(percentile(ttft, 50)), p95: round(percentile(ttft, 95)) },
    totalMs: {
      p50: round(
        percentile(
          rows.map((r) => r.totalMs),
          50,
        ),
      ),
      p95: round(
        percentile(
          rows.map((r) => r.totalMs),
          95,
        ),
      ),
    },
  };
  const variant = flag('--no-gate') ? '--no-gate' : flag('--no-verifier') ? '--no-verifier' : '';
  const path = writeResult(`${variant ? `answers${variant.slice(1)}` : 'answers'}${otherEmbedder}`, {
    command: `npx tsx bench/answers.ts --questions ${count}${variant ? ` ${variant}` : ''}`,
    gate: flag('--no-gate') ? 'none' : flag('--no-verifier') ? 'retrieval features' : 'verifier',
    loadAverage: loadAverage(),
    peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
    complete,
    model,
    embedding,
    data: 'squad2-dev (SQuAD 2.0 dev, CC BY-SA 4.0), seeded slice of questions from articles 7-12; knowledge base: all paragraphs of articles 1-12',
    summary,
    rows,
  });
  if (complete) {
    console.log(JSON.stringify({ machine: machineDescription(), summary }, null, 2));
    console.log(`written to ${path}`);
  }
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
