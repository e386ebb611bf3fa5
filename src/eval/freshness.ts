import { seededRandom } from '../finetune/index.ts';
import type { Document } from '../ingest/index.ts';
import { buildDocument } from '../ingest/index.ts';
import type { KnowledgeBase } from '../knowledge/index.ts';
import type { Principal, StoredChunk, StoredDocument } from '../store/index.ts';
import type { AnswerFn, ResolvedStrategy } from './eval-run.ts';
import { wilsonInterval } from './intervals.ts';
import type { Estimate } from './metrics.ts';
import { matchesGold, type TestQuestion } from './test-set.ts';

/**
 * The freshness probe: the measured form of "RAG stays current, a fine-tuned model goes stale".
 * For N documents a checkable fact (a number a test question asks for) is changed as a new
 * knowledge-base version, the affected questions are asked again, and each strategy is scored on
 * whether its answer carries the new value. It must run on a copy of the knowledge base: the
 * caller hands it one (see Attune.freshnessProbe), so the user's documents are never touched.
 */

export type FreshnessProbe = {
  questionId: string;
  question: string;
  docId: string;
  oldValue: string;
  newValue: string;
};

export type FreshnessAnswer = {
  strategy: string;
  questionId: string;
  answer: string;
  abstained: boolean;
  fresh: boolean;
  stale: boolean;
  /** From the start of the update to this answer, the strategy's earlier probe answers included. */
  sinceSyncMs: number;
  error?: string;
};

export type FreshnessResult = {
  documents: number;
  /** Time to write the changed documents as a new version (chunk, embed, commit). */
  syncMs: number;
  kbVersion: number | undefined;
  probes: FreshnessProbe[];
  answers: FreshnessAnswer[];
  strategies: {
    strategy: string;
    probes: number;
    fresh: number;
    stale: number;
    freshShare: Estimate;
    /** Update start → the first answer with the new value; undefined: none was fresh. */
    firstFreshMs?: number;
  }[];
  /** Why fewer probes than asked were possible. */
  notes: string[];
};

const NUMBER = /^\d{1,3}(?:,\d{3})*$|^\d+$/;

/** The value a changed fact gets: a year moves by 7, any other number by 13; never a value the document already has. */
export function changedValue(value: string, text: string): string {
  const n = Number(value.replace(/,/g, ''));
  const year = n >= 1000 && n <= 2100 && !value.includes(',');
  for (let step = 1; step < 50; step++) {
    const next = String(n + (year ? 7 : 13) * step);
    const shown = value.includes(',') ? Number(next).toLocaleString('en-US') : next;
    if (!new RegExp(`\\b${shown}\\b`).test(text)) return shown;
  }
  return String(n + 1_000_003);
}

/** A document's text from its stored chunks, with the overlap between neighbours taken out once. */
export function textFromChunks(chunks: readonly StoredChunk[]): { headingPath: string[]; text: string }[] {
  const ordered = [...chunks].sort((a, b) => a.ordinal - b.ordinal);
  const out: { headingPath: string[]; text: string }[] = [];
  let previous = '';
  for (const chunk of ordered) {
    let text = chunk.text;
    const max = Math.min(previous.length, text.length);
    for (let k = max; k >= 20; k--) {
      if (previous.endsWith(text.slice(0, k))) {
        text = text.slice(k).trimStart();
        break;
      }
    }
    if (text) out.push({ headingPath: chunk.headingPath, text });
    previous = chunk.text;
  }
  return out;
}

/** Answerable questions whose gold answer is a number found in their gold document: one per document. */
export async function chooseProbes(
  kb: KnowledgeBase,
  questions: readonly TestQuestion[],
  count: number,
  principal: Principal,
  seed = 1,
): Promise<{
  probes: FreshnessProbe[];
  documents: Map<string, { doc: StoredDocument; chunks: StoredChunk[] }>;
}> {
  const stored = await kb.listDocuments(principal, { limit: 100_000 });
  const random = seededRandom(seed);
  const candidates = questions
    .filter((q) => q.answerable && q.gold_doc_ids.length > 0 && q.answers.some((a) => NUMBER.test(a.trim())))
    .map((q) => ({ q, r: random() }))
    .sort((a, b) => a.r - b.r)
    .map(({ q }) => q);
  const probes: FreshnessProbe[] = [];
  const documents = new Map<string, { doc: StoredDocument; chunks: StoredChunk[] }>();
  for (const q of candidates) {
    if (probes.length >= count) break;
    const doc = stored.find((d) => q.gold_doc_ids.some((g) => matchesGold(d.id, g)));
    if (!doc || documents.has(doc.id)) continue;
    const value = q.answers.map((a) => a.trim()).find((a) => NUMBER.test(a))!;
    const chunks = await kb.store.getChunks(doc.id, principal);
    const text = chunks.map((c) => c.text).join('\n');
    if (!new RegExp(`\\b${value}\\b`).test(text)) continue;
    documents.set(doc.id, { doc, chunks });
    probes.push({
      questionId: q.id,
      question: q.question,
      docId: doc.id,
      oldValue: value,
      newValue: changedValue(value, text),
    });
  }
  return { probes, documents };
}

