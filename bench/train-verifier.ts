// Trains Attune's answerability verifier (models/attune-verifier-minilm-l6-squad2.q8_0.gguf): a
// cross-encoder that reads a question and the evidence sentences the answerer would show the chat
// model, and scores whether they answer it. It is the gate before generation (src/answer/answerer.ts).
//
//   npx tsx bench/train-verifier.ts [--epochs 3] [--device cpu|cuda] [--max-questions N]
//
// Data: squad2-dev (SQuAD 2.0 dev, CC BY-SA 4.0), the questions of its training articles 12–19
// (src/eval/splits.ts), each through the real retrieval and evidence selection over a knowledge base
// of those articles only, so no evaluated article is seen even as a negative. Labels:
// - 1: answerable, and a gold answer is in the chosen evidence;
// - 0: unanswerable (SQuAD 2.0's questions written against a paragraph that does not answer them);
// - 0: answerable, but the gold answer is not in the chosen evidence;
// - 0: answerable, evidence chosen from the retrieved passages after those holding the answer are
//   taken out (what a knowledge base without the answer would offer).
// Then trainer/attune_trainer/verifier.py trains it, and the result is converted to GGUF (Q8_0).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Answerer, chosenEvidence, rankSentences, verifierText } from '../src/answer/index.ts';
import { ProgressBars } from '../src/cli/progress.ts';
import { loadConfig } from '../src/config/index.ts';
import {
  articleOf,
  normalizeAnswer,
  readCorpus,
  readQuestions,
  squadArticles,
  withArticles,
} from '../src/eval/index.ts';
import { trainerVenvDir } from '../src/finetune/local-trainer-setup.ts';
import { KnowledgeBase } from '../src/knowledge/index.ts';
import { bertModelFiles, convertBertToGguf } from '../src/models/bert-gguf.ts';
import { testModels } from '../src/models/testing.ts';
import { Retriever } from '../src/retrieve/index.ts';
import { argString, argValue, machineDescription, seededShuffle, sentenceEmbeddings } from './bench-env.ts';

const option = (name: string, fallback: string) => argString(name, fallback);
const epochs = argValue('--epochs') ?? 3;
const device = option('--device', 'cpu');
const maxQuestions = argValue('--max-questions') ?? Number.POSITIVE_INFINITY;
const NAME = 'attune-verifier-minilm-l6-squad2';
const root = join(import.meta.dirname, '..');
const work = join(import.meta.dirname, '.work', 'verifier');
const pairsFile = join(work, 'pairs.jsonl');
mkdirSync(work, { recursive: true });

const corpus = readCorpus('squad2-dev');
const order = [...new Set(corpus.map((p) => articleOf(p.id)))];
const training = new Set(squadArticles(order, 'training'));
const models = await testModels({ chat: 'smollm2-135m-instruct' });
const bars = new ProgressBars();

if (!existsSync(pairsFile)) {
  const kbDir = join(work, 'kb');
  const sourceDir = join(work, 'squad');
  mkdirSync(sourceDir, { recursive: true });
  const paragraphs = corpus.filter((p) => training.has(articleOf(p.id)));
  writeFileSync(
    join(sourceDir, 'paragraphs.jsonl'),
    `${paragraphs.map((p) => JSON.stringify(p)).join('\n')}\n`,
  );
  const config = loadConfig({ cwd: work, env: { ...process.env, ATTUNE_DIR: kbDir } });
  const kb = await KnowledgeBase.open(config, models);
  await kb.sync([sourceDir], {
    onProgress: (p) => {
      if (p.phase === 'embed') bars.update('embed', 'paragraphs embedded', p.done, p.total, 'chunks');
    },
  });
  bars.stop();
  // Questions share paragraphs, so their sentences are embedded once.
  const embedder = await sentenceEmbeddings(await models.embedding(), paragraphs, bars);
  const retriever = new Retriever({ store: kb.store, embedder });
  const answerer = new Answerer({
    chat: await models.chat(),
    tokenizer: await models.tokenizer(models.defaultChatName),
    embedder,
    retriever,
    store: kb.store,
  });
  const principal = { user: 'verifier', groups: [], admin: true };
  const questions = seededShuffle(
    withArticles(readQuestions('squad2-dev')).filter((q) => training.has(q.article)),
    11,
  ).slice(0, maxQuestions);
  const lines: string[] = [];
  const counts = { positive: 0, unanswerable: 0, answerNotInEvidence: 0, answerTakenOut: 0 };
  const holds = (text: string, answers: string[]) => {
    const t = normalizeAnswer(text);
    return answers.some((a) => normalizeAnswer(a) && t.includes(normalizeAnswer(a)));
  };
  for (const [i, q] of questions.entries()) {
    bars.update('pairs', 'questions', i + 1, questions.length, 'q');
    const { verifierText: evidence } = await answerer.promptFor(q.question, { principal });
    const push = (text: string, label: number, kind: keyof typeof counts) => {
      counts[kind]++;
      lines.push(
        JSON.stringify({ question: q.question, evidence: text, label, kind, article: q.article, id: q.id }),
      );
    };
    if (!q.answerable) {
      push(evidence, 0, 'unanswerable');
      continue;
    }
    if (!holds(evidence, q.answers)) {
      push(evidence, 0, 'answerNotInEvidence');
      continue;
    }
    push(evidence, 1, 'positive');
    // The same question against the passages that remain when those holding its answer are gone.
    const { evidence: found } = await retriever.retrieve(q.question, { principal, k: 9 });
    const rest = found.filter((e) => !holds(e.chunk.text, q.answers)).slice(0, 5);
    if (rest.length === 0) continue;
    const ranked = await rankSentences(
      q.question,
      rest.map((e) => e.chunk.text),
      { embedder },
    );
    push(verifierText(chosenEvidence(ranked, rest.length, 4)), 0, 'answerTakenOut');
  }
  bars.stop();
  writeFileSync(pairsFile, `${lines.join('\n')}\n`);
  writeFileSync(join(work, 'pairs-counts.json'), JSON.stringify(counts, null, 2));
  process.stderr.write(`${lines.length} pairs: ${JSON.stringify(counts)}\n`);
  await kb.close();
}

