import type { Section } from './document.ts';
import type { LoadedRecord, Loader } from './loader.ts';
import { decodeText } from './text.ts';

export type MarkdownContent = {
  title: string | undefined;
  sections: Section[];
  metadata: Record<string, string | number | boolean>;
};

/**
 * Markdown to heading-delimited sections. Body text stays Markdown (lists and tables read well
 * as they are); headings move into `headingPath`. Headings inside fenced code are not headings.
 */
export function parseMarkdown(source: string): MarkdownContent {
  const { body, metadata } = splitFrontMatter(source.replace(/\r\n?/g, '\n'));
  const sections: Section[] = [];
  const stack: { level: number; text: string }[] = [];
  let lines: string[] = [];
  let fence: string | undefined;
  let firstH1: string | undefined;

  const flush = () => {
    const text = lines.join('\n').trim();
    if (text) sections.push({ headingPath: stack.map((h) => h.text), text });
    lines = [];
  };
  const heading = (level: number, raw: string) => {
    const text = plainInline(raw);
    if (!text) return;
    flush();
    while (stack.length > 0 && stack.at(-1)!.level >= level) stack.pop();
    stack.push({ level, text });
    if (level === 1 && firstH1 === undefined) firstH1 = text;
  };

  for (const line of body.split('\n')) {
    const fenceMatch = /^ {0,3}(`{3,}|~{3,})/.exec(line);
    if (fence !== undefined) {
      lines.push(line);
      if (fenceMatch && fenceMatch[1]![0] === fence[0] && fenceMatch[1]!.length >= fence.length)
        fence = undefined;
      continue;
    }
    if (fenceMatch) {
      fence = fenceMatch[1]!;
      lines.push(line);
      continue;
    }
    const atx = /^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$/.exec(line);
    if (atx) {
      heading(atx[1]!.length, atx[2] ?? '');
      continue;
    }
    const setext = /^ {0,3}(=+|-+)[ \t]*$/.exec(line);
    const previous = lines.at(-1);
    // "Text\n---" is a level-2 heading; "---" after a blank line is a thematic break.
    if (setext && previous !== undefined && previous.trim() !== '' && isPlainParagraphLine(previous)) {
      let start = lines.length - 1;
      while (start > 0 && lines[start - 1]!.trim() !== '' && isPlainParagraphLine(lines[start - 1]!)) start--;
      const text = lines.splice(start).join(' ');
      heading(setext[1]![0] === '=' ? 1 : 2, text);
      continue;
    }
    lines.push(line);
  }
  flush();
  const title = typeof metadata.title === 'string' ? metadata.title : firstH1;
  return { title, sections, metadata };
}

function isPlainParagraphLine(line: string): boolean {
  return !/^\s*([-*+]|\d+[.)])\s/.test(line) && !line.includes('|') && !/^\s{4,}/.test(line);
}

/** Heading text without Markdown decoration: links, emphasis, code ticks. */
function plainInline(text: string): string {
  return text
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/(?<![\w*`])(\*\*|__|\*|_|`)(\S(?:.*?\S)?)\1(?![\w*`])/g, '$2')
    .replace(/\s+/g, ' ')
    .trim();
}

/** `---` YAML-ish front matter: flat `key: value` scalars only, which is what titles and tags need. */
function splitFrontMatter(text: string): {
  body: string;
  metadata: Record<string, string | number | boolean>;
} {
  const metadata: Record<string, string | number | boolean> = {};
  const match = /^\uFEFF?---\n([\s\S]*?)\n---[ \t]*(?:\n|$)/.exec(text);
  if (!match) return { body: text, metadata };
  for (const line of match[1]!.split('\n')) {
    const kv = /^([A-Za-z_][\w-]*)\s*:\s*(.*?)\s*$/.exec(line);
    if (!kv || kv[2] === '') continue;
    let value: string | number | boolean = kv[2]!.replace(/^(["'])(.*)\1$/, '$2');
    if (value === 'true' || value === 'false') value = value === 'true';
    else if (/^-?\d+(\.\d+)?$/.test(value)) value = Number(value);
    metadata[kv[1]!] = value;
  }
  return { body: text.slice(match[0].length), metadata };
}

export const markdownLoader: Loader = {
  format: 'markdown',
  extensions: ['md', 'markdown', 'mdx'],
  mediaTypes: ['text/markdown', 'text/x-markdown'],
  async load({ bytes, name, charset }): Promise<LoadedRecord[]> {
    const content = parseMarkdown(decodeText(bytes, charset));
    return [
      {
        title: content.title ?? name,
        sections: content.sections,
        metadata: { ...content.metadata, format: 'markdown' },
      },
    ];
  },
};
