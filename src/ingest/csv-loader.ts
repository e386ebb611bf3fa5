import { IngestError } from './ingest-error.ts';
import type { LoadedRecord, Loader } from './loader.ts';
import { decodeText } from './text.ts';

/**
 * RFC 4180 CSV: fields in double quotes may hold the delimiter, newlines and "" for a quote.
 * Line endings may be CRLF or LF. Returns rows of fields; a trailing newline adds no row.
 */
export function parseCsv(text: string, delimiter = ','): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  let quoteLine = 0;
  let line = 1;
  let atFieldStart = true;
  for (let i = 0; i < text.length; i++) {
    const char = text[i]!;
    if (quoted) {
      if (char === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else {
        if (char === '\n') line++;
        field += char;
      }
      continue;
    }
    if (char === '"' && atFieldStart) {
      quoted = true;
      quoteLine = line;
      atFieldStart = false;
    } else if (char === delimiter) {
      row.push(field);
      field = '';
      atFieldStart = true;
    } else if (char === '\n' || char === '\r') {
      if (char === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      atFieldStart = true;
      line++;
    } else {
      field += char;
      atFieldStart = false;
    }
  }
  if (quoted)
    throw new IngestError(`malformed CSV: quoted field starting on line ${quoteLine} is never closed`);
  if (field !== '' || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

/**
 * One document per file, one section per data row (heading path `row N`, N counted from the first
 * data row), each row written as "header: value" lines so a chunk of it reads without the header.
 * Per-file rather than per-row keeps a spreadsheet one citable source and one unit for sync.
 */
export const csvLoader: Loader = {
  format: 'csv',
  extensions: ['csv', 'tsv'],
  mediaTypes: ['text/csv', 'text/tab-separated-values'],
  async load({ bytes, name, charset }): Promise<LoadedRecord[]> {
    const delimiter = name.toLowerCase().endsWith('.tsv') ? '\t' : ',';
    const rows = parseCsv(decodeText(bytes, charset), delimiter).filter((r) =>
      r.some((f) => f.trim() !== ''),
    );
    const header = rows.shift();
    if (!header) throw new IngestError('CSV has no header row');
    const columns = header.map((h, i) => h.trim() || `column ${i + 1}`);
    const sections = rows.map((row, index) => {
      const lines: string[] = [];
      for (let i = 0; i < row.length; i++) {
        const value = row[i]!.trim();
        if (value) lines.push(`${columns[i] ?? `column ${i + 1}`}: ${value}`);
      }
      return { headingPath: [`row ${index + 1}`], text: lines.join('\n') };
    });
    if (sections.length === 0) throw new IngestError('CSV has a header but no data rows');
    return [
      { title: name, sections, metadata: { format: 'csv', rows: rows.length, columns: columns.join(', ') } },
    ];
  },
};
