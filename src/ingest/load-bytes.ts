import { loaderForMediaType, loaderForName } from './file-types.ts';
import { type LoadResult, runLoader } from './load-result.ts';
import { type LoadOptions, resolveLoadOptions } from './loader.ts';
import { formatBytes } from './text.ts';

export type LoadBytesInput = {
  bytes: Uint8Array;
  /** File name: picks the loader by extension and is the title fallback. */
  name: string;
  /** Document id; default the name. */
  id?: string;
  /** Where it came from, for citations; default the name. */
  source?: string;
  /** Used when the name has no known extension. */
  mediaType?: string;
};

/** Content that is already in memory (an upload, an API call): same loaders, ACLs and results as files. */
export async function loadBytes(input: LoadBytesInput, options: LoadOptions = {}): Promise<LoadResult[]> {
  const resolved = resolveLoadOptions(options);
  const id = input.id ?? input.name;
  const source = input.source ?? input.name;
  const loader =
    loaderForName(input.name) ?? (input.mediaType ? loaderForMediaType(input.mediaType) : undefined);
  if (!loader) return [{ ok: false, source, id, reason: `unsupported file type for "${input.name}"` }];
  if (input.bytes.length > resolved.maxFileBytes) {
    return [
      {
        ok: false,
        source,
        id,
        reason: `content is ${formatBytes(input.bytes.length)}, over the ${formatBytes(resolved.maxFileBytes)} limit; raise maxFileBytes`,
      },
    ];
  }
  const charset = input.mediaType ? /charset="?([\w-]+)"?/i.exec(input.mediaType)?.[1] : undefined;
  return runLoader({
    loader,
    bytes: input.bytes,
    name: input.name,
    ...(charset ? { charset } : {}),
    id,
    source,
    options: resolved,
  });
}
