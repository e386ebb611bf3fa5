// The README's first command: fetch the default local models once, build a knowledge base from the
// sample handbook in examples/handbook (a fictional company's pages written for Attune), and answer
// a few questions from it. Everything runs locally; nothing leaves this machine.
import { join } from 'node:path';
import { Attune } from '../src/attune.ts';
import { pullAll } from '../src/cli/models-command.ts';
import { ProgressBars } from '../src/cli/progress.ts';
import type { Principal } from '../src/store/index.ts';

const say = (line = '') => process.stdout.write(`${line}\n`);
const attune = await Attune.open({ env: process.env });
const { config, models } = attune;

say('Attune demo: local models, embedded knowledge base, nothing leaves this machine.\n');
say(`1. Models (fetched once into ${config.home})`);
for (const r of await pullAll(models, [config.models.chat, config.models.embedding], true)) {
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

say('\n3. Questions, answered from the best passage the reader may see (dense + BM25 search)');
const kb = await attune.knowledgeBase();
const embedder = await models.embedding();
const chat = await models.chat();
const questions: [string, Principal][] = [
  ['Can I get a refund on an annual plan?', { user: 'customer-success', groups: ['support'] }],
  ['How many weeks of parental leave do employees get?', { user: 'bob', groups: ['engineering'] }],
  ['How many weeks of parental leave do employees get?', { user: 'ann', groups: ['hr'] }],
];
for (const [question, principal] of questions) {
  const [vector] = (await embedder.doEmbed({ values: [question] })).embeddings;
  const [dense, text] = await Promise.all([
    kb.store.denseSearch(vector!, { k: 3, principal }),
    kb.store.textSearch(question, { k: 3, principal }),
  ]);
  const best = dense[0] ?? text[0];
  say(`\n   Q (${principal.user}, groups ${principal.groups.join(',')}): ${question}`);
  if (!best || best.score < 0.35) {
    say('   A: The knowledge base does not say (nothing this reader may see matches).');
    continue;
  }
  process.stdout.write('   A: ');
  for await (const part of chat.doStream({
    messages: [
      { role: 'system', content: 'Answer in one short sentence using only the passage.' },
      { role: 'user', content: `Passage: ${best.chunk.text}\n\nQuestion: ${question}` },
    ],
    maxTokens: 48,
    temperature: 0,
  })) {
    if (part.type === 'text-delta') process.stdout.write(part.delta);
  }
  say(
    `\n   [1] ${best.chunk.headingPath.join(' › ') || best.document.title} (${best.document.id}, v${best.chunk.version})`,
  );
}
await attune.close();
say('\nNext: attune doctor · attune docs ls · attune versions · npm test');
