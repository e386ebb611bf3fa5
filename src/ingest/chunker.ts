import type { Tokenizer } from '../models/model-spec.ts';
import type { Chunk, Document, Section } from './document.ts';
import { sha256Hex } from './text.ts';

export type ChunkOptions = {
  /** The embedding model's tokenizer: bounds and counts are in its tokens. */
  tokenizer: Tokenizer;
  /** Hard upper bound on every chunk's text. Default 256. */
  maxTokens?: number;
  /** Trailing sentences of the previous chunk repeated at the start of the next, when a section is split. Default 32. */
  overlapTokens?: number;
};

/** A piece of text and what joins it to the piece before it within one chunk. */
type Piece = { text: string; joiner: string };

// A fixed locale: segmentation decides chunk text, and chunk ids must not depend on the machine.
const sentenceSegmenter = new Intl.Segmenter('en', { granularity: 'sentence' });

/**
 * Structure-aware, token-bounded chunks. Sections (headings) are never mixed; within a section the
 * text is cut at paragraphs, then list items / table rows, then sentences, then words, then (for
 * one enormous "word") characters, and the pieces are packed greedily. The bound is checked on
 * the final chunk text, since token counts do not add up across joins. Overlap is added where it
 * fits beside the next piece: a paragraph that fills a chunk on its own is not cut to make room.
 */
export function chunkDocument(doc: Document, options: ChunkOptions): Chunk[] {
  const maxTokens = options.maxTokens ?? 256;
  const overlapTokens = Math.max(0, Math.min(options.overlapTokens ?? 32, Math.floor(maxTokens / 2)));
  if (!Number.isInteger(maxTokens) || maxTokens < 8) {
    throw new RangeError(`maxTokens must be an integer of at least 8, got ${maxTokens}`);
  }
  const count = (text: string) => options.tokenizer.countTokens(text);
  const chunks: Chunk[] = [];
  const seen = new Map<string, number>();
  for (const section of doc.sections) {
    for (const text of chunkSection(section, maxTokens, overlapTokens, count)) {
      chunks.push({
        id: chunkId(doc.id, section.headingPath, text, seen),
        docId: doc.id,
        ordinal: chunks.length,
        text,
        headingPath: section.headingPath,
        ...(section.page === undefined ? {} : { page: section.page }),
        tokenCount: count(text),
      });
    }
  }
  return chunks;
}

/**
 * sha256(docId, heading path, text), 32 hex characters. Depends only on the chunk's own section,
 * so editing one section leaves the other sections' ids alone. Identical text under the same
 * heading (repeated boilerplate) gets an occurrence number so ids stay unique within a document.
 */
function chunkId(docId: string, headingPath: string[], text: string, seen: Map<string, number>): string {
  const base = `${docId}\n${headingPath.join(' > ')}\n${text}`;
  const occurrence = seen.get(base) ?? 0;
  seen.set(base, occurrence + 1);
  return sha256Hex(occurrence === 0 ? base : `${base}\n#${occurrence}`).slice(0, 32);
}

function chunkSection(
  section: Section,
  maxTokens: number,
  overlapTokens: number,
  count: (text: string) => number,
): string[] {
  const text = section.text.trim();
  if (text === '') return [];
  if (count(text) <= maxTokens) return [text];
  const pieces = splitToFit(text, '', 0, maxTokens, count);
  const chunks: string[] = [];
  let current = '';
  // An upper bound on count(current): a piece adds at most its own tokens and one for the joiner
  // (tokenizers split at whitespace first). The exact count is taken only when the bound says the
  // chunk may be full, so a 200,000-word paragraph is not re-tokenized once per word.
  let bound = 0;
  for (const piece of pieces) {
    const candidate = current === '' ? piece.text : current + piece.joiner + piece.text;
    const pieceBound = count(piece.text) + 1;
    if (bound + pieceBound <= maxTokens) {
      current = candidate;
      bound += pieceBound;
      continue;
    }
    const exact = count(candidate);
    if (exact <= maxTokens) {
      current = candidate;
      bound = exact;
      continue;
    }
    chunks.push(current);
    // The next chunk opens with the previous one's last sentences, unless that leaves no room.
    const overlap = overlapTokens > 0 ? trailingOverlap(current, overlapTokens, count) : '';
    const seeded = overlap ? overlap + (piece.joiner || ' ') + piece.text : '';
    current = seeded && count(seeded) <= maxTokens ? seeded : piece.text;
    bound = count(current);
  }
  if (current) chunks.push(current);
  return chunks;
}

