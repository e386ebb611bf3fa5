// The README's first command: fetch the default local models once, build a knowledge base from the
// sample handbook in examples/handbook (a fictional company's pages written for Attune), and answer
// a few questions from it. Everything runs locally; nothing leaves this machine.
import { join } from 'node:path';
import type { AnswerResult } from '../src/answer/index.ts';
import { Attune } from '../src/attune.ts';
import { pullAll } from '../src/cli/models-command.ts';
import { ProgressBars } from '../src/cli/progress.ts';
import type { Principal } from '../src/store/index.ts';

const say = (line = '') => process.stdout.write(`${line}\n`);
const attune = await Attune.open({ env: process.env });
const { config } = attune;

say('Attune demo: local models, embedded knowledge base, nothing leaves this machine.\n');
say(`1. Models (fetched once into ${config.home})`);
// Every model an answer uses: the reranker orders the passages and the verifier decides whether
// they answer the question at all.
const used = [config.models.chat, config.models.embedding, config.models.reranker, config.models.verifier];
for (const r of await pullAll(
  attune,
  used.filter((name): name is string => Boolean(name)),
  true,
)) {
  say(`   ${r.model}: ${r.downloaded ? `fetched from ${r.source}` : 'cached'}`);
}

say(`\n2. Knowledge base in ${config.dir}: sync examples/handbook`);
const bars = new ProgressBars();
const summary = await attune.sync([join(import.meta.dirname, '..', 'examples', 'handbook')], {
  onProgress: (p) => {
    if (p.phase === 'embed') bars.update('embed', 'chunks embedded', p.done, p.total, 'chunks');
  },
});
bars.stop();
say(
  `   version ${summary.version}: ${summary.added} added, ${summary.changed} changed, ${summary.removed} removed, ${summary.unchanged} unchanged, ${summary.chunksEmbedded} chunks embedded`,
);

say('\n3. Questions, answered only from what each reader may see, with numbered sources');
const questions: [string, Principal][] = [
  ['Can I get a refund on an annual plan?', { user: 'customer-success', groups: ['support'] }],
  ['How many weeks of parental leave do employees get?', { user: 'bob', groups: ['engineering'] }],
  ['How many weeks of parental leave do employees get?', { user: 'ann', groups: ['hr'] }],
];
const answerer = await attune.answerer();
for (const [question, principal] of questions) {
  say(`\n   Q (${principal.user}, groups ${principal.groups.join(',')}): ${question}`);
  process.stdout.write('   draft: ');
  let result: AnswerResult | undefined;
  for await (const part of answerer.stream(question, { principal })) {
    if (part.type === 'text-delta') process.stdout.write(part.delta.replace(/\n/g, ' '));
    if (part.type === 'done') result = part.result;
  }
  const r = result!;
  say(`\n   A: ${r.answer}${r.abstained ? ` (${r.abstainReason})` : ''}`);
  for (const s of r.abstained ? [] : r.sources.filter((s) => r.citations.some((c) => c.n === s.n)))
    say(`   [${s.n}] ${s.title}${s.location ? ` › ${s.location}` : ''} (${s.docId}, v${s.version})`);
  if (r.closest)
    say(`   not an answer, the closest passage [${r.closest.n}] ${r.closest.title}: »${r.closest.sentence}«`);
  say(`   audit ${r.auditId}`);
}
await attune.close();
say('\nNext: attune ask "..." · attune audit ls · attune docs ls · attune versions · npm test');
