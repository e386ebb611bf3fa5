// What the evaluation itself costs: the same questions through a bare answer loop
// (Attune.answerAs, nothing scored or stored) and through Attune.evaluate (scoring, one JSONL line per
// answer, intervals, paired comparison, JSON and HTML report), alternated so drift hits both.
// Target: ≤ 5% over the bare loop, the warm-up answer evaluate adds per strategy reported apart.
//
//   npx tsx bench/eval-overhead.ts [--questions 12] [--rounds 2]
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Attune } from '../src/attune.ts';
import { loadAverage, machineDescription, writeResult } from './bench-env.ts';

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const count = option('--questions', 12);
const rounds = option('--rounds', 2);
const work = join(import.meta.dirname, '.work', 'eval-overhead');
rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
const attune = await Attune.open({ env: { ...process.env, ATTUNE_DIR: join(work, 'kb') }, cwd: work });
await attune.sync([join(import.meta.dirname, '..', 'examples', 'handbook')]);
// Questions about the handbook's own facts, repeated with a suffix up to the count.
const base = [
  'Within how many days can an annual plan be refunded in full?',
  'How long must passwords outside single sign-on be?',
  'Within how many hours are customers informed of a personal-data breach?',
  'When does standard support answer email?',
  'What monthly availability does Harbour Cloud target?',
  'Where does customer sensor data stay?',
];
const questions = Array.from({ length: count }, (_, i) => ({
  id: `q${i}`,
  question: i < base.length ? base[i]! : `${base[i % base.length]!} (again ${Math.floor(i / base.length)})`,
  answers: ['x'],
  answerable: true,
  gold_doc_ids: [],
}));
const file = join(work, 'q.jsonl');
writeFileSync(file, `${questions.map((q) => JSON.stringify(q)).join('\n')}\n`);
await attune.importTestSet(file, { name: 'overhead' });
const [strategy] = attune.resolveStrategies('rag');
const principal = { user: 'eval', groups: [], admin: true };
await attune.answerAs(strategy!, base[0]!, { principal }); // load the models before either side is timed

const bare: number[] = [];
const evaluated: { runMs: number; warmupMs: number; answerMs: number }[] = [];
for (let r = 0; r < rounds; r++) {
  const t0 = performance.now();
  for (const q of questions) await attune.answerAs(strategy!, q.question, { principal });
  bare.push(performance.now() - t0);
  const { report } = await attune.evaluate({ testSet: 'overhead', strategies: 'rag' });
  evaluated.push({
    runMs: report.timing.runMs,
    warmupMs: report.timing.warmupMs ?? 0,
    answerMs: report.timing.answerMs,
  });
  process.stderr.write(
    `round ${r + 1}: bare ${(bare.at(-1)! / 1000).toFixed(1)} s, eval ${(report.timing.runMs / 1000).toFixed(1)} s\n`,
  );
}
await attune.close();
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const bareMs = sum(bare);
const evalMs = sum(evaluated.map((e) => e.runMs));
const warmMs = sum(evaluated.map((e) => e.warmupMs));
const path = writeResult('eval-overhead', {
  command: `npx tsx bench/eval-overhead.ts --questions ${count} --rounds ${rounds}`,
  load: loadAverage(),
  machineAtEnd: machineDescription(),
  questions: count,
  rounds,
  strategy: 'rag (default models), handbook knowledge base',
  bareLoopMs: bare,
  evaluate: evaluated,
  ratioTotal: evalMs / bareMs,
  ratioWithoutWarmup: (evalMs - warmMs) / bareMs,
  target: 'evaluate / bare loop ≤ 1.05 (warm-up answer per strategy reported apart)',
});
process.stderr.write(
  `${path}: ratio ${(evalMs / bareMs).toFixed(3)}, without warm-up ${((evalMs - warmMs) / bareMs).toFixed(3)}\n`,
);
