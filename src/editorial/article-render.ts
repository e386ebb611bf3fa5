import JSZip from 'jszip';
import type { Article, Draft } from './draft-record.ts';

const cite = (sources: number[]) => (sources.length ? ` ${sources.map((n) => `[${n}]`).join('')}` : '');

/** The article as Markdown, citations as [n] and a numbered source list with links. */
export function articleMarkdown(article: Article, sources: Draft['sources'] = []): string {
  const lines = [`# ${article.headline}`, '', `**${article.lead.text}**${cite(article.lead.sources)}`, ''];
  for (const p of article.paragraphs) lines.push(`${p.text}${cite(p.sources)}`, '');
  if (article.insights.length) {
    lines.push('## Insights', '');
    for (const p of article.insights) lines.push(`- ${p.text}${cite(p.sources)}`);
    lines.push('');
  }
  if (sources.length) {
    lines.push('## Sources', '');
    for (const s of sources)
      lines.push(
        `${s.n}. ${s.link ? `[${s.title}](${s.link})` : s.title}${s.published ? ` (${s.published.slice(0, 10)})` : ''}`,
      );
    lines.push('');
  }
  return lines.join('\n');
}

function xml(text: string): string {
  return (
    text
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;')
      // biome-ignore lint/suspicious/noControlCharactersInRegex: XML 1.0 forbids these characters
      .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F]/g, '')
  );
}

const paragraph = (text: string, style?: string, bold = false) =>
  `<w:p>${style ? `<w:pPr><w:pStyle w:val="${style}"/></w:pPr>` : ''}<w:r>${bold ? '<w:rPr><w:b/></w:rPr>' : ''}<w:t xml:space="preserve">${xml(text)}</w:t></w:r></w:p>`;

/**
 * The article as a minimal WordprocessingML package (document, styles, relationships), which Word
 * and Google Docs import. Written with jszip: no DOCX writer is installed.
 */
export async function articleDocx(article: Article, sources: Draft['sources'] = []): Promise<Uint8Array> {
  const body = [
    paragraph(article.headline, 'Title'),
    paragraph(`${article.lead.text}${cite(article.lead.sources)}`, undefined, true),
    ...article.paragraphs.map((p) => paragraph(`${p.text}${cite(p.sources)}`)),
    ...(article.insights.length
      ? [
          paragraph('Insights', 'Heading1'),
          ...article.insights.map((p) => paragraph(`• ${p.text}${cite(p.sources)}`)),
        ]
      : []),
    ...(sources.length
      ? [
          paragraph('Sources', 'Heading1'),
          ...sources.map((s) => paragraph(`[${s.n}] ${s.title}${s.link ? ` — ${s.link}` : ''}`)),
        ]
      : []),
  ].join('');
  const ns = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"';
  const zip = new JSZip();
  zip.file(
    '[Content_Types].xml',
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/><Override PartName="/word/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.styles+xml"/></Types>',
  );
  zip.file(
    '_rels/.rels',
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>',
  );
  zip.file(
    'word/_rels/document.xml.rels',
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/></Relationships>',
  );
  zip.file(
    'word/styles.xml',
    `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:styles ${ns}><w:style w:type="paragraph" w:default="1" w:styleId="Normal"><w:name w:val="Normal"/></w:style><w:style w:type="paragraph" w:styleId="Title"><w:name w:val="Title"/><w:basedOn w:val="Normal"/><w:rPr><w:b/><w:sz w:val="48"/></w:rPr></w:style><w:style w:type="paragraph" w:styleId="Heading1"><w:name w:val="heading 1"/><w:basedOn w:val="Normal"/><w:rPr><w:b/><w:sz w:val="32"/></w:rPr></w:style></w:styles>`,
  );
  zip.file(
    'word/document.xml',
    `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document ${ns}><w:body>${body}<w:sectPr/></w:body></w:document>`,
  );
  return zip.generateAsync({ type: 'uint8array', compression: 'DEFLATE' });
}
