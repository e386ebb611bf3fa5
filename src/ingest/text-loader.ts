import type { LoadedRecord, Loader } from './loader.ts';
import { decodeText } from './text.ts';

/** Plain text: one section, no structure to recover. */
export const textLoader: Loader = {
  format: 'text',
  extensions: ['txt', 'text'],
  mediaTypes: ['text/plain'],
  async load({ bytes, name, charset }): Promise<LoadedRecord[]> {
    const text = decodeText(bytes, charset);
    return [{ title: name, sections: [{ headingPath: [], text }], metadata: { format: 'text' } }];
  },
};
