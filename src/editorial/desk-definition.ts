import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { AttuneError } from '../models/index.ts';
import { isHttpUrl } from './feed-source.ts';

const topic = z.object({
  id: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'lower-case letters, digits and dashes'),
  /** What the desk covers under this topic, in words: the embedding classifier compares items with it. */
  description: z.string().min(10),
});

const deskSchema = z.object({
  name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'lower-case letters, digits and dashes'),
  title: z.string().min(1),
  topics: z.array(topic).min(1),
  /** http(s) URLs or files (relative to the desk file). */
  feeds: z.array(z.string().min(1)).default([]),
  classifier: z.enum(['embedding', 'chat']).default('embedding'),
  /** Cosine to a topic description at or above which an item is relevant (embedding classifier). */
  threshold: z.number().min(-1).max(1).default(0.3),
  /** Items read from one feed per poll; the rest are reported, not silently dropped. */
  maxItemsPerFeed: z.number().int().positive().default(500),
  /** Items put into one draft at most (a larger cluster is split). */
  maxItemsPerDraft: z.number().int().positive().default(6),
  /** Cosine between two items at or above which they tell the same story. */
  clusterSimilarity: z.number().min(-1).max(1).default(0.55),
  /** When a cluster's sources do not fit the chat model's context: split it, or condense its items. */
  overflow: z.enum(['split', 'condense']).default('split'),
  /** Tokens kept free for the article the model writes. */
  draftTokens: z.number().int().positive().default(900),
  styleGuide: z.string().default(''),
  /** Articles the desk has published, as examples of its structure (a fine-tuning dataset). */
  examples: z
    .array(
      z.object({
        sources: z.array(z.string()),
        article: z.object({
          headline: z.string(),
          lead: z.string(),
          paragraphs: z.array(z.string()),
          insights: z.array(z.string()),
        }),
      }),
    )
    .default([]),
  publish: z
    .object({
      /** Markdown and DOCX files go here (relative to the desk file); default `<desk state>/published`. */
      dir: z.string().optional(),
      webhook: z.string().url().optional(),
    })
    .default({}),
});

export type DeskDefinition = z.infer<typeof deskSchema>;
export type DeskDefinitionInput = z.input<typeof deskSchema>;
export type Topic = DeskDefinition['topics'][number];

/** The "irrelevant" label: an item that is about none of the desk's topics. */
export const IRRELEVANT = 'irrelevant';

/** Validates a desk; relative feed files and the publish folder resolve against `baseDir`. */
export function defineDesk(input: unknown, origin = 'desk', baseDir = process.cwd()): DeskDefinition {
  const parsed = deskSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new AttuneError(`${origin}: field "${issue.path.join('.') || '(root)'}": ${issue.message}.`, {
      hint: 'See docs/editorial.md for the desk file; src/editorial/fixtures/desk.json is an example.',
    });
  }
  const desk = parsed.data;
  const ids = desk.topics.map((t) => t.id);
  const repeated = ids.find((id, i) => ids.indexOf(id) !== i);
  if (repeated) throw new AttuneError(`${origin}: field "topics": topic "${repeated}" is declared twice.`);
  if (ids.includes(IRRELEVANT))
    throw new AttuneError(`${origin}: field "topics": "${IRRELEVANT}" is reserved for items about no topic.`);
  const local = (p: string) => (isHttpUrl(p) || isAbsolute(p) ? p : resolve(baseDir, p));
  return {
    ...desk,
    feeds: desk.feeds.map(local),
    publish: { ...desk.publish, ...(desk.publish.dir ? { dir: local(desk.publish.dir) } : {}) },
  };
}

/** Reads and validates a desk file (JSON). */
export function readDeskFile(path: string): DeskDefinition {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new AttuneError(`${path}: cannot read the desk file (${(error as Error).message}).`, {
      hint: 'A desk file is JSON: name, title, topics, feeds. See docs/editorial.md.',
    });
  }
  return defineDesk(raw, path, dirname(resolve(path)));
}
