import { csvLoader } from './csv-loader.ts';
import { docxLoader } from './docx-loader.ts';
import { htmlLoader } from './html-loader.ts';
import { jsonLoader, jsonlLoader } from './json-loader.ts';
import type { Loader } from './loader.ts';
import { markdownLoader } from './markdown-loader.ts';
import { pdfLoader } from './pdf-loader.ts';
import { textLoader } from './text-loader.ts';

export const loaders: readonly Loader[] = [
  markdownLoader,
  textLoader,
  htmlLoader,
  pdfLoader,
  docxLoader,
  csvLoader,
  jsonLoader,
  jsonlLoader,
];

export const supportedExtensions: readonly string[] = loaders.flatMap((l) => l.extensions);

export function extensionOf(name: string): string {
  const match = /\.([^./\\]+)$/.exec(name);
  return match ? match[1]!.toLowerCase() : '';
}

export function loaderForName(name: string): Loader | undefined {
  const extension = extensionOf(name);
  return loaders.find((l) => l.extensions.includes(extension));
}

export function loaderForMediaType(mediaType: string): Loader | undefined {
  const type = mediaType.split(';')[0]!.trim().toLowerCase();
  return loaders.find((l) => l.mediaTypes.includes(type));
}
