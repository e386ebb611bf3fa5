import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../config/index.ts';
import { KnowledgeBase } from '../knowledge/index.ts';
import type { ChatModel, RerankingModel } from '../models/model-spec.ts';
import type { Models } from '../models/models.ts';
import { testModels } from '../models/testing.ts';
import { Retriever } from '../retrieve/index.ts';
import type { Principal } from '../store/index.ts';
import { defaultCalibration, verifierScore, verifierThreshold } from './abstention.ts';
import { Answerer } from './answerer.ts';

// The shipped answerability verifier (attune-verifier-minilm-l6-squad2), as the answerer's gate
// reads it: a question and the evidence sentences the chat model would be shown.
describe('The answerability verifier', () => {
  let models: Models;
  let verifier: RerankingModel;
  let threshold: number;

  before(async () => {
    models = await testModels();
    verifier = (await models.verifier())!;
    threshold = verifierThreshold(verifier.modelId, defaultCalibration());
  });
  after(() => models.dispose());

  it('is the default gate, with a threshold fitted for it', () => {
    assert.equal(verifier.modelId, 'attune-verifier-minilm-l6-squad2');
    assert.equal(defaultCalibration().verifier?.model, verifier.modelId);
    assert.ok(threshold > 0 && threshold < 1, String(threshold));
  });

  // Evidence on the same subject that does not answer still scores 0.08-0.27 here, mostly above
  // the threshold (0.18): the gate ranks it below the answering evidence but leaves stopping it to
  // the support checks after generation. Questions off the subject are stopped (next test).
  it('scores evidence that answers above evidence that only shares its words, and passes it', async () => {
    // Pairs written for this test (not from any training article): each question once with
    // evidence that holds its answer and once with evidence on the same subject that does not.
    const pairs: [string, string, string][] = [
      [
        'How long is paid parental leave?',
        'Employees receive 16 weeks of paid parental leave, which can be taken in up to three blocks.',
        'Parental leave requests go to the HR team at least four weeks before the leave starts.',
      ],
      [
        'Where do orders ship from?',
        'Orders ship from the Leeds warehouse within 2 business days.',
        'Orders can be tracked from the account page once they have shipped.',
      ],
      [
        'When did the Rhine bridge at Remagen collapse?',
        'The Ludendorff Bridge at Remagen collapsed on 17 March 1945, ten days after its capture.',
        'The Ludendorff Bridge at Remagen was built during the First World War to carry troops.',
      ],
      [
        'Who founded the Leeds warehouse?',
        'The Leeds warehouse was founded by Margaret Ellis in 1998.',
        'The Leeds warehouse ships orders within 2 business days and employs 40 people.',
      ],
    ];
    for (const [question, answering, notAnswering] of pairs) {
      const [yes, no] = await verifier.rerank(question, [answering, notAnswering]);
      console.log(`${question}: answering ${yes!.toFixed(3)}, not answering ${no!.toFixed(3)}`);
      assert.ok(yes! > no!, `${question}: ${yes} vs ${no}`);
      assert.ok(
        yes! >= threshold,
        `${question}: the answering evidence is gated out (${yes} < ${threshold})`,
      );
    }
  });

  it('lets one source that answers through even when the others do not (the two-file knowledge base)', async () => {
    const question = 'How soon do orders ship?';
    const evidence = [
      'Annual plans can be refunded within 45 days of purchase. Monthly plans are not refundable.',
      'Orders ship from the Leeds warehouse within 2 business days.',
    ];
    const score = await verifierScore(verifier, question, evidence);
    const [joined] = await verifier.rerank(question, [evidence.join(' ')]);
    console.log(`${question}: best ${score.toFixed(3)}, as one text ${joined!.toFixed(3)}`);
    assert.ok(score >= threshold, `${score} < ${threshold}`);
    assert.ok(score >= joined!);
    const gift = await verifierScore(verifier, 'Do you offer gift cards?', evidence);
    assert.ok(gift < threshold, `gift cards pass: ${gift}`);
  });
});

describe('The answerer with a verifier gate (two-file knowledge base)', () => {
  let models: Models;
  let kb: KnowledgeBase;
  let chat: ChatModel;
  const reader: Principal = { user: 'reader', groups: [] };
  const work = mkdtempSync(join(tmpdir(), 'attune-verifier-gate-'));

  before(async () => {
    models = await testModels();
    const docs = join(work, 'docs');
    mkdirSync(docs);
    writeFileSync(join(docs, 'returns.md'), 'Annual plans can be refunded within 45 days of purchase.\n');
    writeFileSync(
      join(docs, 'shipping.md'),
      'Orders ship from the Leeds warehouse within 2 business days.\n',
    );
    const config = loadConfig({ cwd: work, env: { ...process.env, ATTUNE_DIR: join(work, '.attune') } });
    kb = await KnowledgeBase.open(config, models);
    assert.equal((await kb.sync([docs])).failed, 0);
    chat = await models.chat();
  });
  after(async () => {
    await kb.close();
    await models.dispose();
    rmSync(work, { recursive: true, force: true });
  });

  it('gates with the verifier before generating, on exactly the evidence the model would be shown', async () => {
    // A scripted verifier (control flow only; the real one is measured in verifier.test.ts and
    // bench/answers.ts) and a chat model that counts its calls.
    const read: { query: string; texts: string[] }[] = [];
    let score = 0.1;
    const verifier = {
      specificationVersion: 'v1' as const,
      provider: 'scripted',
      modelId: 'scripted-verifier',
      maxInputTokens: 256,
      rerank: async (query: string, texts: string[]) => {
        read.push({ query, texts });
        // Slow enough that the answer's verify timing must include it.
        await new Promise((r) => setTimeout(r, 40));
        return texts.map(() => score);
      },
    };
    let generations = 0;
    const counting: ChatModel = {
      ...chat,
      modelId: chat.modelId,
      contextSize: chat.contextSize,
      doGenerate: (o) => chat.doGenerate(o),
      doStream: (o) => {
        generations++;
        return chat.doStream(o);
      },
    };
    const embedder = await models.embedding();
    const gated = new Answerer({
      chat: counting,
      tokenizer: await models.tokenizer(models.defaultChatName),
      embedder,
      retriever: new Retriever({ store: kb.store, embedder }),
      store: kb.store,
      verifier: { model: verifier, threshold: 0.5 },
    });
    const question = 'Where do orders ship from?';
    const low = await gated.answer(question, { principal: reader, cache: false });
    assert.equal(low.abstained, true);
    assert.equal(low.abstainReason, 'low-retrieval-confidence');
    assert.equal(low.retrievalConfidence, 0.1);
    assert.equal(generations, 0, 'nothing generated below the threshold');
    const verifyMs = low.timings.verifyMs ?? 0;
    assert.ok(
      verifyMs >= 39 && verifyMs <= low.timings.totalMs,
      `verify ${verifyMs} ms of ${low.timings.totalMs}`,
    );
    const { verifierText, verifierEvidence } = await gated.promptFor(question, { principal: reader });
    const pieces = verifierEvidence.filter((t) => t);
    assert.deepEqual(read[0], {
      query: question,
      texts: pieces.length > 1 ? [verifierText, ...pieces] : pieces,
    });
    assert.match(verifierText, /Leeds/);
    score = 0.9;
    const high = await gated.answer(question, { principal: reader, cache: false });
    assert.equal(generations, 1, 'generated above the threshold');
    assert.equal(high.retrievalConfidence, 0.9);
  });
});
