import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { FeedError } from './feed-parse.ts';

export type FetchFeedOptions = {
  /** Default 15 s: one slow feed must not hold up the run. */
  timeoutMs?: number;
  /** Default 20 MB: a feed larger than this is refused before it is parsed. */
  maxBytes?: number;
  signal?: AbortSignal;
};

export function isHttpUrl(source: string): boolean {
  return /^https?:\/\//i.test(source);
}

/** The text of a feed from an http(s) URL or a file; failures are FeedErrors naming the feed. */
export async function readFeedSource(source: string, options: FetchFeedOptions = {}): Promise<string> {
  const maxBytes = options.maxBytes ?? 20_000_000;
  if (!isHttpUrl(source)) {
    const path = resolve(source.replace(/^file:\/\//, ''));
    const info = await stat(path).catch(() => undefined);
    if (!info?.isFile()) throw new FeedError(source, 'no such file.', 'Check the path in the desk file.');
    if (info.size > maxBytes)
      throw new FeedError(source, `is ${info.size} bytes, over the ${maxBytes}-byte limit.`);
    return readFile(path, 'utf8');
  }
  const timeout = AbortSignal.timeout(options.timeoutMs ?? 15_000);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  let response: Response;
  const get = () =>
    fetch(source, {
      signal,
      headers: {
        accept:
          'application/rss+xml, application/atom+xml, application/feed+json, application/json, application/xml;q=0.9, */*;q=0.5',
        'user-agent': 'attune-editorial/0.1',
      },
    });
  try {
    // A kept-alive connection the server closed while idle resets on reuse; a GET may be repeated.
    response = await get().catch((error) => {
      if ((error as { cause?: { code?: string } }).cause?.code !== 'ECONNRESET') throw error;
      return get();
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    const reason = timeout.aborted
      ? `no answer within ${options.timeoutMs ?? 15_000} ms`
      : `unreachable (${cause ?? (error as Error).message})`;
    throw new FeedError(source, `${reason}.`, 'The feed is tried again on the next poll.');
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw new FeedError(source, `HTTP ${response.status} ${response.statusText}.`);
  }
  const declared = Number(response.headers.get('content-length') ?? 0);
  if (declared > maxBytes) {
    await response.body?.cancel();
    throw new FeedError(source, `is ${declared} bytes, over the ${maxBytes}-byte limit.`);
  }
  const bytes = new Uint8Array(await response.arrayBuffer());
  if (bytes.byteLength > maxBytes)
    throw new FeedError(source, `is ${bytes.byteLength} bytes, over the ${maxBytes}-byte limit.`);
  return new TextDecoder('utf-8').decode(bytes);
}
