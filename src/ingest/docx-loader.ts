import { inflateRawSync } from 'node:zlib';
import JSZip from 'jszip';
import { parseHtml } from './html-loader.ts';
import { IngestError } from './ingest-error.ts';
import type { LoadedRecord, Loader } from './loader.ts';
import { formatBytes } from './text.ts';

/** Expansion ratio above which an archive is treated as a zip bomb. Real DOCX files sit far below. */
const MAX_EXPANSION_RATIO = 100;
/** Small archives cannot hurt whatever their ratio, and tiny documents can compress unusually well. */
const RATIO_CHECK_FROM_BYTES = 1024 * 1024;

type ZipEntryInternals = {
  _data?: { uncompressedSize?: number; compressedContent?: unknown; compression?: { magic?: string } };
};

/**
 * DOCX through mammoth to HTML, then the HTML loader, so Word headings become sections and Word
 * tables become rows. The archive's directory is checked before anything is inflated.
 */
export async function parseDocx(bytes: Uint8Array, maxUncompressedBytes: number) {
  let zip: JSZip;
  try {
    zip = await JSZip.loadAsync(bytes);
  } catch (error) {
    throw new IngestError(`not a valid DOCX (zip) file: ${(error as Error).message}`);
  }
  let uncompressed = 0;
  zip.forEach((_path, entry) => {
    // The sizes come from the zip's central directory: known without inflating anything.
    uncompressed += (entry as unknown as ZipEntryInternals)._data?.uncompressedSize ?? 0;
  });
  const ratio = uncompressed / Math.max(1, bytes.length);
  if (
    uncompressed > maxUncompressedBytes ||
    (uncompressed > RATIO_CHECK_FROM_BYTES && ratio > MAX_EXPANSION_RATIO)
  ) {
    throw new IngestError(
      `DOCX expands to ${formatBytes(uncompressed)} (${Math.round(ratio)}:1 compression); refusing a possible zip bomb (limit ${formatBytes(maxUncompressedBytes)}, ratio ${MAX_EXPANSION_RATIO}:1)`,
    );
  }
  if (!zip.file('word/document.xml')) {
    throw new IngestError('not a Word document: word/document.xml is missing from the archive');
  }
  // The directory can lie: count the bytes really inflated, in chunks that are dropped as they
  // come, and stop at the limit, before mammoth inflates the archive for itself.
  await assertInflatesWithin(zip, maxUncompressedBytes, bytes.length);
  const coreTitle = await readCoreTitle(zip);
  const mammoth = (await import('mammoth')).default;
  let html: string;
  try {
    const result = await mammoth.convertToHtml(
      { buffer: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) },
      {
        // Images carry no text here, and inlining them as data URIs would only cost memory.
        convertImage: mammoth.images.imgElement(async () => ({ src: '' })),
        externalFileAccess: false,
      },
    );
    html = result.value;
  } catch (error) {
    throw new IngestError(`unreadable DOCX: ${(error as Error).message}`);
  }
  const content = parseHtml(html);
  return { title: content.title ?? coreTitle, sections: content.sections };
}

/**
 * Inflates every entry with zlib's own output cap, so no entry can produce more than what is left
 * of the budget, whatever its headers say. JSZip would inflate a lying entry whole before noticing
 * that its size does not match.
 */
async function assertInflatesWithin(zip: JSZip, limit: number, archiveBytes: number): Promise<void> {
  const cap = Math.min(limit, Math.max(RATIO_CHECK_FROM_BYTES, archiveBytes * MAX_EXPANSION_RATIO));
  const bomb = () =>
    new IngestError(
      `DOCX inflates past ${formatBytes(cap)} although its directory claims less; refusing a zip bomb (limit ${formatBytes(limit)}, ratio ${MAX_EXPANSION_RATIO}:1)`,
    );
  let total = 0;
  const entries: JSZip.JSZipObject[] = [];
  zip.forEach((_path, entry) => {
    if (!entry.dir) entries.push(entry);
  });
  for (const entry of entries) {
    const data = (entry as unknown as ZipEntryInternals)._data;
    const content = data?.compressedContent;
    if (!(content instanceof Uint8Array)) continue;
    let size: number;
    if (data?.compression?.magic === '\x08\x00') {
      try {
        size = inflateRawSync(content, { maxOutputLength: cap - total + 1 }).length;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw bomb();
        throw new IngestError(`unreadable DOCX: ${(error as Error).message}`);
      }
    } else size = content.length;
    total += size;
    if (total > cap) throw bomb();
  }
}

async function readCoreTitle(zip: JSZip): Promise<string | undefined> {
  const core = zip.file('docProps/core.xml');
  if (!core) return undefined;
  try {
    const xml = await core.async('string');
    const title = /<dc:title>([^<]*)<\/dc:title>/.exec(xml)?.[1]?.trim();
    return title ? decodeXmlEntities(title) : undefined;
  } catch {
    return undefined;
  }
}

function decodeXmlEntities(text: string): string {
  return text
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&');
}

export const docxLoader: Loader = {
  format: 'docx',
  extensions: ['docx'],
  mediaTypes: ['application/vnd.openxmlformats-officedocument.wordprocessingml.document'],
  async load({ bytes, name, options }): Promise<LoadedRecord[]> {
    const content = await parseDocx(bytes, options.maxFileBytes);
    return [{ title: content.title ?? name, sections: content.sections, metadata: { format: 'docx' } }];
  },
};
