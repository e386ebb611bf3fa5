import { type Answerer, NOT_IN_KNOWLEDGE_BASE } from '../answer/index.ts';
import { normalizeAnswer } from '../eval/squad-metrics.ts';
import type { Principal } from '../store/index.ts';
import type { ChatExample } from './chat-example.ts';

/** A labelled question: gold answers, or none when the knowledge base does not answer it. */
export type LabelledQuestion = { id?: string; question: string; answers: string[]; answerable: boolean };

export type GroundedExamplesResult = {
  examples: ChatExample[];
  /** Answerable questions whose answer was in none of the retrieved sources: nothing to cite. */
  skippedAnswerNotRetrieved: number;
};

/**
 * Training examples for the two adapters an evaluation compares:
 * - `grounded` (for the hybrid): the exact prompt the answerer builds for the question (its
 *   system prompt, the evidence sentences it ranks, numbered as it numbers them), answered with
 *   the gold span and the number of the source it is in, or with the abstention sentence for an
 *   unanswerable question. The adapter learns on the prompt it will answer from, not on a format
 *   of its own (the RAFT format of raft.ts is a different prompt).
 * - `closed-book` (for ft): the question alone, answered with the gold answer.
 */
export async function buildAnswerExamples(options: {
  answerer: Answerer;
  questions: readonly LabelledQuestion[];
  style: 'grounded' | 'closed-book';
  principal: Principal;
  k?: number;
  onProgress?: (done: number, total: number) => void;
  abortSignal?: AbortSignal;
}): Promise<GroundedExamplesResult> {
  const examples: ChatExample[] = [];
  let skipped = 0;
  for (const [i, q] of options.questions.entries()) {
    options.abortSignal?.throwIfAborted();
    options.onProgress?.(i, options.questions.length);
    const meta = { source: 'labelled', ...(q.id ? { questionId: q.id } : {}), style: options.style };
    if (options.style === 'closed-book') {
      if (!q.answerable) continue;
      examples.push({
        messages: [
          { role: 'user', content: q.question },
          { role: 'assistant', content: q.answers[0]! },
        ],
        meta,
      });
      continue;
    }
    const { messages, sources } = await options.answerer.promptFor(q.question, {
      principal: options.principal,
      ...(options.k !== undefined ? { k: options.k } : {}),
      ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}),
    });
    let reply: string;
    if (!q.answerable) reply = NOT_IN_KNOWLEDGE_BASE;
    else {
      const user = messages.find((m) => m.role === 'user')!.content;
      // The source that holds a gold answer, as numbered in the prompt ([n] text lines).
      const found = q.answers
        .map((answer) => ({ answer, n: sourceHolding(user, sources.length, answer) }))
        .find((x) => x.n !== undefined);
      if (!found) {
        skipped++;
        continue;
      }
      reply = `${found.answer} [${found.n}]`;
    }
    examples.push({
      messages: [
        ...messages.map((m) => ({ role: m.role, content: m.content })),
        { role: 'assistant', content: reply },
      ],
      meta,
    });
  }
  options.onProgress?.(options.questions.length, options.questions.length);
  return { examples, skippedAnswerNotRetrieved: skipped };
}

/** The number n of the first numbered source (`[n] …`, inline or fenced) whose text holds the answer. */
function sourceHolding(prompt: string, count: number, answer: string): number | undefined {
  const wanted = normalizeAnswer(answer);
  if (!wanted) return undefined;
  const blocks = prompt.split(/\n(?=\[\d+\] )/);
  for (let n = 1; n <= count; n++) {
    const block = blocks.find((b) => b.startsWith(`[${n}] `));
    if (block && normalizeAnswer(block.slice(`[${n}] `.length)).includes(wanted)) return n;
  }
  return undefined;
}
