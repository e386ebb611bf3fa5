/**
 * The behaviour every EmbeddingModel implementation must show, as node:test cases. A provider's
 * test file calls `runEmbeddingModelConformance` with a factory for a real model: the cases check
 * meaning (a paraphrase is nearer than an unrelated text), so they need one.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { EmbeddingModel } from './model-spec.ts';
import { cosineSimilarity } from './vector-math.ts';

const TEXTS = [
  'Customers may return unworn shoes within 45 days of delivery for a full refund.',
  'Shoes that have not been worn can be sent back for a refund up to 45 days after they arrive.',
  'The Normans gave their name to Normandy, a region in northern France.',
  'Oxygen is a chemical element with symbol O and atomic number 8, and it is highly reactive.',
  'Yes.',
];

export function runEmbeddingModelConformance(
  name: string,
  makeModel: () => Promise<EmbeddingModel>,
  dispose: () => Promise<void> = async () => {},
): void {
  describe(`EmbeddingModel conformance: ${name}`, () => {
    let model: EmbeddingModel;
    after(dispose);
    const embedOne = async (text: string) => (await model.doEmbed({ values: [text] })).embeddings[0]!;

    it('gives one unit vector of its dimensions per input, in order, and counts the tokens', async () => {
      model = await makeModel();
      const { embeddings, usage } = await model.doEmbed({ values: TEXTS });
      assert.equal(embeddings.length, TEXTS.length);
      for (const v of embeddings) {
        assert.equal(v.length, model.dimensions);
        assert.ok(Math.abs(Math.hypot(...v) - 1) < 1e-4, `norm ${Math.hypot(...v)}`);
      }
      // Order: each text's vector is the one it gets alone.
      for (const [i, text] of TEXTS.entries())
        assert.ok(cosineSimilarity(embeddings[i]!, await embedOne(text)) > 0.9999, `input ${i} out of place`);
      assert.ok(usage.tokens >= TEXTS.join(' ').split(/\s+/).length, `usage ${usage.tokens} tokens`);
    });

    it('puts a paraphrase nearer than an unrelated text', async () => {
      const [a, b, c, d] = (await model.doEmbed({ values: TEXTS.slice(0, 4) })).embeddings;
      assert.ok(cosineSimilarity(a!, b!) > cosineSimilarity(a!, c!) + 0.2);
      assert.ok(cosineSimilarity(a!, b!) > cosineSimilarity(a!, d!) + 0.2);
    });

    it('gives the same vector whatever else is in the call (lengths mixed, order reversed)', async () => {
      const long = `${TEXTS[2]} `.repeat(6);
      const values = [TEXTS[4]!, long, TEXTS[0]!, '', TEXTS[3]!];
      const together = (await model.doEmbed({ values })).embeddings;
      const reversed = (await model.doEmbed({ values: [...values].reverse() })).embeddings.reverse();
      for (const [i, text] of values.entries()) {
        const alone = await embedOne(text);
        assert.ok(cosineSimilarity(together[i]!, alone) > 0.9999, `input ${i} depends on its batch`);
        assert.ok(cosineSimilarity(reversed[i]!, alone) > 0.9999, `input ${i} depends on its position`);
      }
    });

    it('cuts an input longer than maxInputTokens instead of failing', async () => {
      // Two texts that share far more than the window, then differ: the model reads only the shared part.
      const shared = 'The warehouse in Leeds ships orders within two business days. '.repeat(80);
      const [x, y] = (await model.doEmbed({ values: [`${shared} Refunds.`, `${shared} Oxygen.`] }))
        .embeddings;
      assert.ok(cosineSimilarity(x!, y!) > 0.9999, 'the tail past the window changed the vector');
    });

    it('embeds empty and whitespace-only text, and stops on abort', async () => {
      const { embeddings } = await model.doEmbed({ values: ['', '   \n'] });
      for (const v of embeddings) assert.ok(v.every(Number.isFinite) && v.length === model.dimensions);
      const controller = new AbortController();
      controller.abort();
      await assert.rejects(model.doEmbed({ values: TEXTS, abortSignal: controller.signal }), /abort/i);
    });

    it('serves calls made at the same time, each with its own vectors', async () => {
      const results = await Promise.all(TEXTS.map((text) => model.doEmbed({ values: [text, TEXTS[0]!] })));
      for (const [i, r] of results.entries()) {
        assert.ok(cosineSimilarity(r.embeddings[0]!, await embedOne(TEXTS[i]!)) > 0.9999);
        assert.ok(cosineSimilarity(r.embeddings[1]!, await embedOne(TEXTS[0]!)) > 0.9999);
      }
    });
  });
}
