import { IngestError } from './ingest-error.ts';
import type { LoadedRecord, Loader, LoaderInput, RecordFailure, ResolvedLoadOptions } from './loader.ts';
import { parseMarkdown } from './markdown-loader.ts';
import { decodeText } from './text.ts';

type Scalar = string | number | boolean;

/*
 * JSON and JSONL hold records (help articles, tickets, FAQ entries): each record is its own
 * document, `<file id>#<id field or position>`, so one record changing re-indexes only itself.
 * A malformed JSONL line fails that line, naming it; the other lines still load.
 */

function recordToDocument(
  format: 'json' | 'jsonl',
  value: unknown,
  fallbackKey: string,
  where: string,
  name: string,
  options: ResolvedLoadOptions['json'],
): LoadedRecord | RecordFailure {
  if (typeof value === 'string') {
    return {
      key: fallbackKey,
      title: `${name} ${where}`,
      sections: [{ headingPath: [], text: value }],
      metadata: { format },
    };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return {
      key: fallbackKey,
      reason: `${where}: expected an object, found ${Array.isArray(value) ? 'an array' : typeof value}`,
    };
  }
  const record = value as Record<string, unknown>;
  const texts: string[] = [];
  for (const field of options.textFields) {
    const entry = record[field];
    if (typeof entry === 'string' || typeof entry === 'number') texts.push(String(entry));
    else if (Array.isArray(entry) && entry.every((e) => typeof e === 'string'))
      texts.push(entry.join('\n\n'));
  }
  const idValue = record[options.idField ?? 'id'];
  const key = typeof idValue === 'string' || typeof idValue === 'number' ? String(idValue) : fallbackKey;
  if (texts.join('').trim() === '') {
    return {
      key,
      reason: `${where}: no text in fields ${options.textFields.join(', ')}; set json.textFields to the field that holds the text`,
    };
  }
  let title: string | undefined;
  for (const field of options.titleFields) {
    const entry = record[field];
    if ((typeof entry === 'string' || typeof entry === 'number') && String(entry).trim()) {
      title = String(entry).trim();
      break;
    }
  }
  const metadata: Record<string, Scalar> = { format };
  const skip = new Set([...options.textFields, ...options.titleFields]);
  for (const field of options.metadataFields ?? Object.keys(record).filter((f) => !skip.has(f))) {
    const entry = record[field];
    if (typeof entry === 'string' || typeof entry === 'number' || typeof entry === 'boolean')
      metadata[field] = entry;
  }
  // Record text is often Markdown; when it is not, this is a single section.
  const content = parseMarkdown(texts.join('\n\n'));
  const sections = content.sections.map((s) => ({
    ...s,
    headingPath:
      title !== undefined && s.headingPath[0] !== title ? [title, ...s.headingPath] : s.headingPath,
  }));
  return { key, title: title ?? content.title ?? `${name} ${where}`, sections, metadata };
}

function withUniqueKeys(items: Array<LoadedRecord | RecordFailure>): Array<LoadedRecord | RecordFailure> {
  const seen = new Set<string>();
  return items.map((item) => {
    if ('reason' in item || item.key === undefined) return item;
    if (seen.has(item.key)) {
      return { key: item.key, reason: `duplicate record id "${item.key}"; ids must be unique within a file` };
    }
    seen.add(item.key);
    return item;
  });
}

export const jsonLoader: Loader = {
  format: 'json',
  extensions: ['json'],
  mediaTypes: ['application/json'],
  async load({ bytes, name, charset, options }: LoaderInput) {
    const text = decodeText(bytes, charset);
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      throw new IngestError(`invalid JSON: ${(error as Error).message}`);
    }
    const records = Array.isArray(value) ? value : [value];
    if (records.length === 0) throw new IngestError('JSON array is empty');
    return withUniqueKeys(
      records.map((record, index) =>
        recordToDocument('json', record, String(index + 1), `record ${index + 1}`, name, options.json),
      ),
    );
  },
};

export const jsonlLoader: Loader = {
  format: 'jsonl',
  extensions: ['jsonl', 'ndjson'],
  mediaTypes: ['application/x-ndjson', 'application/jsonl', 'application/x-jsonlines'],
  async load({ bytes, name, charset, options }: LoaderInput) {
    const lines = decodeText(bytes, charset).split(/\r?\n/);
    const items: Array<LoadedRecord | RecordFailure> = [];
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!.trim();
      if (line === '') continue;
      const lineNumber = i + 1;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch (error) {
        items.push({
          key: String(lineNumber),
          reason: `line ${lineNumber}: invalid JSON (${(error as Error).message})`,
        });
        continue;
      }
      items.push(
        recordToDocument('jsonl', value, String(lineNumber), `line ${lineNumber}`, name, options.json),
      );
    }
    if (items.length === 0) throw new IngestError('JSONL file has no records');
    return withUniqueKeys(items);
  },
};
