// Prompt processing and time to first token of each local chat model on this machine: a prompt of
// about 1,000 tokens, three times each (the first includes warm-up), through node-llama-cpp with the
// provider's settings (2 threads here, batch 512). It decides how much evidence a model can be given.
//
//   npx tsx bench/prompt-speed.ts [models...]
import { loadConfig } from '../src/config/index.ts';
import { Models } from '../src/models/models.ts';
import { loadAverage, machineDescription, percentile, writeResult } from './bench-env.ts';

const names = process.argv.slice(2).length
  ? process.argv.slice(2)
  : ['smollm2-135m-instruct', 'qwen2.5-coder-0.5b-instruct', 'qwen2.5-coder-1.5b-instruct'];
const models = new Models(loadConfig({ env: process.env }));
const paragraph =
  'The Normans were the people who in the 10th and 11th centuries gave their name to Normandy, a region in France. They were descended from Norse raiders and pirates from Denmark, Iceland and Norway. ';
const results = [];
for (const name of names) {
  await models.cache.pull(name);
  const chat = await models.chat(name);
  const tokenizer = await models.tokenizer(name);
  const runs = [];
  for (let i = 0; i < 3; i++) {
    const prompt = `Sources:\n${`${paragraph}${i} `.repeat(20)}\nQuestion ${i}: Who were the Normans?`;
    const r = await chat.doGenerate({
      messages: [
        { role: 'system', content: 'Answer in one sentence.' },
        { role: 'user', content: prompt },
      ],
      maxTokens: 8,
    });
    const tokens = tokenizer.countTokens(prompt);
    runs.push({
      promptTokens: tokens,
      ttftMs: r.timeToFirstTokenMs!,
      tokensPerSecond: tokens / (r.timeToFirstTokenMs! / 1000),
    });
  }
  results.push({
    model: name,
    runs,
    medianTokensPerSecond: Math.round(
      percentile(
        runs.map((r) => r.tokensPerSecond),
        50,
      ),
    ),
  });
  console.log(name, results.at(-1)!.medianTokensPerSecond, 'prompt tokens/s');
}
writeResult('prompt-speed', {
  machine: machineDescription(),
  loadAverage: loadAverage(),
  command: `npx tsx bench/prompt-speed.ts ${names.join(' ')}`,
  results,
});
await models.dispose();
