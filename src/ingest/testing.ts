import JSZip from 'jszip';
import { PDFDocument, StandardFonts } from 'pdf-lib';

/*
 * Builders for real files of each binary format, for tests in any module: a real PDF written
 * by pdf-lib and a real OOXML package, rather than checked-in blobs nobody can read.
 */

/** Two pages: a heading, body text, a three-column table on page 1, a sub-heading and text on page 2. */
export async function makePdf(options: { title?: string } = {}): Promise<Uint8Array> {
  const pdf = await PDFDocument.create();
  if (options.title) pdf.setTitle(options.title);
  const font = await pdf.embedFont(StandardFonts.Helvetica);
  const bold = await pdf.embedFont(StandardFonts.HelveticaBold);
  const page1 = pdf.addPage([612, 792]);
  page1.drawText('Refund Policy', { x: 72, y: 720, size: 22, font: bold });
  page1.drawText('Customers may request a refund within 30 days of purchase.', {
    x: 72,
    y: 690,
    size: 11,
    font,
  });
  page1.drawText('Refunds are paid to the original payment method.', { x: 72, y: 676, size: 11, font });
  const rows = [
    ['Plan', 'Window', 'Fee'],
    ['Monthly', '14 days', 'none'],
    ['Annual', '30 days', '5%'],
  ];
  rows.forEach((row, r) => {
    row.forEach((cell, c) => {
      page1.drawText(cell, { x: 72 + c * 150, y: 640 - r * 16, size: 11, font });
    });
  });
  const page2 = pdf.addPage([612, 792]);
  page2.drawText('Exceptions', { x: 72, y: 720, size: 16, font: bold });
  page2.drawText('Gift cards cannot be refunded.', { x: 72, y: 690, size: 11, font });
  return pdf.save();
}

/** A valid PDF whose pages carry no text layer, like a scan. */
export async function makeImageOnlyPdf(): Promise<Uint8Array> {
  const pdf = await PDFDocument.create();
  const page = pdf.addPage([612, 792]);
  page.drawRectangle({ x: 72, y: 600, width: 200, height: 100 });
  return pdf.save();
}

/**
 * A PDF with a standard security handler and a user password: pdf-lib cannot encrypt, so the
 * file is written by hand, with an /Encrypt dictionary whose /U entry the empty password misses.
 */
export function makeEncryptedPdf(): Uint8Array {
  const hex = (byte: number) => byte.toString(16).padStart(2, '0');
  const o = Array.from({ length: 32 }, (_, i) => hex((i * 37 + 11) & 0xff)).join('');
  const u = Array.from({ length: 32 }, (_, i) => hex((i * 53 + 7) & 0xff)).join('');
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>',
    `<< /Filter /Standard /V 1 /R 2 /O <${o}> /U <${u}> /P -44 >>`,
  ];
  let body = '%PDF-1.4\n';
  const offsets: number[] = [];
  objects.forEach((object, i) => {
    offsets.push(body.length);
    body += `${i + 1} 0 obj\n${object}\nendobj\n`;
  });
  const xref = body.length;
  body += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const offset of offsets) body += `${String(offset).padStart(10, '0')} 00000 n \n`;
  const id = '0123456789abcdef0123456789abcdef';
  body += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R /Encrypt 4 0 R /ID [<${id}> <${id}>] >>\nstartxref\n${xref}\n%%EOF\n`;
  return new TextEncoder().encode(body);
}

const W = 'http://schemas.openxmlformats.org/wordprocessingml/2006/main';

function paragraph(text: string, style?: string): string {
  const props = style ? `<w:pPr><w:pStyle w:val="${style}"/></w:pPr>` : '';
  return `<w:p>${props}<w:r><w:t xml:space="preserve">${text}</w:t></w:r></w:p>`;
}

function table(rows: string[][]): string {
  const cells = (row: string[]) => row.map((c) => `<w:tc>${paragraph(c)}</w:tc>`).join('');
  return `<w:tbl>${rows.map((r) => `<w:tr>${cells(r)}</w:tr>`).join('')}</w:tbl>`;
}

/** A minimal but real DOCX: styles with Heading1/Heading2, headings, paragraphs and a table. */
export async function makeDocx(): Promise<Uint8Array> {
  const zip = new JSZip();
  zip.file(
    '[Content_Types].xml',
    `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
<Default Extension="xml" ContentType="application/xml"/>
<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>
<Override PartName="/word/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.styles+xml"/>
</Types>`,
  );
  zip.file(
    '_rels/.rels',
    `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/>
</Relationships>`,
  );
  zip.file(
    'word/_rels/document.xml.rels',
    `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>
</Relationships>`,
  );
  const style = (id: string, name: string) =>
    `<w:style w:type="paragraph" w:styleId="${id}"><w:name w:val="${name}"/></w:style>`;
  zip.file(
    'word/styles.xml',
    `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:styles xmlns:w="${W}">${style('Heading1', 'heading 1')}${style('Heading2', 'heading 2')}</w:styles>`,
  );
  const body = [
    paragraph('Employee Handbook', 'Heading1'),
    paragraph('Welcome to the company.'),
    paragraph('Leave', 'Heading2'),
    paragraph('Everyone gets 25 days of annual leave.'),
    table([
      ['Type', 'Days'],
      ['Annual', '25'],
      ['Sick', '10'],
    ]),
    paragraph('Expenses', 'Heading2'),
    paragraph('Submit receipts within 60 days.'),
  ].join('');
  zip.file(
    'word/document.xml',
    `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:document xmlns:w="${W}"><w:body>${body}</w:body></w:document>`,
  );
  return zip.generateAsync({ type: 'uint8array', compression: 'DEFLATE' });
}

/** A DOCX-shaped archive whose document.xml inflates to `bytes` of repetition: a small zip bomb. */
export async function makeZipBombDocx(bytes: number): Promise<Uint8Array> {
  const zip = new JSZip();
  zip.file('[Content_Types].xml', '<Types/>');
  zip.file('word/document.xml', 'A'.repeat(bytes));
  return zip.generateAsync({ type: 'uint8array', compression: 'DEFLATE', compressionOptions: { level: 9 } });
}