// Training, in the trainer's virtual environment (node scripts/setup-trainer.mjs).
const home = loadConfig({ env: process.env }).home;
const minilm = join(home, 'models', 'all-minilm-l6-v2');
const out = join(work, 'model');
const reranker = join(root, 'models', 'attune-reranker-minilm-l6-squad.q8_0.gguf');
const python = join(trainerVenvDir({ home }), 'bin', 'python');
execFileSync(
  existsSync(python) ? python : 'python3',
  [
    '-m',
    'attune_trainer.verifier',
    '--model',
    minilm,
    '--pairs',
    pairsFile,
    '--out',
    out,
    '--epochs',
    String(epochs),
    '--device',
    device,
    // The reranker already reads question and passage together; starting from it, what is left
    // to learn is whether the evidence answers. From plain MiniLM, 2 CPU epochs learned nothing
    // (held-out AUC 0.50).
    '--init-gguf',
    reranker,
  ],
  { cwd: join(root, 'trainer'), stdio: 'inherit' },
);

const gguf = join(root, 'models', `${NAME}.q8_0.gguf`);
const files = bertModelFiles(minilm);
await convertBertToGguf({
  safetensors: join(out, 'model.safetensors'),
  tokenizer: files.tokenizer,
  config: join(out, 'config.json'),
  output: gguf,
  name: NAME,
  weights: 'q8_0',
});
const bytes = readFileSync(gguf);
const metrics = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'));
const record = {
  ...metrics,
  data: {
    set: 'squad2-dev (SQuAD 2.0 dev, CC BY-SA 4.0)',
    articles: [...training],
    pairs: readFileSync(pairsFile, 'utf8').trim().split('\n').length,
    kinds: JSON.parse(readFileSync(join(work, 'pairs-counts.json'), 'utf8')),
    sha256: createHash('sha256').update(readFileSync(pairsFile)).digest('hex'),
  },
  startedFrom: {
    name: 'attune-reranker-minilm-l6-squad',
    sha256: createHash('sha256').update(readFileSync(reranker)).digest('hex'),
    note: 'the reranker (models/README.md), itself all-MiniLM-L6-v2 trained on squad2-dev articles 22-34 (0-based)',
  },
  tokenizer: 'all-minilm-l6-v2 tokenizer.json',
  gguf: {
    file: `${NAME}.q8_0.gguf`,
    size: bytes.length,
    sha256: createHash('sha256').update(bytes).digest('hex'),
  },
  command: `npx tsx bench/train-verifier.ts --epochs ${epochs} --device ${device}`,
  machine: machineDescription(),
};
writeFileSync(join(root, 'models', `${NAME}.training.json`), `${JSON.stringify(record, null, 2)}\n`);
copyFileSync(join(out, 'metrics.json'), join(work, 'metrics-copy.json'));
console.log(JSON.stringify(record.gguf));
await models.dispose();