const mentions = (answer: string, value: string) =>
  new RegExp(`(^|[^\\d,])${value.replace(/,/g, ',?')}([^\\d]|$)`).test(answer);

/**
 * Changes each probe's fact in `kb` (which must be a copy), then asks every strategy the probe
 * questions. `answer` must not use an answer cache.
 */
export async function runFreshnessProbe(options: {
  kb: KnowledgeBase;
  questions: readonly TestQuestion[];
  strategies: ResolvedStrategy[];
  answer: AnswerFn;
  documents: number;
  principal: Principal;
  seed?: number;
  onProgress?: (done: number, total: number) => void;
}): Promise<FreshnessResult> {
  const notes: string[] = [];
  const { probes, documents } = await chooseProbes(
    options.kb,
    options.questions,
    options.documents,
    options.principal,
    options.seed,
  );
  if (probes.length < options.documents)
    notes.push(
      `Asked for ${options.documents} documents; ${probes.length} had a test question whose gold answer is a number found in its document.`,
    );
  const changed: Document[] = probes.map((p) => {
    const { doc, chunks } = documents.get(p.docId)!;
    const pattern = new RegExp(`\\b${p.oldValue}\\b`, 'g');
    return buildDocument({
      id: doc.id,
      source: doc.source,
      title: doc.title,
      sections: textFromChunks(chunks).map((s) => ({
        headingPath: s.headingPath,
        text: s.text.replace(pattern, p.newValue),
      })),
      metadata: doc.metadata,
      acl: doc.acl,
    });
  });
  const started = performance.now();
  const summary = changed.length
    ? await options.kb.update(changed, { note: `freshness probe: ${probes.length} facts changed` })
    : undefined;
  const syncEnd = performance.now();
  const answers: FreshnessAnswer[] = [];
  const total = probes.length * options.strategies.length;
  const syncMs = syncEnd - started;
  for (const strategy of options.strategies) {
    // Strategies run one after another; each is timed as if it were asked right after the sync.
    const strategyStart = performance.now();
    const since = () => syncMs + performance.now() - strategyStart;
    for (const p of probes) {
      const q = options.questions.find((x) => x.id === p.questionId)!;
      try {
        const r = await options.answer(strategy, { ...q, answers: [p.newValue] }, { repeat: 0 });
        const text = r.abstained ? '' : r.answer;
        answers.push({
          strategy: strategy.name,
          questionId: p.questionId,
          answer: r.answer,
          abstained: r.abstained,
          fresh: mentions(text, p.newValue),
          stale: mentions(text, p.oldValue),
          sinceSyncMs: since(),
        });
      } catch (error) {
        answers.push({
          strategy: strategy.name,
          questionId: p.questionId,
          answer: '',
          abstained: false,
          fresh: false,
          stale: false,
          sinceSyncMs: since(),
          error: (error as Error).message,
        });
      }
      options.onProgress?.(answers.length, total);
    }
  }
  return {
    documents: probes.length,
    syncMs,
    kbVersion: summary?.version,
    probes,
    answers,
    strategies: options.strategies.map((s) => {
      const mine = answers.filter((a) => a.strategy === s.name);
      const fresh = mine.filter((a) => a.fresh).length;
      const [low, high] = wilsonInterval(fresh, mine.length);
      const first = mine.find((a) => a.fresh);
      return {
        strategy: s.name,
        probes: mine.length,
        fresh,
        stale: mine.filter((a) => a.stale).length,
        freshShare: { value: mine.length ? fresh / mine.length : Number.NaN, low, high, n: mine.length },
        ...(first ? { firstFreshMs: first.sinceSyncMs } : {}),
      };
    }),
    notes,
  };
}
