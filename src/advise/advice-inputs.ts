import { z } from 'zod';
import { AttuneError } from '../models/model-error.ts';

/**
 * The decision questions practitioners ask before choosing RAG, fine-tuning or the hybrid. One
 * table drives the schema's messages, the CLI's flags and its interactive prompts, so the three
 * cannot drift apart.
 */

export const changeFrequencies = ['daily', 'weekly', 'monthly', 'quarterly', 'rarely'] as const;
export type ChangeFrequency = (typeof changeFrequencies)[number];

export const adviceAnswersSchema = z
  .object({
    changeFrequency: z.enum(changeFrequencies),
    citationsRequired: z.boolean(),
    latencyBudgetMs: z.number().positive().finite(),
    labelledExamples: z.number().int().min(0),
    mlSkills: z.enum(['none', 'some', 'strong']),
    wrongAnswerCost: z.enum(['low', 'medium', 'high']),
    dataSensitivity: z.enum(['public', 'internal', 'confidential', 'regulated']),
    queriesPerMonth: z.number().min(0).finite(),
    styleOrFormatNeeds: z.boolean().optional(),
  })
  .strict();

export type AdviceAnswers = z.infer<typeof adviceAnswersSchema>;
export type AdviceKey = keyof AdviceAnswers;

export type AdviceQuestion = {
  key: AdviceKey;
  /** The CLI flag, without the leading dashes. */
  flag: string;
  prompt: string;
  kind: 'choice' | 'boolean' | 'number' | 'integer';
  choices?: readonly string[];
  optional?: boolean;
};

export const adviceQuestions: readonly AdviceQuestion[] = [
  {
    key: 'changeFrequency',
    flag: 'change-frequency',
    prompt: 'How often does the knowledge change?',
    kind: 'choice',
    choices: changeFrequencies,
  },
  {
    key: 'citationsRequired',
    flag: 'citations-required',
    prompt: 'Must answers cite their sources (or be audited)?',
    kind: 'boolean',
  },
  {
    key: 'latencyBudgetMs',
    flag: 'latency-budget-ms',
    prompt: 'Latency budget per answer, p95, in milliseconds?',
    kind: 'number',
  },
  {
    key: 'labelledExamples',
    flag: 'labelled-examples',
    prompt: 'How many labelled question/answer or task examples exist?',
    kind: 'integer',
  },
  {
    key: 'mlSkills',
    flag: 'ml-skills',
    prompt: 'Machine-learning skills in the team?',
    kind: 'choice',
    choices: ['none', 'some', 'strong'],
  },
  {
    key: 'wrongAnswerCost',
    flag: 'wrong-answer-cost',
    prompt: 'Cost of a wrong answer?',
    kind: 'choice',
    choices: ['low', 'medium', 'high'],
  },
  {
    key: 'dataSensitivity',
    flag: 'data-sensitivity',
    prompt: 'How sensitive is the data?',
    kind: 'choice',
    choices: ['public', 'internal', 'confidential', 'regulated'],
  },
  {
    key: 'queriesPerMonth',
    flag: 'queries-per-month',
    prompt: 'Questions answered per month?',
    kind: 'number',
  },
  {
    key: 'styleOrFormatNeeds',
    flag: 'style-or-format-needs',
    prompt: 'Is there a fixed house style or output format the base model does not follow?',
    kind: 'boolean',
    optional: true,
  },
];

/** What a question accepts, in words, for error messages and prompts. */
export function allowedValues(question: AdviceQuestion): string {
  switch (question.kind) {
    case 'choice':
      return `one of ${question.choices!.join(', ')}`;
    case 'boolean':
      return 'true or false';
    case 'number':
      return question.key === 'latencyBudgetMs' ? 'a number above 0' : 'a number of at least 0';
    case 'integer':
      return 'a whole number of at least 0';
  }
}

function questionOf(key: string): AdviceQuestion | undefined {
  return adviceQuestions.find((q) => q.key === key);
}

/** Validates an answers file's JSON; every error names the field, what it got and what it allows. */
export function parseAdviceAnswers(json: unknown, source: string): AdviceAnswers {
  return parseWith(adviceAnswersSchema, json, source);
}

/** As parseAdviceAnswers, for a file that answers only some questions (the rest come from flags or prompts). */
export function parsePartialAdviceAnswers(json: unknown, source: string): Partial<AdviceAnswers> {
  return parseWith(adviceAnswersSchema.partial(), json, source);
}

function parseWith<T>(schema: z.ZodType<T>, json: unknown, source: string): T {
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw new AttuneError(`${source} must hold a JSON object of answers.`, {
      hint: `Keys: ${adviceQuestions.map((q) => q.key).join(', ')}.`,
    });
  const known = adviceQuestions.map((q) => q.key as string);
  for (const key of Object.keys(json)) {
    if (!known.includes(key))
      throw new AttuneError(`unknown question '${key}' in ${source}; known: ${known.join(', ')}.`, {
        hint: 'Remove the key or correct its spelling.',
      });
  }
  const parsed = schema.safeParse(json);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const key = String(issue.path[0] ?? '');
  const question = questionOf(key);
  const value = (json as Record<string, unknown>)[key];
  const got = value === undefined ? 'is missing' : `is ${JSON.stringify(value)}`;
  throw new AttuneError(
    `${key} in ${source} ${got}; allowed: ${question ? allowedValues(question) : issue.message}.`,
    { hint: question ? `${key}: ${question.prompt}` : undefined },
  );
}

/** Reads one typed-in or flag answer ("yes", "3000", "weekly"); throws naming the question's flag. */
export function answerFromText(question: AdviceQuestion, text: string): AdviceAnswers[AdviceKey] {
  const t = text.trim().toLowerCase();
  const fail = () =>
    new AttuneError(`--${question.flag} "${text}" is not valid; allowed: ${allowedValues(question)}.`);
  switch (question.kind) {
    case 'choice':
      if (!question.choices!.includes(t)) throw fail();
      return t as AdviceAnswers[AdviceKey];
    case 'boolean':
      if (['yes', 'y', 'true'].includes(t)) return true;
      if (['no', 'n', 'false'].includes(t)) return false;
      throw fail();
    case 'number':
    case 'integer': {
      const n = Number(t);
      const ok =
        t !== '' &&
        Number.isFinite(n) &&
        (question.kind === 'integer' ? Number.isInteger(n) : true) &&
        (question.key === 'latencyBudgetMs' ? n > 0 : n >= 0);
      if (!ok) throw fail();
      return n;
    }
  }
}