/** Levels to cut at, coarsest first. */
const levels: Array<(text: string) => Piece[]> = [
  (text) => splitKeeping(text, /\n{2,}/, '\n\n'),
  (text) => (isLineStructured(text) ? splitItems(text) : [{ text, joiner: '\n' }]),
  (text) => sentences(text).map((s) => ({ text: s, joiner: ' ' })),
  (text) => splitKeeping(text, /\s+/, ' '),
];

/** Cut `text` until every piece fits, keeping the first piece's joiner from the caller. */
function splitToFit(
  text: string,
  joiner: string,
  level: number,
  maxTokens: number,
  count: (text: string) => number,
): Piece[] {
  if (count(text) <= maxTokens) return [{ text, joiner }];
  const split = levels[level];
  if (!split) return splitCharacters(text, joiner, maxTokens, count);
  const parts = split(text);
  if (parts.length <= 1) return splitToFit(text, joiner, level + 1, maxTokens, count);
  // No push(...pieces): a 200,000-word paragraph makes 200,000 pieces, and spreading them as
  // arguments overflowed the stack (issue #11).
  const out: Piece[] = [];
  parts.forEach((part, index) => {
    for (const piece of splitToFit(
      part.text,
      index === 0 ? joiner : part.joiner,
      level + 1,
      maxTokens,
      count,
    ))
      out.push(piece);
  });
  return out;
}

function splitKeeping(text: string, separator: RegExp, joiner: string): Piece[] {
  return text
    .split(separator)
    .map((t) => t.trim())
    .filter(Boolean)
    .map((t) => ({ text: t, joiner }));
}

/** Lists and tables: every line (or item with its continuation lines) stands on its own. */
function isLineStructured(text: string): boolean {
  const lines = text.split('\n');
  if (lines.length < 2) return false;
  const structured = lines.filter(
    (l) => /^\s*([-*+•]|\d+[.)])\s/.test(l) || l.includes(' | ') || /^\s*\|/.test(l),
  );
  return structured.length >= lines.length / 2;
}

function splitItems(text: string): Piece[] {
  const items: string[] = [];
  for (const line of text.split('\n')) {
    const continuation = items.length > 0 && /^\s+\S/.test(line) && !/^\s*([-*+•]|\d+[.)])\s/.test(line);
    if (continuation) items[items.length - 1] += `\n${line}`;
    else if (line.trim()) items.push(line);
  }
  return items.map((t) => ({ text: t, joiner: '\n' }));
}

function sentences(text: string): string[] {
  return Array.from(sentenceSegmenter.segment(text), (s) => s.segment.trim()).filter(Boolean);
}

/** Last resort for a run of text with no spaces (a URL, base64, unspaced scripts). */
function splitCharacters(
  text: string,
  joiner: string,
  maxTokens: number,
  count: (text: string) => number,
): Piece[] {
  const chars = Array.from(text);
  const out: Piece[] = [];
  let start = 0;
  // No token spans more than a few dozen characters in practice; searching the whole rest of a
  // 10 MB cell for every chunk re-tokenized megabytes per step (issue #11).
  const window = maxTokens * 32;
  while (start < chars.length) {
    let low = start + 1;
    let high = Math.min(chars.length, start + window);
    // Longest prefix that fits: binary search on the end index.
    while (low < high) {
      const mid = Math.ceil((low + high) / 2);
      if (count(chars.slice(start, mid).join('')) <= maxTokens) low = mid;
      else high = mid - 1;
    }
    out.push({ text: chars.slice(start, low).join(''), joiner: out.length === 0 ? joiner : '' });
    start = low;
  }
  return out;
}

/**
 * The longest run of whole trailing sentences (never the whole chunk) within the overlap budget;
 * trailing words when even the last sentence is too long.
 */
function trailingOverlap(chunk: string, overlapTokens: number, count: (text: string) => number): string {
  const segments = Array.from(sentenceSegmenter.segment(chunk));
  let best = '';
  for (let i = segments.length - 1; i >= 1; i--) {
    const candidate = chunk.slice(segments[i]!.index).trim();
    if (count(candidate) > overlapTokens) break;
    best = candidate;
  }
  if (best) return best;
  const words = chunk.split(/\s+/).filter(Boolean);
  let tail = '';
  for (let i = words.length - 1; i >= 1; i--) {
    const candidate = words.slice(i).join(' ');
    if (count(candidate) > overlapTokens) break;
    tail = candidate;
  }
  return tail;
}
