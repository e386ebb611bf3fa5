// The README's first command: fetch the default local models once, then show them at work on the
// sample knowledge base in examples/handbook (a fictional company's handbook written for Attune).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pullAll } from '../src/cli/models-command.ts';
import { loadConfig } from '../src/config/index.ts';
import { Models } from '../src/models/models.ts';

const config = loadConfig({ env: process.env });
const models = new Models(config);
const say = (line = '') => process.stdout.write(`${line}\n`);

say('Attune demo: local models only, nothing leaves this machine.\n');
say('1. Fetching the default models (once; cached in ATTUNE_HOME)');
await pullAll(models, [config.models.chat, config.models.embedding], true);

say(`\n2. Embeddings with ${config.models.embedding}: which handbook paragraph answers each question?`);
const handbook = readFileSync(
  join(import.meta.dirname, '..', 'examples', 'handbook', 'customer-policies.md'),
  'utf8',
);
const paragraphs = handbook
  .split(/\n\s*\n/)
  .map((p) => p.replace(/\s+/g, ' ').trim())
  .filter((p) => p.length > 60);
const embedder = await models.embedding();
const { embeddings } = await embedder.doEmbed({ values: paragraphs });
const questions = ['Can I get my money back on a yearly subscription?', 'When can I call support by phone?'];
const { embeddings: qv } = await embedder.doEmbed({ values: questions });
for (const [i, q] of questions.entries()) {
  const scores = embeddings.map((e) => e.reduce((s, x, j) => s + x * qv[i]![j]!, 0));
  const best = scores.indexOf(Math.max(...scores));
  say(`   Q: ${q}\n   → (${scores[best]!.toFixed(2)}) ${paragraphs[best]!.slice(0, 110)}…`);
}

say(`\n3. Generation with ${config.models.chat}, streamed, grounded in the best paragraph:`);
const chat = await models.chat();
const context = paragraphs.find((p) => p.includes('Annual plans can be refunded')) ?? paragraphs[0]!;
process.stdout.write('   ');
for await (const part of chat.doStream({
  messages: [
    { role: 'system', content: 'Answer in one sentence using only the policy text.' },
    { role: 'user', content: `Policy: ${context}\n\nQuestion: ${questions[0]}` },
  ],
  maxTokens: 60,
  temperature: 0,
})) {
  if (part.type === 'text-delta') process.stdout.write(part.delta);
  else
    say(
      `\n   (${part.result.usage.outputTokens} tokens, first token after ${part.result.timeToFirstTokenMs?.toFixed(0)} ms)`,
    );
}
await models.dispose();
say('\nNext: attune doctor · attune models ls');
