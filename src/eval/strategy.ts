import { z } from 'zod';
import { AttuneError } from '../models/model-error.ts';

/**
 * The ways of answering an evaluation compares on the same questions:
 * - `base`: the chat model alone, no retrieval, no adapter;
 * - `rag`: retrieval + the chat model (Attune's grounded answer path);
 * - `ft`: a fine-tuned adapter on the chat model, no retrieval;
 * - `hybrid`: the adapter answering over retrieved sources (RAFT-style);
 * - `extractive`: the best supporting sentence of the sources, no generation.
 */
export const strategyKinds = ['base', 'rag', 'ft', 'hybrid', 'extractive'] as const;
export type StrategyKind = (typeof strategyKinds)[number];

export const strategySchema = z
  .object({
    name: z.string().min(1).max(80),
    kind: z.enum(strategyKinds),
    /** A catalog name, a .gguf path or `openai-compatible:<url>#<model>`. Default: the configured chat model. */
    chatModel: z.string().min(1).optional(),
    /** An adapter id or .gguf path (ft, hybrid). Default: the newest adapter trained on the chat model. */
    adapter: z.string().min(1).optional(),
    k: z.number().int().min(1).max(50).optional(),
    rerank: z.boolean().optional(),
    systemPrompt: z.string().min(1).optional(),
    evidenceSentences: z.number().int().min(0).max(50).optional(),
    maxTokens: z.number().int().min(1).max(4096).optional(),
    temperature: z.number().min(0).max(2).optional(),
  })
  .strict();

export type Strategy = z.infer<typeof strategySchema>;

export const usesRetrieval = (kind: StrategyKind): boolean => kind !== 'base' && kind !== 'ft';
export const usesAdapter = (kind: StrategyKind): boolean => kind === 'ft' || kind === 'hybrid';

export class StrategyError extends AttuneError {}

/**
 * `base,rag,ft,hybrid,extractive`; a strategy may name its model after `@`:
 * `rag,rag@openai-compatible:http://localhost:11434/v1#qwen2.5:7b` compares a 7B on Ollama with
 * the local default in one run. Names must be unique within a run.
 */
export function parseStrategyList(text: string): Strategy[] {
  const items = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (items.length === 0)
    throw new StrategyError('No strategies given.', { hint: `Use some of: ${strategyKinds.join(', ')}` });
  return uniqueNames(
    items.map((item) => {
      const at = item.indexOf('@');
      const kind = (at < 0 ? item : item.slice(0, at)) as StrategyKind;
      if (!strategyKinds.includes(kind))
        throw new StrategyError(`Unknown strategy "${kind}" in "${text}".`, {
          hint: `Strategies: ${strategyKinds.join(', ')} (optionally kind@model).`,
        });
      const chatModel = at < 0 ? undefined : item.slice(at + 1);
      return { name: item, kind, ...(chatModel ? { chatModel } : {}) };
    }),
  );
}

/** A JSON file: an array of strategies, or `{ "strategies": [...] }`. */
export function parseStrategyFile(value: unknown, source: string): Strategy[] {
  const list = Array.isArray(value) ? value : (value as { strategies?: unknown } | null)?.strategies;
  if (!Array.isArray(list))
    throw new StrategyError(`${source}: expected an array of strategies or {"strategies": [...]}.`);
  return uniqueNames(
    list.map((item, i) => {
      const parsed = strategySchema.safeParse(item);
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        throw new StrategyError(
          `${source}: strategies[${i}].${issue.path.join('.') || '(item)'}: ${issue.message}.`,
          {
            hint: `Each strategy: {"name", "kind": ${strategyKinds.join('|')}, "chatModel"?, "adapter"?, "k"?, ...}`,
          },
        );
      }
      return parsed.data;
    }),
  );
}

function uniqueNames(strategies: Strategy[]): Strategy[] {
  const seen = new Set<string>();
  for (const s of strategies) {
    if (seen.has(s.name)) throw new StrategyError(`Strategy "${s.name}" is listed twice.`);
    seen.add(s.name);
  }
  return strategies;
}
