import type { Section } from './document.ts';
import { IngestError } from './ingest-error.ts';
import type { LoadedRecord, Loader } from './loader.ts';

type Item = { text: string; x: number; y: number; width: number; size: number };
type Line = { page: number; y: number; size: number; cells: string[]; chars: number };

/** Gap (in font sizes) between two runs on one line that makes them separate table cells. */
const CELL_GAP = 1.5;
/** Line spacing (in font sizes) above which a new paragraph starts. */
const PARAGRAPH_GAP = 1.7;
/** Font size, relative to the body text, from which a short line counts as a heading. */
const HEADING_RATIO = 1.15;

/**
 * PDF text layer to sections: text runs are grouped by baseline into lines, runs far apart on a
 * line become " | "-joined cells (so tables come out as rows), larger-font lines become headings,
 * and every page starts a section carrying its page number.
 */
export async function parsePdf(bytes: Uint8Array): Promise<{
  title: string | undefined;
  sections: Section[];
  metadata: Record<string, string | number | boolean>;
}> {
  const pdfjs = await import('pdfjs-dist/legacy/build/pdf.mjs');
  // pdfjs takes ownership of the buffer it is given.
  const task = pdfjs.getDocument({
    data: new Uint8Array(bytes),
    verbosity: 0,
    isEvalSupported: false,
    disableFontFace: true,
    useSystemFonts: false,
    stopAtErrors: false,
  });
  let pdf: Awaited<typeof task.promise>;
  try {
    pdf = await task.promise;
  } catch (error) {
    await task.destroy().catch(() => {});
    const name = (error as { name?: string }).name;
    if (name === 'PasswordException') {
      throw new IngestError('encrypted PDF (password protected); save an unencrypted copy and ingest that');
    }
    throw new IngestError(`corrupt or unreadable PDF: ${(error as Error).message}`);
  }
  try {
    const lines: Line[] = [];
    for (let pageNumber = 1; pageNumber <= pdf.numPages; pageNumber++) {
      const page = await pdf.getPage(pageNumber);
      const content = await page.getTextContent();
      const items: Item[] = [];
      for (const raw of content.items) {
        if (!('str' in raw) || raw.str.trim() === '') continue;
        const [a, b, c, d, e, f] = raw.transform as number[];
        const size = Math.hypot(c ?? 0, d ?? 0) || Math.hypot(a ?? 0, b ?? 0) || raw.height || 10;
        items.push({ text: raw.str, x: e ?? 0, y: f ?? 0, width: raw.width, size });
      }
      lines.push(...groupLines(items, pageNumber));
      page.cleanup();
    }
    const metadata: Record<string, string | number | boolean> = { format: 'pdf', pages: pdf.numPages };
    let infoTitle: string | undefined;
    try {
      const info = (await pdf.getMetadata()).info as Record<string, unknown>;
      if (typeof info.Title === 'string' && info.Title.trim()) infoTitle = info.Title.trim();
      if (typeof info.Author === 'string' && info.Author.trim()) metadata.author = info.Author.trim();
    } catch {
      // Broken metadata should not cost the text.
    }
    if (lines.length === 0) {
      throw new IngestError(
        'no extractable text (scanned?); run OCR on it (e.g. ocrmypdf) and ingest the result',
      );
    }
    const { sections, firstHeading } = buildSections(lines);
    return { title: infoTitle ?? firstHeading, sections, metadata };
  } finally {
    await pdf.destroy();
  }
}

function groupLines(items: Item[], page: number): Line[] {
  items.sort((p, q) => q.y - p.y || p.x - q.x);
  const rows: Item[][] = [];
  for (const item of items) {
    const row = rows.at(-1);
    if (row && Math.abs(row[0]!.y - item.y) <= Math.max(row[0]!.size, item.size) * 0.4) row.push(item);
    else rows.push([item]);
  }
  return rows.map((row) => {
    row.sort((p, q) => p.x - q.x);
    const cells: string[] = [];
    let cell = '';
    let end = Number.NEGATIVE_INFINITY;
    let size = 0;
    for (const item of row) {
      const gap = item.x - end;
      if (cell !== '' && gap > item.size * CELL_GAP) {
        cells.push(cell.replace(/\s+/g, ' ').trim());
        cell = '';
      } else if (cell !== '' && gap > item.size * 0.15 && !/\s$/.test(cell) && !/^\s/.test(item.text)) {
        cell += ' ';
      }
      cell += item.text;
      end = item.x + item.width;
      size = Math.max(size, item.size);
    }
    cells.push(cell.replace(/\s+/g, ' ').trim());
    const kept = cells.filter(Boolean);
    return { page, y: row[0]!.y, size, cells: kept, chars: kept.join('').length };
  });
}

