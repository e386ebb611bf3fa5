import { extensionOf, loaderForMediaType, loaderForName } from './file-types.ts';
import { failureReason, IngestError } from './ingest-error.ts';
import { loadPath } from './load-path.ts';
import { type LoadResult, runLoader } from './load-result.ts';
import { type LoadOptions, type ResolvedLoadOptions, resolveLoadOptions } from './loader.ts';
import { formatBytes } from './text.ts';

export function isUrl(source: string): boolean {
  return /^https?:\/\//i.test(source);
}

/** A URL's document id: the URL itself without its fragment, which names a place, not a page. */
export function documentIdForUrl(url: string): string {
  const parsed = new URL(url);
  parsed.hash = '';
  return parsed.toString();
}

/**
 * Fetch an http(s) URL (with a timeout and the size limit) and load it with the loader for its
 * Content-Type, falling back to the URL's file extension for generic types.
 */
export async function loadUrl(url: string, options: LoadOptions = {}): Promise<LoadResult[]> {
  const resolved = resolveLoadOptions(options);
  let id: string;
  try {
    id = documentIdForUrl(url);
  } catch {
    return [{ ok: false, source: url, reason: 'not a valid URL' }];
  }
  if (!isUrl(id)) return [{ ok: false, source: url, id, reason: 'only http and https URLs can be loaded' }];
  try {
    const { bytes, contentType, finalUrl } = await fetchBody(id, resolved, options.fetch ?? fetch);
    const mediaType = contentType.split(';')[0]!.trim().toLowerCase();
    const charset = /charset="?([\w-]+)"?/i.exec(contentType)?.[1];
    const name =
      decodeURIComponent(new URL(finalUrl).pathname.split('/').filter(Boolean).at(-1) ?? '') ||
      new URL(finalUrl).host;
    const generic =
      mediaType === '' || mediaType === 'application/octet-stream' || mediaType === 'text/plain';
    const loader =
      (generic && extensionOf(name) ? loaderForName(name) : undefined) ?? loaderForMediaType(mediaType);
    if (!loader) {
      throw new IngestError(`unsupported content type "${mediaType || 'none'}"`);
    }
    return await runLoader({
      loader,
      bytes,
      name,
      ...(charset ? { charset } : {}),
      id,
      source: url,
      options: resolved,
      metadata: { url: id, contentType: mediaType },
    });
  } catch (error) {
    return [{ ok: false, source: url, id, reason: failureReason(error) }];
  }
}

async function fetchBody(
  url: string,
  options: ResolvedLoadOptions,
  fetchImpl: typeof fetch,
): Promise<{ bytes: Uint8Array; contentType: string; finalUrl: string }> {
  const timeout = AbortSignal.timeout(options.fetchTimeoutMs);
  const signal = options.signal ? AbortSignal.any([timeout, options.signal]) : timeout;
  let response: Response;
  try {
    response = await fetchImpl(url, { signal, redirect: 'follow', headers: { accept: '*/*' } });
  } catch (error) {
    throw new IngestError(describeFetchError(error, options.fetchTimeoutMs));
  }
  if (!response.ok) {
    await response.body?.cancel().catch(() => {});
    throw new IngestError(`HTTP ${response.status} ${response.statusText}`.trim());
  }
  const tooLarge = (size: number) =>
    new IngestError(
      `response is ${formatBytes(size)}+, over the ${formatBytes(options.maxFileBytes)} limit; raise maxFileBytes`,
    );
  const declared = Number(response.headers.get('content-length') ?? Number.NaN);
  if (declared > options.maxFileBytes) {
    await response.body?.cancel().catch(() => {});
    throw tooLarge(declared);
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  if (response.body) {
    const reader = response.body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        total += value.byteLength;
        // Content-Length can be absent or wrong; count what actually arrives.
        if (total > options.maxFileBytes) {
          await reader.cancel().catch(() => {});
          throw tooLarge(total);
        }
        chunks.push(value);
      }
    } catch (error) {
      if (IngestError.isInstance(error)) throw error;
      throw new IngestError(describeFetchError(error, options.fetchTimeoutMs));
    }
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return { bytes, contentType: response.headers.get('content-type') ?? '', finalUrl: response.url || url };
}

function describeFetchError(error: unknown, timeoutMs: number): string {
  const name = (error as { name?: string }).name;
  if (name === 'TimeoutError') return `timed out after ${timeoutMs} ms (ETIMEDOUT)`;
  if (name === 'AbortError') return 'aborted';
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  const code = cause?.code ?? (error as { code?: string }).code;
  const message = cause?.message ?? (error as Error).message;
  // fetch refuses ports such as 1, 25 or 6000 outright (the WHATWG "bad port" list).
  if (code === undefined && message === 'bad port') return 'unreachable: port blocked by fetch (bad port)';
  return `unreachable: ${code ?? 'network error'} (${message})`;
}

/** Paths and URLs in one call, as `attune ingest` takes them. */
export async function loadSources(
  sources: string[],
  options: LoadOptions & { onResult?: (result: LoadResult) => void } = {},
): Promise<LoadResult[]> {
  const out: LoadResult[] = [];
  for (const source of sources) {
    if (isUrl(source)) {
      const results = await loadUrl(source, options);
      for (const result of results) options.onResult?.(result);
      out.push(...results);
    } else {
      out.push(...(await loadPath(source, options)));
    }
  }
  return out;
}
