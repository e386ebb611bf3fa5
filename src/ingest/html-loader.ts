import { HTMLElement, type Node, NodeType, parse } from 'node-html-parser';
import type { Section } from './document.ts';
import type { LoadedRecord, Loader } from './loader.ts';
import { collapseWhitespace, decodeText } from './text.ts';

/** Never content: code, styling, embedded objects. */
const DROPPED =
  'script, style, noscript, template, svg, canvas, iframe, object, embed, nav, [hidden], [role=navigation]';
/** Page chrome when outside the content; an article's own <header> often holds its title, so it stays. */
const CHROME = 'header, footer';
const CONTENT_CONTAINERS = new Set(['article', 'main', 'section']);

const BLOCK = new Set([
  'address',
  'article',
  'aside',
  'blockquote',
  'body',
  'dd',
  'details',
  'dialog',
  'div',
  'dl',
  'dt',
  'fieldset',
  'figcaption',
  'figure',
  'footer',
  'form',
  'header',
  'hr',
  'html',
  'li',
  'main',
  'p',
  'section',
  'summary',
  'caption',
  'tr',
  'td',
  'th',
]);

export type HtmlContent = {
  /** <title>, else the first <h1>. */
  title: string | undefined;
  sections: Section[];
  metadata: Record<string, string | number | boolean>;
};

/**
 * HTML to heading-delimited sections. Scripts, styles and navigation go; headings become the
 * heading path; lists become "- item" lines and tables "cell | cell" rows, so their structure
 * survives as text.
 */
export function parseHtml(html: string): HtmlContent {
  const root = parse(html, {
    comment: false,
    blockTextElements: { script: true, noscript: true, style: true, pre: true },
  });
  for (const element of root.querySelectorAll(DROPPED)) element.remove();
  for (const element of root.querySelectorAll(CHROME)) {
    if (!hasAncestor(element, CONTENT_CONTAINERS)) element.remove();
  }
  const metadata: Record<string, string | number | boolean> = {};
  const lang = root.querySelector('html')?.getAttribute('lang');
  if (lang) metadata.language = lang;
  const description = root.querySelector('meta[name=description]')?.getAttribute('content');
  if (description) metadata.description = collapseWhitespace(description);
  const titleElement = root.querySelector('title');
  const documentTitle = titleElement ? collapseWhitespace(titleElement.text) : '';
  root.querySelector('head')?.remove();
  titleElement?.remove();

  const builder = new SectionBuilder();
  walk(root.querySelector('body') ?? root, builder);
  builder.finish();
  return { title: documentTitle || builder.firstH1, sections: builder.sections, metadata };
}

function hasAncestor(element: HTMLElement, tags: Set<string>): boolean {
  for (let node = element.parentNode; node; node = node.parentNode) {
    if (tags.has(node.rawTagName?.toLowerCase())) return true;
  }
  return false;
}

class SectionBuilder {
  readonly sections: Section[] = [];
  firstH1: string | undefined;
  #stack: { level: number; text: string }[] = [];
  #blocks: string[] = [];
  #inline = '';

  text(value: string): void {
    this.#inline += value;
  }

  lineBreak(): void {
    this.#inline += '\n';
  }

  /** End of a block element: what was collected inline becomes a paragraph. */
  endBlock(): void {
    const text = this.#inline
      .split('\n')
      .map((line) => collapseWhitespace(line))
      .filter(Boolean)
      .join('\n');
    if (text) this.#blocks.push(text);
    this.#inline = '';
  }

  block(text: string): void {
    this.endBlock();
    if (text.trim()) this.#blocks.push(text);
  }

