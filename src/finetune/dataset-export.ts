import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { ChatExample } from './chat-example.ts';

export type ExportFormat = 'openai';

export type JsonlOptions = {
  /**
   * Keep each example's `meta` (generator, chunk and document ids) under a `meta` key. Attune's
   * importer reads it back; `openai` export leaves it out, since hosted services reject unknown keys.
   */
  includeMeta?: boolean;
};

/** One `{"messages":[{"role","content"}]}` line per example, the shape OpenAI fine-tuning reads. */
export function toChatJsonl(examples: ChatExample[], options: JsonlOptions = {}): string {
  return examples
    .map((e) =>
      JSON.stringify({
        messages: e.messages.map((m) => ({ role: m.role, content: m.content })),
        ...(options.includeMeta && e.meta ? { meta: e.meta } : {}),
      }),
    )
    .map((line) => `${line}\n`)
    .join('');
}

/** Writes chat JSONL atomically (temporary file, then rename), creating the folder. */
export async function writeChatJsonl(
  file: string,
  examples: ChatExample[],
  options: JsonlOptions = {},
): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, toChatJsonl(examples, options));
  await rename(temporary, file);
}