function buildSections(lines: Line[]): { sections: Section[]; firstHeading: string | undefined } {
  const body = bodySize(lines);
  const headingSizes = [
    ...new Set(lines.filter((l) => isHeading(l, body)).map((l) => Math.round(l.size * 2) / 2)),
  ].sort((p, q) => q - p);
  const sections: Section[] = [];
  const stack: { level: number; text: string }[] = [];
  let blocks: string[] = [];
  let paragraph = '';
  let table: string[] = [];
  let page = lines[0]!.page;
  let previous: Line | undefined;
  let firstHeading: { text: string } | undefined;
  let headingOnly = false;

  const endParagraph = () => {
    if (paragraph.trim()) blocks.push(paragraph.trim());
    paragraph = '';
    if (table.length > 0) blocks.push(table.join('\n'));
    table = [];
  };
  const endSection = () => {
    endParagraph();
    if (blocks.length > 0)
      sections.push({ headingPath: stack.map((h) => h.text), text: blocks.join('\n\n'), page });
    blocks = [];
  };

  for (const line of lines) {
    if (line.page !== page) {
      endSection();
      page = line.page;
      previous = undefined;
    }
    const text = line.cells.join(' | ');
    if (isHeading(line, body)) {
      const level = headingSizes.indexOf(Math.round(line.size * 2) / 2) + 1;
      const last = stack.at(-1);
      // A heading wrapped over two lines: same size, nothing in between.
      if (
        headingOnly &&
        last &&
        last.level === level &&
        previous &&
        previous.y - line.y <= line.size * PARAGRAPH_GAP
      ) {
        last.text = `${last.text} ${text}`;
      } else {
        endSection();
        while (stack.length > 0 && stack.at(-1)!.level >= level) stack.pop();
        stack.push({ level, text });
      }
      if (firstHeading === undefined) firstHeading = stack[0];
      headingOnly = true;
      previous = line;
      continue;
    }
    headingOnly = false;
    const gap = previous ? previous.y - line.y : 0;
    if (line.cells.length > 1) {
      if (paragraph) endParagraph();
      table.push(text);
    } else {
      if (table.length > 0 || gap > Math.max(previous?.size ?? 0, line.size) * PARAGRAPH_GAP) endParagraph();
      if (paragraph === '') paragraph = text;
      else if (/^([•●▪◦‣∙*–-]|\d+[.)])\s/.test(text)) paragraph += `\n${text}`;
      // A hyphen at a line end splitting a lower-case word is the typesetter's, not the author's.
      else if (/\p{Ll}-$/u.test(paragraph) && /^\p{Ll}/u.test(text))
        paragraph = paragraph.slice(0, -1) + text;
      else paragraph += ` ${text}`;
    }
    previous = line;
  }
  endSection();
  return { sections, firstHeading: firstHeading?.text };
}

/** The font size most of the text is set in. */
function bodySize(lines: Line[]): number {
  const weights = new Map<number, number>();
  for (const line of lines) {
    const size = Math.round(line.size * 2) / 2;
    weights.set(size, (weights.get(size) ?? 0) + line.chars);
  }
  let best = 0;
  let bestWeight = -1;
  for (const [size, weight] of weights) {
    if (weight > bestWeight) [best, bestWeight] = [size, weight];
  }
  return best;
}

function isHeading(line: Line, body: number): boolean {
  return (
    line.cells.length === 1 &&
    line.size >= body * HEADING_RATIO &&
    line.chars <= 150 &&
    /\p{L}/u.test(line.cells[0]!)
  );
}

export const pdfLoader: Loader = {
  format: 'pdf',
  extensions: ['pdf'],
  mediaTypes: ['application/pdf'],
  async load({ bytes, name }): Promise<LoadedRecord[]> {
    const content = await parsePdf(bytes);
    return [{ title: content.title ?? name, sections: content.sections, metadata: content.metadata }];
  },
};