  heading(level: number, text: string): void {
    this.endSection();
    if (!text) return;
    while (this.#stack.length > 0 && this.#stack.at(-1)!.level >= level) this.#stack.pop();
    this.#stack.push({ level, text });
    if (level === 1 && this.firstH1 === undefined) this.firstH1 = text;
  }

  finish(): void {
    this.endSection();
  }

  private endSection(): void {
    this.endBlock();
    if (this.#blocks.length > 0) {
      this.sections.push({ headingPath: this.#stack.map((h) => h.text), text: this.#blocks.join('\n\n') });
    }
    this.#blocks = [];
  }
}

function walk(node: Node, out: SectionBuilder): void {
  if (node.nodeType === NodeType.TEXT_NODE) {
    out.text(node.text);
    return;
  }
  if (!(node instanceof HTMLElement)) return;
  const tag = node.rawTagName?.toLowerCase() ?? '';
  const heading = /^h([1-6])$/.exec(tag);
  if (heading) {
    out.heading(Number(heading[1]), inlineText(node));
    return;
  }
  switch (tag) {
    case 'br':
      out.lineBreak();
      return;
    case 'ul':
    case 'ol':
      out.block(renderList(node, 0));
      return;
    case 'table':
      out.block(renderTable(node));
      return;
    case 'pre':
      out.block(node.text.replace(/\s+$/, ''));
      return;
  }
  const block = BLOCK.has(tag);
  if (block) out.endBlock();
  for (const child of node.childNodes) walk(child, out);
  if (block) out.endBlock();
}

/** Text of an element on one line, with spaces where block children meet. */
function inlineText(node: Node): string {
  const parts: string[] = [];
  const collect = (current: Node) => {
    if (current.nodeType === NodeType.TEXT_NODE) {
      parts.push(current.text);
      return;
    }
    if (!(current instanceof HTMLElement)) return;
    const tag = current.rawTagName?.toLowerCase() ?? '';
    const separate = tag === 'br' || BLOCK.has(tag) || /^h[1-6]$/.test(tag) || tag === 'ul' || tag === 'ol';
    if (separate) parts.push(' ');
    for (const child of current.childNodes) collect(child);
    if (separate) parts.push(' ');
  };
  collect(node);
  return collapseWhitespace(parts.join(''));
}

function renderList(list: HTMLElement, depth: number): string {
  const ordered = list.rawTagName.toLowerCase() === 'ol';
  const start = Number(list.getAttribute('start') ?? '1');
  const lines: string[] = [];
  let index = Number.isFinite(start) ? start : 1;
  for (const item of list.childNodes) {
    if (!(item instanceof HTMLElement) || item.rawTagName.toLowerCase() !== 'li') continue;
    const nested: HTMLElement[] = [];
    const own: string[] = [];
    for (const child of item.childNodes) {
      const tag = child instanceof HTMLElement ? child.rawTagName.toLowerCase() : '';
      if (tag === 'ul' || tag === 'ol') nested.push(child as HTMLElement);
      else own.push(child instanceof HTMLElement ? ` ${inlineText(child)} ` : child.text);
    }
    const marker = ordered ? `${index++}.` : '-';
    const text = collapseWhitespace(own.join(''));
    if (text) lines.push(`${'  '.repeat(depth)}${marker} ${text}`);
    for (const child of nested) lines.push(renderList(child, depth + 1));
  }
  return lines.filter(Boolean).join('\n');
}

function renderTable(table: HTMLElement): string {
  const lines: string[] = [];
  const caption = table.querySelector('caption');
  if (caption) lines.push(inlineText(caption));
  // Rows of this table only, not of tables nested in its cells.
  const rows = table.querySelectorAll('tr').filter((row) => closestTable(row) === table);
  for (const row of rows) {
    const cells = row.childNodes
      .filter((c): c is HTMLElement => c instanceof HTMLElement && /^t[dh]$/i.test(c.rawTagName))
      .map((cell) => inlineText(cell));
    if (cells.some(Boolean)) lines.push(cells.join(' | '));
  }
  return lines.join('\n');
}

function closestTable(element: HTMLElement): HTMLElement | undefined {
  for (let node = element.parentNode; node; node = node.parentNode) {
    if (node.rawTagName?.toLowerCase() === 'table') return node;
  }
  return undefined;
}

export const htmlLoader: Loader = {
  format: 'html',
  extensions: ['html', 'htm', 'xhtml'],
  mediaTypes: ['text/html', 'application/xhtml+xml'],
  async load({ bytes, name, charset }): Promise<LoadedRecord[]> {
    const content = parseHtml(decodeText(bytes, charset ?? sniffCharset(bytes)));
    return [
      {
        title: content.title ?? name,
        sections: content.sections,
        metadata: { ...content.metadata, format: 'html' },
      },
    ];
  },
};

/** `<meta charset>` in the first bytes, for saved pages that are not UTF-8. */
function sniffCharset(bytes: Uint8Array): string | undefined {
  const head = new TextDecoder('latin1').decode(bytes.subarray(0, 2048));
  return /<meta[^>]+charset=["']?([\w-]+)/i.exec(head)?.[1];
}
