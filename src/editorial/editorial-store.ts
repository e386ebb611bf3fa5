import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { AttuneError } from '../models/index.ts';
import type { Draft, EditorialAction } from './draft-record.ts';
import type { NewsItem } from './news-item.ts';
import type { Relevance } from './relevance.ts';

type Cached = Relevance & { classifier: string; at: string };

/**
 * A desk's state beside the knowledge base (`<dir>/editorial/<desk>/`): the items seen, the
 * classification cache, the drafts and the editorial log. Plain JSON, each file replaced by a
 * rename so a crash leaves the old or the new file whole; the log is append-only JSON lines.
 * One writer per desk at a time (the CLI and the library each hold one desk object).
 */
export class EditorialStore {
  readonly dir: string;
  #items: Map<string, NewsItem> | undefined;
  #cache: Record<string, Cached> | undefined;

  constructor(dir: string) {
    this.dir = dir;
    mkdirSync(join(dir, 'drafts'), { recursive: true });
  }

  items(): Map<string, NewsItem> {
    this.#items ??= new Map(
      readJson<{ items: NewsItem[] }>(join(this.dir, 'items.json'), { items: [] }).items.map((i) => [
        i.id,
        i,
      ]),
    );
    return this.#items;
  }

  saveItems(): void {
    writeJson(join(this.dir, 'items.json'), { items: [...this.items().values()] });
  }

  #classifications(): Record<string, Cached> {
    this.#cache ??= readJson<{ entries: Record<string, Cached> }>(join(this.dir, 'classifications.json'), {
      entries: {},
    }).entries;
    return this.#cache;
  }

  cachedRelevance(key: string): Cached | undefined {
    return this.#classifications()[key];
  }

  cacheRelevance(entries: { key: string; value: Cached }[]): void {
    const all = this.#classifications();
    for (const { key, value } of entries) all[key] = value;
    writeJson(join(this.dir, 'classifications.json'), { entries: all });
  }

  draft(id: string): Draft | undefined {
    if (!/^[\w-]+$/.test(id)) return undefined;
    const path = join(this.dir, 'drafts', `${id}.json`);
    return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as Draft) : undefined;
  }

  drafts(): Draft[] {
    return readdirSync(join(this.dir, 'drafts'))
      .filter((f) => f.endsWith('.json'))
      .map((f) => JSON.parse(readFileSync(join(this.dir, 'drafts', f), 'utf8')) as Draft)
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  }

  saveDraft(draft: Draft): void {
    writeJson(join(this.dir, 'drafts', `${draft.id}.json`), draft);
  }

  log(action: EditorialAction): void {
    appendFileSync(join(this.dir, 'log.jsonl'), `${JSON.stringify(action)}\n`);
  }

  actions(draftId?: string): EditorialAction[] {
    const path = join(this.dir, 'log.jsonl');
    if (!existsSync(path)) return [];
    const all = readFileSync(path, 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .flatMap((l) => {
        try {
          return [JSON.parse(l) as EditorialAction];
        } catch {
          // A line torn by a crash mid-append is the only one that can be partial; skip it.
          return [];
        }
      });
    return draftId ? all.filter((a) => a.draftId === draftId) : all;
  }
}

function readJson<T>(path: string, fallback: T): T {
  if (!existsSync(path)) return fallback;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch (error) {
    throw new AttuneError(`${path}: the editorial state is not valid JSON (${(error as Error).message}).`, {
      hint: 'Restore it from a backup, or delete it to start that part of the desk afresh.',
    });
  }
}

function writeJson(path: string, value: unknown): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(value)}\n`);
  renameSync(tmp, path);
}
