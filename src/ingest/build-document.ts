import { normalizeAcl } from './acl.ts';
import type { Acl, Document, Section } from './document.ts';
import { IngestError } from './ingest-error.ts';
import { normalizeText, sha256Hex, stableStringify } from './text.ts';

export type DocumentParts = {
  id: string;
  source: string;
  title: string;
  sections: Section[];
  metadata: Record<string, string | number | boolean>;
  acl: Acl;
};

/** Normalises what a loader produced and derives the whole text and the content hash. */
export function buildDocument(parts: DocumentParts): Document {
  const sections: Section[] = [];
  for (const section of parts.sections) {
    const text = normalizeText(section.text);
    if (text === '') continue;
    const headingPath = section.headingPath.map((h) => normalizeText(h).replace(/\s+/g, ' ')).filter(Boolean);
    sections.push(
      section.page === undefined ? { headingPath, text } : { headingPath, text, page: section.page },
    );
  }
  if (sections.length === 0) throw new IngestError('no text found in the document');
  const title = normalizeText(parts.title).replace(/\s+/g, ' ') || parts.id;
  const acl = normalizeAcl(parts.acl);
  const text = joinSections(sections);
  const contentHash = sha256Hex(
    stableStringify({
      title,
      text,
      // Heading paths and pages reach chunks and citations, so a change there is a change.
      structure: sections.map((s) => [s.headingPath, s.page ?? null]),
      metadata: parts.metadata,
      acl,
    }),
  );
  return {
    id: parts.id,
    source: parts.source,
    title,
    text,
    sections,
    metadata: parts.metadata,
    acl,
    contentHash,
  };
}

/** The readable whole: each section under its own heading, when it starts a new one. */
function joinSections(sections: Section[]): string {
  const out: string[] = [];
  let previous: string[] = [];
  for (const section of sections) {
    const heading = section.headingPath.at(-1);
    const same =
      previous.length === section.headingPath.length &&
      previous.every((h, i) => h === section.headingPath[i]);
    if (heading !== undefined && !same) out.push(heading);
    out.push(section.text);
    previous = section.headingPath;
  }
  return out.join('\n\n');
}
