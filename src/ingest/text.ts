import { createHash } from 'node:crypto';
import { IngestError } from './ingest-error.ts';

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** JSON with object keys sorted, so equal values always hash the same. */
export function stableStringify(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableStringify(v)}`).join(',')}}`;
}

/**
 * One canonical form for all extracted text, so a file that is re-saved with other line endings
 * or trailing spaces hashes (and chunks) the same.
 */
export function normalizeText(text: string): string {
  return (
    text
      .replace(/^\uFEFF/, '')
      .replace(/\r\n?/g, '\n')
      .normalize('NFC')
      // Control characters other than tab and newline only confuse tokenizers.
      // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping them is the point
      .replace(/[\u0000-\u0008\u000B-\u001F\u007F]/g, '')
      .replace(/[ \t]+$/gm, '')
      .replace(/\n{3,}/g, '\n\n')
      .trim()
  );
}

/** Collapse runs of whitespace (HTML and PDF text) to single spaces. */
export function collapseWhitespace(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

const sniffBytes = 8192;

/**
 * Bytes of a text format to a string. Refuses what is clearly not text (a binary file with a
 * text extension) and invalid UTF-8, rather than indexing replacement characters.
 */
export function decodeText(bytes: Uint8Array, charset?: string): string {
  // A byte-order mark is the one reliable signal that a file is UTF-16, which is otherwise full of NULs.
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return decodeStrict(bytes.subarray(2), 'utf-16le');
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return decodeStrict(bytes.subarray(2), 'utf-16be');
  const head = bytes.subarray(0, sniffBytes);
  let control = 0;
  for (const byte of head) {
    if (byte === 0) {
      throw new IngestError('binary content (NUL bytes) in a text file; is the file extension wrong?');
    }
    if ((byte < 0x20 && byte !== 0x09 && byte !== 0x0a && byte !== 0x0d && byte !== 0x0c) || byte === 0x7f) {
      control++;
    }
  }
  if (head.length > 0 && control / head.length > 0.1) {
    throw new IngestError(
      `binary content (${Math.round((100 * control) / head.length)}% control characters) in a text file; is the file extension wrong?`,
    );
  }
  return decodeStrict(bytes, normalizeCharset(charset));
}

function normalizeCharset(charset: string | undefined): string {
  const label = charset?.trim().toLowerCase();
  return !label || label === 'utf8' ? 'utf-8' : label;
}

function decodeStrict(bytes: Uint8Array, encoding: string): string {
  let decoder: TextDecoder;
  try {
    decoder = new TextDecoder(encoding, { fatal: true });
  } catch {
    throw new IngestError(`unsupported character encoding "${encoding}"; convert the source to UTF-8`);
  }
  try {
    return decoder.decode(bytes);
  } catch {
    const name = encoding === 'utf-8' ? 'UTF-8' : encoding;
    throw new IngestError(
      `not valid ${name} text; convert it to UTF-8 (e.g. iconv -t UTF-8) and ingest again`,
    );
  }
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}
