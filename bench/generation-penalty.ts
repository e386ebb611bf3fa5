// Generation speed of the default chat model with and without node-llama-cpp's frequency penalty,
// on a ~830-token prompt (prefix reuse makes later calls' time to first token small; compare totals).
//   npx tsx bench/generation-penalty.ts
import { testModels } from '../src/models/testing.ts';
import { machineDescription } from './bench-env.ts';

const models = await testModels();
const chat = await models.chat();
const text =
  'The Amazon rainforest is a moist broadleaf forest that covers most of the Amazon basin of South America. '.repeat(
    40,
  );
const rows = [];
for (const [i, frequencyPenalty] of [0, 0.3, 0, 0.3].entries()) {
  const started = performance.now();
  const r = await chat.doGenerate({
    messages: [
      { role: 'system', content: 'Answer briefly.' },
      { role: 'user', content: `${text}\nQuestion ${i}: what is the Amazon rainforest?` },
    ],
    maxTokens: 60,
    temperature: 0,
    frequencyPenalty,
  });
  const totalMs = performance.now() - started;
  const decodeMs = totalMs - (r.timeToFirstTokenMs ?? 0);
  rows.push({
    frequencyPenalty,
    outputTokens: r.usage.outputTokens,
    totalMs: Math.round(totalMs),
    decodeTokensPerSecond: Math.round((r.usage.outputTokens / decodeMs) * 10000) / 10,
  });
}
console.log(JSON.stringify({ machine: machineDescription(), rows }, null, 2));
await models.dispose();
