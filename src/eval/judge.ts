import { generateObject } from '../models/index.ts';
import type { ChatModel } from '../models/model-spec.ts';
import type { TestQuestion } from './test-set.ts';

/**
 * An optional judge model: is the answer correct given the gold answers? Token F1 misses right
 * answers worded differently ("four" for "4", a longer sentence around the span); a judge catches
 * them but has its own errors, so its agreement with the gold-based verdict is always reported
 * beside its score, never instead of it.
 */
export async function judgeCorrectness(
  judge: ChatModel,
  question: TestQuestion,
  answer: string,
  abstained: boolean,
): Promise<boolean> {
  if (!question.answerable) return abstained;
  if (abstained || answer.trim() === '') return false;
  const { object } = await generateObject<{ correct: boolean }>({
    model: judge,
    system:
      'You grade answers to questions. An answer is correct when it states the same fact as one of the gold answers, even in other words. Extra correct detail is fine; a different or missing fact is not.',
    prompt: `Question: ${question.question}\nGold answers: ${question.answers.map((a) => JSON.stringify(a)).join(', ')}\nAnswer to grade: ${JSON.stringify(answer)}\n\nIs the answer correct?`,
    schema: {
      type: 'object',
      properties: { correct: { type: 'boolean' } },
      required: ['correct'],
      additionalProperties: false,
    },
    maxTokens: 16,
    temperature: 0,
  });
  return object.correct;
}
